"""Beyond-accuracy metrics of top-k lists: novelty and intra-list diversity, with sum states.

Both take ``top_items [B, K']`` (dense item ids, best first, ``K' >= k``; :meth:`torch.Tensor.topk`
of the scores) and average a per-user value over users, so their states are two scalars each.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric


def _top_k(top_items: Tensor, k: int, n_items: int) -> Tensor:
    if top_items.dim() != 2 or top_items.shape[1] < k:
        raise ValueError(f"top_items must be [B, K'] with K' >= k={k}, got {list(top_items.shape)}")
    top = top_items[:, :k].long()
    bad = (top < 1) | (top >= n_items)
    if bad.any():
        raise ValueError(f"top_items hold ids outside [1, {n_items - 1}]: {top[bad].unique()[:5].tolist()}")
    return top


def self_information(popularity: Tensor, n_users: int) -> Tensor:
    """``−log2(φ_i / |U|)`` bits per item, ``φ_i`` distinct training users of item ``i``, ``|U| = n_users − 1``.

    NOTE: an item no training user saw would carry infinite information; it is counted as seen once
    (``φ_i = max(φ_i, 1)``), which caps its information at ``log2 |U|``. Index 0 (PAD) gets 0.

    >>> self_information(torch.tensor([0.0, 8.0, 2.0, 0.0]), n_users=9).tolist()  # |U| = 8
    [0.0, 0.0, 2.0, 3.0]
    """
    n = n_users - 1
    if n < 1:
        raise ValueError(f"n_users must count PAD and at least one user, got {n_users}")
    pop = popularity.double()[1:]
    if (pop > n).any() or (pop < 0).any():
        raise ValueError(
            f"popularity must count distinct training users (0..{n}), got values up to {pop.max().item():g}"
        )
    info = torch.log2(n / pop.clamp(min=1))
    return torch.cat([torch.zeros(1, dtype=torch.float64, device=info.device), info])


class Novelty(Metric):
    """Mean self-information of recommended items: ``1/|U| Σ_u 1/k Σ_{i∈L_u} −log2(φ_i / |U|)``.

    The novelty of Zhou et al., "Solving the apparent diversity-accuracy dilemma of recommender
    systems", PNAS 2010 (``N = 1/(|U| L) Σ_u Σ_{α∈O_u} log2(u / k_α)``), also the popularity-based
    novelty of Castells, Vargas & Wang (DDR @ ECIR 2011). ``φ_i`` counts the distinct training users
    of item ``i`` and ``|U| = n_users − 1`` the users (PAD excluded); see :func:`self_information` for
    unseen items. ``compute()`` returns ``{"novelty@k": bits}``; higher is more novel.

    Args:
        popularity: ``[n_items]`` distinct training users per item (index 0 is PAD).
        n_users: number of user ids including PAD.
        k: list length; ``update`` uses the first ``k`` columns.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, popularity: Tensor, n_users: int, k: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if k < 1 or popularity.dim() != 1 or popularity.numel() < 2:
            raise ValueError(f"need k >= 1 and popularity [n_items >= 2], got k={k}, {list(popularity.shape)}")
        self.k, self.n_items = k, popularity.numel()
        self.register_buffer("information", self_information(popularity, n_users), persistent=False)
        self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("users", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, top_items: Tensor) -> None:
        """Add a batch of lists: ``top_items [B, K']``."""
        top = _top_k(top_items, self.k, self.n_items)
        self.total += self.information[top].mean(1).sum()
        self.users += top.shape[0]

    def compute(self) -> dict[str, Tensor]:
        if self.users == 0:
            raise ValueError("Novelty.compute() called before any user was evaluated")
        return {f"novelty@{self.k}": self.total / self.users}


class IntraListDiversity(Metric):
    """Mean pairwise cosine distance within each top-k list, averaged over users.

    ``ILD = 1/|U| Σ_u 2/(k(k−1)) Σ_{i<j ∈ L_u} (1 − cos(f_i, f_j))``: one minus the normalised
    intra-list similarity of Ziegler, McNee, Konstan & Lausen, "Improving Recommendation Lists
    Through Topic Diversification", WWW 2005 (the average-dissimilarity form of Smyth & McClave 2001
    and Vargas & Castells, RecSys 2011, without rank discount). ``f`` are item features: multi-hot
    attributes (genres) or embeddings. An item with an all-zero feature row (no attribute) has
    cosine 0 with every item, so distance 1. ``compute()`` returns ``{"ild@k": value}``; higher is
    more diverse.

    Args:
        item_features: ``[n_items, F]`` (row 0 is PAD).
        k: list length, ``>= 2``; ``update`` uses the first ``k`` columns.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, item_features: Tensor, k: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if k < 2 or item_features.dim() != 2 or item_features.shape[0] < 2:
            raise ValueError(f"need k >= 2 and item_features [n_items, F], got k={k}, {list(item_features.shape)}")
        if not torch.isfinite(item_features).all():
            raise ValueError("item_features contain NaN or inf")
        self.k, self.n_items = k, item_features.shape[0]
        self.register_buffer("unit", F.normalize(item_features.double(), dim=1), persistent=False)  # zero rows stay 0
        self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("users", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, top_items: Tensor) -> None:
        """Add a batch of lists: ``top_items [B, K']``."""
        top = _top_k(top_items, self.k, self.n_items)
        e = self.unit[top]  # [B, k, F]
        cos_sum = e.sum(1).pow(2).sum(-1) - e.pow(2).sum((1, 2))  # Σ_{i≠j} cos, without the [B, k, k] matrix
        k = self.k
        self.total += (1.0 - cos_sum / (k * (k - 1))).sum()
        self.users += top.shape[0]

    def compute(self) -> dict[str, Tensor]:
        if self.users == 0:
            raise ValueError("IntraListDiversity.compute() called before any user was evaluated")
        return {f"ild@{self.k}": self.total / self.users}
