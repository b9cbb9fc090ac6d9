"""A language model reads the user's history as text; ψ_t is its state at the end of item ``t``'s text.

The founding document's method done properly: p(i | u) = softmax(W_i · ψ_u), with ψ_u from a
language model over what the user consumed (titles, genres: any item template) rather than over
item ids. Each history item is rendered by ``template``, tokenised once (at most ``item_tokens``
tokens) and followed by a separator; the LM runs over the whole rendered history in one pass, and
the hidden state at item ``t``'s separator, projected to ``dim``, is ψ_t. A causal LM makes every
ψ_t depend on items ``<= t`` only, so all positions train at once, as in SASRec. W comes from the
shared item encoder (``items``: ID, frozen text, attributes, vectors).
Radford et al., "Language Models are Unsupervised Multitask Learners", 2019 (GPT-2, built from a
config here or loaded with ``from_pretrained``); the history-as-text idea as in P5 (Geng et al.,
RecSys 2022) and TALLRec (Bao et al., RecSys 2023). No reference implementation matches this exact
scoring; its contract is checked by the shared backbone tests.
NOTE: only causal (decoder-only) models are accepted: a bidirectional encoder such as MiniLM would
let ψ_t read later items. Padding inside an item's token chunk is masked and skipped by the position
ids, so a title's length never shifts the positions of later items.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from recframe.backbones.contract import catalogue_scores, last_query
from recframe.data.datamodule import DataSpec
from recframe.data.interactions import PAD
from recframe.text.items import item_table
from recframe.text.templates import render


def causal_lm(
    model: str, tokenizer: str | None, n_positions: int, lm_dim: int, layers: int, heads: int, dropout: float
):
    """``(tokenizer, transformer)``: a GPT-2 built from config (``model="gpt2"``) or a pretrained causal LM."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    from recframe.text.encoder import gpt2_from_config, minilm_path

    if model == "gpt2":
        tok = AutoTokenizer.from_pretrained(str(Path(tokenizer) if tokenizer else minilm_path()))
        return tok, gpt2_from_config(len(tok), tok.pad_token_id, n_positions, lm_dim, layers, heads, dropout)
    try:
        tok, lm = AutoTokenizer.from_pretrained(tokenizer or model), AutoModel.from_pretrained(model)
    except OSError as err:
        raise OSError(
            f"cannot load language model {model!r}: give 'gpt2', a local folder or a hub name ({err})"
        ) from err
    kind = lm.config.model_type
    if kind in MODEL_FOR_MASKED_LM_MAPPING_NAMES and not getattr(lm.config, "is_decoder", False):
        raise ValueError(
            f"lm needs a causal (decoder-only) language model; {model!r} is a {kind!r} encoder whose states "
            "read later items. Use a bidirectional encoder for item text (backbone.items.text) instead"
        )
    if getattr(lm.config, "max_position_embeddings", n_positions) < n_positions:
        raise ValueError(f"{model!r} has {lm.config.max_position_embeddings} positions < max_len x (item_tokens + 1)")
    return tok, lm


def with_lora(
    lm: nn.Module, *, r: int = 8, alpha: float = 16.0, dropout: float = 0.0, targets: list[str] | None = None
) -> nn.Module:
    """``lm`` wrapped in LoRA adapters (its own weights frozen), via ``peft``."""
    try:
        from peft import LoraConfig, get_peft_model
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError("backbone.lora needs the peft package: pip install peft") from err
    if r < 1:
        raise ValueError(f"lora r must be >= 1, got {r}")
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, bias="none")
    return get_peft_model(lm, config)


