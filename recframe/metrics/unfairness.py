"""The unfairness family of Yao & Huang (NeurIPS 2017) between two user groups, on predicted ratings.

S. Yao, B. Huang, "Beyond Parity: Fairness Objectives for Collaborative Filtering", NeurIPS 2017.
With ``y`` a prediction, ``r`` the true rating, ``g`` and ``¬g`` the two groups and ``n`` items,
``E_g[y]_j`` is the mean prediction for item ``j`` over the (user, item j) pairs of users in ``g``
and ``d_g(j) = E_g[y]_j − E_g[r]_j``:

- value:            ``1/n Σ_j |d_g(j) − d_¬g(j)|``
- absolute:         ``1/n Σ_j ||d_g(j)| − |d_¬g(j)||``
- underestimation:  ``1/n Σ_j |max(0, −d_g(j)) − max(0, −d_¬g(j))|``
- overestimation:   ``1/n Σ_j |max(0, d_g(j)) − max(0, d_¬g(j))|``
- non-parity:       ``|E_g[y] − E_¬g[y]|``, the mean prediction over all pairs of each group.

NOTE: ``E_g[·]_j`` is undefined for an item no user of ``g`` rated, so the per-item sums run over the
``n`` items with pairs in both groups (reported as ``"items"``). RecBole-FairRec instead averages
over every item with a pair, taking an absent group's means as 0 (it divides by ``count + 1e-5``);
on its full-ranking mode it also sets ``r = 1`` for every positive pair. Both choices make the value
depend on items only one group rated, so they are not followed here.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchmetrics import Metric


def yao_huang_unfairness(pred_sum: Tensor, true_sum: Tensor, count: Tensor) -> dict[str, Tensor]:
    """The five unfairness values from per-item, per-group sums: each input is ``[n_items, 2]``.

    Returns ``{"value_unfairness", "absolute_unfairness", "underestimation_unfairness",
    "overestimation_unfairness", "non_parity_unfairness", "items"}``; the per-item ones are NaN when
    no item has pairs in both groups, non-parity when a group has no pair at all.

    >>> pred = torch.tensor([[4.0, 6.0], [4.0, 1.0]])  # item 0, group ¬g: two pairs, mean prediction 3
    >>> true = torch.tensor([[5.0, 8.0], [3.0, 2.0]])
    >>> count = torch.tensor([[1.0, 2.0], [1.0, 1.0]])
    >>> out = yao_huang_unfairness(pred, true, count)  # d_g = [4-5, 4-3] = [-1, 1], d_¬g = [3-4, 1-2] = [-1, -1]
    >>> [float(out[k]) for k in ("value_unfairness", "absolute_unfairness", "underestimation_unfairness")]
    [1.0, 0.0, 0.5]
    """
    both = (count > 0).all(1)  # [I]
    c = count[both]
    gap = pred_sum[both] / c - true_sum[both] / c  # [n, 2]: d_g(j), d_¬g(j)
    nan = torch.tensor(math.nan, dtype=torch.float64, device=count.device)

    def mean(x: Tensor) -> Tensor:
        return x.mean() if x.numel() else nan

    group_pred = pred_sum.sum(0) / count.sum(0)  # [2]; 0/0 = NaN for an empty group
    return {
        "value_unfairness": mean((gap[:, 0] - gap[:, 1]).abs()),
        "absolute_unfairness": mean((gap[:, 0].abs() - gap[:, 1].abs()).abs()),
        "underestimation_unfairness": mean(((-gap[:, 0]).clamp(min=0) - (-gap[:, 1]).clamp(min=0)).abs()),
        "overestimation_unfairness": mean((gap[:, 0].clamp(min=0) - gap[:, 1].clamp(min=0)).abs()),
        "non_parity_unfairness": (group_pred[0] - group_pred[1]).abs(),
        "items": both.sum().to(torch.float64),
    }


class RatingUnfairness(Metric):
    """Value, absolute, under-, overestimation and non-parity unfairness (Yao & Huang, NeurIPS 2017).

    For rating prediction (explicit feedback such as MovieLens ratings, or predicted probabilities
    against 0/1 labels) between exactly two user groups; see :func:`yao_huang_unfairness` and the
    module docstring for the formulas and which items count. States are per-item, per-group sums of
    size ``[n_items, 2]``, reduced with ``"sum"``. All values: lower is fairer.

    Args:
        n_items: number of item ids including PAD; pairs on PAD raise.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, n_items: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if n_items < 2:
            raise ValueError(f"n_items must count PAD and at least one item, got {n_items}")
        self.n_items = n_items
        for name in ("pred_sum", "true_sum", "count"):
            self.add_state(name, torch.zeros(n_items, 2, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: Tensor, true: Tensor, item: Tensor, group: Tensor) -> None:
        """Add ``N`` (user, item) pairs: ``pred``, ``true`` float ``[N]``, ``item`` ids, ``group`` in {0, 1}."""
        if not pred.shape == true.shape == item.shape == group.shape or pred.dim() != 1:
            shapes = [list(t.shape) for t in (pred, true, item, group)]
            raise ValueError(f"pred, true, item and group must be 1-D of one length, got shapes {shapes}")
        if ((group != 0) & (group != 1)).any():
            raise ValueError(f"group must be 0 or 1, got values {group.unique().tolist()}")
        bad = (item < 1) | (item >= self.n_items)
        if bad.any():
            raise ValueError(f"item ids must be in [1, {self.n_items - 1}], got {item[bad].unique()[:5].tolist()}")
        flat = item.long() * 2 + group.long()
        for state, value in ((self.pred_sum, pred), (self.true_sum, true), (self.count, torch.ones_like(pred))):
            state.view(-1).index_add_(0, flat, value.to(state))

    def compute(self) -> dict[str, Tensor]:
        if self.count.sum() == 0:
            raise ValueError("RatingUnfairness.compute() called before any pair was added")
        return yao_huang_unfairness(self.pred_sum, self.true_sum, self.count)
