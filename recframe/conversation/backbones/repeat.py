"""The naive conversational baseline: recommend the items already mentioned, most recent first.

Kostric & Balog (SIGIR 2026) show that this ranker reaches ReDial R@1 0.043 / R@10 0.090 on all
targets and exactly 0 once targets already in the context are removed: the reason the ``dedup``
variant is the headline (see :mod:`recframe.conversation.turns`). It follows the paper's description
(their repository ships no ranker code). In the ψ · Wᵀ form ψ is a recency-weighted indicator of
the mentioned items and W the identity.
NOTE: items never mentioned all score 0 and tie; ties count against the target, as everywhere.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from recframe.data.datamodule import DataSpec
from recframe.data.interactions import PAD


class Repeat(nn.Module):
    """Scores = the position of each mentioned item's latest mention (the latest scores highest); no parameters."""

    sequential: ClassVar[bool] = False

    def __init__(self, spec: DataSpec) -> None:
        super().__init__()
        self.n_items = spec.n_items
        self.register_buffer("anchor", torch.zeros(()), persistent=False)  # follows the module's device

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        history = batch["history"]  # [B, T]
        position = torch.arange(1, history.shape[1] + 1, device=history.device, dtype=self.anchor.dtype)
        weight = torch.where(history != PAD, position, 0)  # [B, T]: the t-th mention scores t
        psi = torch.zeros(len(history), self.n_items, device=history.device, dtype=self.anchor.dtype)
        psi.scatter_reduce_(1, history, weight, reduce="amax")  # a repeated mention keeps its latest position
        return psi[:, None]  # [B, 1, I]

    def item_embeddings(self) -> Tensor:
        return torch.eye(self.n_items, device=self.anchor.device)  # [I, I]

    def query(self, batch: dict[str, Tensor]) -> Tensor:
        return self(batch)[:, 0]

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        scores = self.query(batch).clone()  # ψ · I = ψ, without materialising the identity
        scores[:, PAD] = float("-inf")
        return scores
