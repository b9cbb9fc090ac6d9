"""Preference matching over frozen text: ψ contrasts what the user liked and disliked, W is item text.

For the like protocol (TALLRec's "will the user like the target?", :mod:`recframe.data.like`):
logit(target) = a · ⟨mean text of liked history, text(target)⟩ + b · ⟨mean text of disliked history,
text(target)⟩ + c · (share of the history liked) + d, written in the one ψ · W form with
``ψ = [a·m_liked + b·m_disliked, c·share + d]`` and ``W_i = [text_i, 1]``. Four scalars learn from the
16–256 training examples; at their initial values (a = 1, b = −1, c = d = 0) it is the zero-shot
MiniLM similarity. The text vectors come from the frozen, cached encoder of :mod:`recframe.text`
(Reimers & Gurevych, "Sentence-BERT", EMNLP 2019, the family of all-MiniLM-L6-v2); the task and its
numbers are Bao et al., "TALLRec", RecSys 2023. No reference implementation; checked against a hand
computation in ``tests/test_like.py``.
NOTE: without ``history_likes`` (ranking batches) every history item counts as liked, and position
``t`` averages items ``<= t`` (causal), so the backbone also ranks the catalogue.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from recframe.backbones.contract import catalogue_scores, last_query
from recframe.data.datamodule import DataSpec
from recframe.data.interactions import PAD
from recframe.text.items import FrozenText


def _causal_mean(x: Tensor, weight: Tensor) -> Tensor:
    """Weighted running mean over positions: ``[B, T, H], [B, T] -> [B, T, H]`` (0 where no weight yet)."""
    sums = (x * weight.unsqueeze(-1)).cumsum(1)
    return sums / weight.cumsum(1).unsqueeze(-1).clamp(min=1)


class Preference(nn.Module):
    """Liked / disliked history text -> ψ ``[B, T, H + 1]``; W = ``[text, 1]`` ``[I, H + 1]``.

    Args:
        spec: dataset facts and the item table.
        text: settings of :func:`recframe.text.items.text_features` (model, template, ...).
        text_terms: False fixes a = b = 0: the logit is then the share of the history liked alone
            (the text-free baseline that shows how much of the task that share solves).
    """

    sequential: ClassVar[bool] = True

    def __init__(self, spec: DataSpec, *, text: dict[str, Any] | None = None, text_terms: bool = True) -> None:
        super().__init__()
        self.items = FrozenText(spec, text or {})
        self.weights = nn.Parameter(torch.tensor([1.0, -1.0, 0.0, 0.0]))  # a, b, c, d
        self.register_buffer("keep", torch.tensor([1.0, 1.0, 1.0, 1.0] if text_terms else [0.0, 0.0, 1.0, 1.0]))

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        history = batch["history"]  # [B, T]
        real = (history != PAD).float()
        liked = batch["history_likes"].float() * real if "history_likes" in batch else real
        x = self.items(history)  # [B, T, H]
        a, b, c, d = self.weights * self.keep
        taste = a * _causal_mean(x, liked) + b * _causal_mean(x, real - liked)  # [B, T, H]
        share = liked.cumsum(1) / real.cumsum(1).clamp(min=1)  # [B, T]
        return torch.cat([taste, (c * share + d).unsqueeze(-1)], -1)  # [B, T, H + 1]

    def item_embeddings(self) -> Tensor:
        text = self.items.weight
        ones = torch.ones_like(text[:, :1])
        ones[PAD] = 0.0
        return torch.cat([text, ones], 1)  # [I, H + 1]

    def query(self, batch: dict[str, Tensor]) -> Tensor:
        return last_query(self(batch), batch)  # [B, H + 1]

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        return catalogue_scores(self.query(batch), self.item_embeddings())
