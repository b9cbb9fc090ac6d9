"""A GPT-2 decoder over item embeddings: Hugging Face ``GPT2Model`` fed through ``inputs_embeds``.

Radford et al., "Language Models are Unsupervised Multitask Learners", 2019; used for sequential
recommendation as in Transformers4Rec (Moreira et al., RecSys 2021). The transformer is the
unmodified ``transformers.GPT2Model``; recframe only adds its own item table, fed as input
embeddings and reused as the output item vectors W.
NOTE: ``vocab_size=1``: GPT-2's token table is unused; ids never reach it.
NOTE: no ``attention_mask`` is passed: histories are right-padded, so causal attention alone keeps
every real position from seeing padding, and the fused causal SDPA kernel applies.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn

from recframe.backbones.contract import catalogue_scores, last_query
from recframe.data.datamodule import DataSpec
from recframe.data.interactions import PAD
from recframe.text.items import item_table


def _gpt2_config(spec: DataSpec, dim: int, layers: int, heads: int, dropout: float, inner: int | None):
    """Translate recframe's vocabulary (dim, layers, heads, ...) to ``GPT2Config`` names, in one place."""
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=1,
        n_positions=spec.max_len,
        n_embd=dim,
        n_layer=layers,
        n_head=heads,
        n_inner=inner,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
        use_cache=False,
        bos_token_id=None,
        eos_token_id=None,
        attn_implementation="sdpa",
    )


class GPT2(nn.Module):
    """Item embeddings -> ``GPT2Model`` -> queries ``[B, T, D]``.

    Args:
        spec: dataset facts (``n_items``, ``max_len``).
        dim: embedding size (GPT-2's ``n_embd``); taken from the checkpoint when ``pretrained``.
        layers / heads / inner: GPT-2's ``n_layer`` / ``n_head`` / ``n_inner`` (None = 4 * dim).
        dropout: residual, embedding and attention dropout.
        pretrained: a Hugging Face model name or local folder; loads its transformer weights with
            ``GPT2Model.from_pretrained`` instead of building a fresh one from the other arguments.
        items: item side information fused into W (:mod:`recframe.text.items`); None = ID table only.
    """

    sequential: ClassVar[bool] = True

    def __init__(
        self,
        spec: DataSpec,
        *,
        dim: int = 64,
        layers: int = 2,
        heads: int = 2,
        dropout: float = 0.1,
        inner: int | None = None,
        pretrained: str | None = None,
        items: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        from transformers import GPT2Model

        if pretrained:
            try:
                self.encoder = GPT2Model.from_pretrained(pretrained, attn_implementation="sdpa")
            except OSError as err:
                raise OSError(
                    f"cannot load GPT-2 weights from {pretrained!r}: give a local folder written by "
                    f"save_pretrained, or a hub name when a network is available ({err})"
                ) from err
            dim = self.encoder.config.n_embd
            if self.encoder.config.n_positions < spec.max_len:
                raise ValueError(
                    f"pretrained GPT-2 {pretrained!r} has {self.encoder.config.n_positions} positions "
                    f"< data.max_len {spec.max_len}"
                )
        else:
            self.encoder = GPT2Model(_gpt2_config(spec, dim, layers, heads, dropout, inner))
        std = self.encoder.config.initializer_range
        self.items = item_table(spec, dim, items, init=lambda w: nn.init.normal_(w, std=std))
        if items is None:
            nn.init.normal_(self.items.weight, std=std)
            self.items.weight.data[PAD] = 0.0

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        x = self.items(batch["history"])  # [B, T, D]
        return self.encoder(inputs_embeds=x, use_cache=False).last_hidden_state  # [B, T, D]

    def item_embeddings(self) -> Tensor:
        return self.items.weight

    def query(self, batch: dict[str, Tensor]) -> Tensor:
        return last_query(self(batch), batch)  # [B, D]

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        return catalogue_scores(self.query(batch), self.item_embeddings())
