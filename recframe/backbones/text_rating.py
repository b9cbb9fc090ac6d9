"""A language model reads a (user, item) pair as text and classifies its rating: the founding
document's GPT-2 experiment, done with an honest split and baselines beside it.

User text = demographics (``user_template`` over the user table) + the titles of the user's
``recent`` most recent *training* items; item text = ``item_template`` (title and genres). The pair
is tokenised as ``[user text] SEP [item text] SEP`` and a causal LM's state at the final separator
goes through a linear head to the rating classes (``spec.rating_values``, 1..5 for MovieLens), the
way ``GPT2ForSequenceClassification`` reads its last token. Radford et al., "Language Models are
Unsupervised Multitask Learners", 2019 (GPT-2 built from a config here; ``from_pretrained`` for a
folder or hub name). Trained with cross-entropy over the classes (the module's rating-classifier
path); predictions are the argmax class, scored by RMSE, MAE, accuracy and macro-F1.
NOTE: user and item texts are tokenised once; padding inside each part is masked and skipped by the
position ids. Only training items enter a user's text, so a held-out rating's own item appears there
only if the user also rated it in training (never with its rating).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from recframe.backbones.lm import causal_lm, token_chunks, with_lora
from recframe.data.datamodule import DataSpec
from recframe.text.templates import render


class TextRating(nn.Module):
    """``[user text] SEP [item text] SEP`` -> causal LM -> last state -> linear -> rating-class logits.

    Args:
        spec: dataset facts, user and item tables, training items (``train_items``) and rating classes.
        model: ``gpt2`` (built from config) or a causal LM's folder / hub name.
        user_template: demographics over the user table, e.g. ``"{gender}, {age}, {occupation}"``;
            an empty string leaves them out (datasets without user information).
        recent: how many of the user's most recent training items are named in the user text.
        recent_template: how each recent item reads.
        item_template: how the rated item reads.
        user_tokens / item_tokens: tokens kept of the user and item texts.
        lm_dim / layers / heads / dropout: size of a GPT-2 built from config.
        tokenizer: tokenizer folder (default: MiniLM's WordPiece for ``gpt2``).
        lora: LoRA settings for a pretrained LM (see :class:`recframe.backbones.lm.LM`).
    """

    sequential: ClassVar[bool] = False

    def __init__(
        self,
        spec: DataSpec,
        *,
        model: str = "gpt2",
        user_template: str = "{gender}, {age}, {occupation}",
        recent: int = 5,
        recent_template: str = "{title}",
        item_template: str = "{title}. Genres: {genres}.",
        user_tokens: int = 64,
        item_tokens: int = 24,
        lm_dim: int = 128,
        layers: int = 2,
        heads: int = 2,
        dropout: float = 0.1,
        tokenizer: str | None = None,
        lora: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if spec.rating_values is None or len(spec.rating_values) < 2:
            raise ValueError("text_rating classifies explicit ratings: it needs data.feedback=rating")
        if spec.train_items is None:
            raise ValueError("text_rating needs the users' training items (DataSpec.train_items)")
        self.tokenizer, self.lm = causal_lm(
            model, tokenizer, user_tokens + item_tokens + 2, lm_dim, layers, heads, dropout
        )
        if lora is not None:
            self.lm = with_lora(self.lm, **lora)
        users = [""] * spec.n_users
        if user_template:
            users, _ = render(spec.user_info, user_template, spec.n_users)
        titles, _ = render(spec.item_info, recent_template, spec.n_items)
        indptr, items = spec.train_items.indptr, spec.train_items.items
        for u in range(1, spec.n_users):
            last = items[max(indptr[u], indptr[u + 1] - recent) : indptr[u + 1]][::-1]  # most recent first
            named = "; ".join(titles[i] for i in last if titles[i])
            users[u] = f"{users[u]}. Recently rated: {named}." if named else users[u]
        user_tok, user_real = token_chunks(self.tokenizer, users, user_tokens)
        item_tok, item_real = token_chunks(
            self.tokenizer, render(spec.item_info, item_template, spec.n_items)[0], item_tokens
        )
        self.register_buffer("user_tokens", user_tok, persistent=False)  # [U, Lu + 1]
        self.register_buffer("user_real", user_real, persistent=False)
        self.register_buffer("item_tokens", item_tok, persistent=False)  # [I, Li + 1]
        self.register_buffer("item_real", item_real, persistent=False)
        self.head = nn.Linear(self.lm.config.hidden_size, len(np.asarray(spec.rating_values)))

    def rating_logits(self, users: Tensor, items: Tensor) -> Tensor:
        tokens = torch.cat([self.user_tokens[users], self.item_tokens[items]], 1)  # [B, S]
        real = torch.cat([self.user_real[users], self.item_real[items]], 1)  # [B, S]
        positions = (real.long().cumsum(1) - 1).clamp(min=0)
        out = self.lm(input_ids=tokens, attention_mask=real.long(), position_ids=positions, use_cache=False)
        return self.head(out.last_hidden_state[:, -1])  # [B, C]: the item's separator is always real
