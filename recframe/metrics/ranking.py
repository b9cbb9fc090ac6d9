"""Full-ranking accuracy metrics as one ``torchmetrics.Metric`` with sum states.

Memory is ``O(len(metrics) * len(ks))`` whatever the number of users or items, and the states are
plain sums, so DDP reduction is exact as long as every user is evaluated by exactly one process
(the DataModule's evaluation sampler guarantees that; it never pads).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric

from recframe.metrics.functional import METRICS, ranking_metrics


class RankingMetrics(Metric):
    """HR, Recall, NDCG, MRR, Precision and MAP at every ``k``, plus ``acc@1``, averaged over users.

    ``update`` takes the target ranks of :func:`~recframe.metrics.functional.target_ranks`;
    ``compute`` returns ``{"ndcg@10": tensor, ...}``. ``acc@1`` is next-item accuracy: the share of
    users whose top-1 item is a target (equal to ``hr@1``, reported under its usual name).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, ks: Sequence[int] = (1, 5, 10, 20), **kwargs) -> None:
        super().__init__(**kwargs)
        if not ks or any(int(k) < 1 for k in ks):
            raise ValueError(f"ks must be positive integers, got {list(ks)}")
        self.ks = sorted({int(k) for k in ks} | {1})
        self.add_state("sums", torch.zeros(len(METRICS), len(self.ks), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("users", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, ranks: Tensor) -> None:
        """Add a batch of users: ``ranks [B, M]`` (1-based, 0 = PAD target)."""
        values = ranking_metrics(ranks, self.ks)
        self.sums += torch.stack([values[name].sum(0) for name in METRICS])
        self.users += ranks.shape[0]

    def compute(self) -> dict[str, Tensor]:
        if self.users == 0:
            raise ValueError("RankingMetrics.compute() called before any user was evaluated")
        mean = self.sums / self.users
        out = {f"{name}@{k}": mean[i, j] for i, name in enumerate(METRICS) for j, k in enumerate(self.ks)}
        out["acc@1"] = out["hr@1"]
        return out