def token_chunks(tokenizer, texts: list[str], width: int) -> tuple[Tensor, Tensor]:
    """Each text's token ids ``[N, width + 1]`` (at most ``width`` tokens, right-padded, then a separator)
    and their real-token mask; the separator is the tokenizer's, or its end-of-text token."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    sep = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    if sep is None:
        raise ValueError("the tokenizer has neither a separator nor an end-of-text token")
    ids = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=width)["input_ids"]
    tokens = torch.full((len(texts), width + 1), pad, dtype=torch.long)
    real = torch.zeros(len(texts), width + 1, dtype=torch.bool)
    for row, part in enumerate(ids):
        tokens[row, : len(part)], real[row, : len(part)] = torch.tensor(part, dtype=torch.long), True
    tokens[:, -1], real[:, -1] = sep, True
    return tokens, real


class LM(nn.Module):
    """History rendered as text -> causal LM -> state at each item's separator -> linear -> ``[B, T, D]``.

    Args:
        spec: dataset facts and the item table (rendered with ``template``).
        dim: size of ψ and of the item vectors W.
        model: ``gpt2`` (built from config) or a causal LM's folder / hub name.
        template: how one history item reads (see :mod:`recframe.text.templates`).
        item_tokens: tokens kept per item text.
        lm_dim / layers / heads / dropout: size of a GPT-2 built from config.
        tokenizer: tokenizer folder (default: MiniLM's WordPiece for ``gpt2``, the model's own otherwise).
        items: the item encoder settings of W (:mod:`recframe.text.items`); None = an ID table.
        lora: fine-tune the LM through LoRA adapters (``peft``; ``pip install peft``) instead of all
            its weights: ``{r: 8, alpha: 16, dropout: 0.0, targets: [c_attn]}`` (targets default to
            peft's choice for the model type). The base weights stay frozen. None = full training.
    """

    sequential: ClassVar[bool] = True

    def __init__(
        self,
        spec: DataSpec,
        *,
        dim: int = 64,
        model: str = "gpt2",
        template: str = "{title}",
        item_tokens: int = 16,
        lm_dim: int = 64,
        layers: int = 2,
        heads: int = 2,
        dropout: float = 0.1,
        tokenizer: str | None = None,
        items: dict[str, Any] | None = None,
        lora: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if item_tokens < 1:
            raise ValueError(f"lm item_tokens must be >= 1, got {item_tokens}")
        width = item_tokens + 1  # the item's tokens and its separator
        self.tokenizer, self.lm = causal_lm(model, tokenizer, spec.max_len * width, lm_dim, layers, heads, dropout)
        texts, _ = render(spec.item_info, template, spec.n_items)
        tokens, real = token_chunks(self.tokenizer, texts, item_tokens)
        self.register_buffer("item_tokens", tokens, persistent=False)  # [I, L+1]
        self.register_buffer("item_real", real, persistent=False)  # [I, L+1]
        if lora is not None:
            self.lm = with_lora(self.lm, **lora)
        self.project = nn.Linear(self.lm.config.hidden_size, dim)
        self.items = item_table(spec, dim, items, init=lambda w: nn.init.normal_(w, std=0.02))
        if items is None:
            nn.init.normal_(self.items.weight, std=0.02)
            self.items.weight.data[PAD] = 0.0

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        history = batch["history"]  # [B, T]
        B, T = history.shape
        width = self.item_tokens.shape[1]
        tokens = self.item_tokens[history].view(B, T * width)  # [B, S]
        real = (self.item_real[history] & (history != PAD).unsqueeze(-1)).view(B, T * width)  # [B, S]
        positions = (real.long().cumsum(1) - 1).clamp(min=0)
        out = self.lm(input_ids=tokens, attention_mask=real.long(), position_ids=positions, use_cache=False)
        hidden = out.last_hidden_state  # [B, S, H]
        at_separator = hidden.view(B, T, width, -1)[:, :, -1]  # [B, T, H]
        return self.project(at_separator)  # [B, T, D]

    def item_embeddings(self) -> Tensor:
        return self.items.weight

    def query(self, batch: dict[str, Tensor]) -> Tensor:
        return last_query(self(batch), batch)  # [B, D]

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        return catalogue_scores(self.query(batch), self.item_embeddings())
