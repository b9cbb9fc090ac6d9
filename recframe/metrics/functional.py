"""Functional core of the ranking metrics: mask seen items, rank targets, score ranks.

Tie policy: ties count against the target. A target's rank is ``1 +`` the number of non-target
items scoring at least as high ``+`` the number of other targets ordered before it (higher score,
or equal score and earlier in the target list). So a constant model gets rank ``n_items - ...``,
never 1, and every target of a user has a distinct rank. Ranks are 1-based; 0 marks PAD targets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from recframe.data.interactions import PAD

METRICS = ("hr", "recall", "ndcg", "mrr", "precision", "map")


def mask_items(scores: Tensor, rows: Tensor, items: Tensor) -> Tensor:
    """Set ``scores[rows[j], items[j]] = -inf`` in place (items a user already saw) and return it.

    >>> s = torch.zeros(2, 4)
    >>> mask_items(s, torch.tensor([0, 1]), torch.tensor([2, 3]))
    tensor([[0., 0., -inf, 0.],
            [0., 0., 0., -inf]])
    """
    scores[rows, items] = float("-inf")
    return scores


def _targets_before(t_scores: Tensor, valid: Tensor) -> Tensor:
    """For each target, how many other targets of its row are ordered before it: ``[B, M]``."""
    M = t_scores.shape[1]
    s_j, s_m = t_scores[:, :, None], t_scores[:, None, :]  # [B, M, 1], [B, 1, M]
    order = torch.arange(M, device=t_scores.device)
    earlier = order[None, None, :] < order[None, :, None]
    return (((s_m > s_j) | ((s_m == s_j) & earlier)) & valid[:, None, :]).sum(-1)


def _exact_ranks(scores: Tensor, targets: Tensor, max_elements: int) -> Tensor:
    B, I = scores.shape
    M = targets.shape[1]
    valid = targets != PAD
    t_scores = scores.gather(1, targets)  # [B, M]
    at_least = torch.empty(B, M, dtype=torch.long, device=scores.device)
    step = max(1, max_elements // max(M * I, 1))
    for s in range(0, B, step):
        at_least[s : s + step] = (scores[s : s + step, None, :] >= t_scores[s : s + step, :, None]).sum(-1)
    targets_at_least = ((t_scores[:, None, :] >= t_scores[:, :, None]) & valid[:, None, :]).sum(-1)  # incl. itself
    ranks = at_least - targets_at_least + _targets_before(t_scores, valid) + 1
    return torch.where(valid, ranks, torch.zeros_like(ranks))


def target_ranks(
    scores: Tensor,
    targets: Tensor,
    max_rank: int | None = None,
    max_elements: int = 1 << 25,
    top: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """Pessimistic 1-based rank of every target among all items: ``[B, I], [B, M] -> [B, M]``.

    Args:
        scores: higher is better; masked items are ``-inf``. NaN raises.
        targets: item ids, right-padded with PAD (0); duplicates within a row are not allowed.
        max_rank: if given, ranks above it are reported as ``max_rank + 1``. Every metric at
            ``k <= max_rank`` is unchanged, and the ranks come from one ``topk`` instead of a
            comparison against the whole catalogue (rows whose target ties the top-k boundary
            fall back to the exact count).
        max_elements: bound on the ``[b, M, I]`` comparison of the exact count (memory).
        top: ``scores.topk(K)`` with ``K >= max_rank`` if the caller already has it (reused).

    Returns:
        int64 ranks, 0 where the target is PAD.

    >>> target_ranks(torch.tensor([[0.1, 0.9, 0.5, 0.5]]), torch.tensor([[2, 3]]))
    tensor([[2, 3]])
    >>> target_ranks(torch.zeros(1, 5), torch.tensor([[4, 0]]))  # a constant model ranks last
    tensor([[5, 0]])
    >>> target_ranks(torch.tensor([[0.0, 4.0, 3.0, 2.0, 1.0]]), torch.tensor([[4, 2]]), max_rank=2)
    tensor([[3, 2]])
    """
    if max_rank is None or max_rank >= scores.shape[1]:
        if torch.isnan(scores).any():
            raise ValueError("scores contain NaN; the model diverged or produced invalid outputs")
        return _exact_ranks(scores, targets, max_elements)
    if top is not None and top[0].shape[1] >= max_rank:
        top_values, top_items = top[0][:, :max_rank], top[1][:, :max_rank]
    else:
        top_values, top_items = scores.topk(max_rank, dim=1)  # [B, K], NaN sorts first: checked for free
    if torch.isnan(top_values[:, 0]).any():
        raise ValueError("scores contain NaN; the model diverged or produced invalid outputs")
    valid = targets != PAD
    t_scores = scores.gather(1, targets)  # [B, M]
    boundary = top_values[:, -1:]  # [B, 1]
    in_top_is_target = (top_items[:, :, None] == targets[:, None, :]).any(-1)  # [B, K]
    ahead = (top_values[:, None, :] >= t_scores[:, :, None]) & ~in_top_is_target[:, None, :]  # [B, M, K]
    ranks = ahead.sum(-1) + _targets_before(t_scores, valid) + 1
    # Above the boundary every item scoring at least as high is in the top-k, so the count is
    # exact; below it the rank exceeds max_rank. Only ties with the boundary need the full count.
    ranks = torch.where(t_scores < boundary, torch.full_like(ranks, max_rank + 1), ranks)
    tied = ((t_scores == boundary) & valid).any(1)
    if tied.any():
        ranks[tied] = _exact_ranks(scores[tied], targets[tied], max_elements)
    ranks = ranks.clamp(max=max_rank + 1)
    return torch.where(valid, ranks, torch.zeros_like(ranks))


def ranking_metrics(ranks: Tensor, ks: Sequence[int]) -> dict[str, Tensor]:
    """Per-user metric values from target ranks: ``{name: [B, len(ks)]}`` (float64).

    With ``R`` the user's targets, ``h_k`` those ranked ``<= k`` and ``r_1 < r_2 < ...`` their ranks:
    ``hr = [h_k > 0]``, ``recall = h_k / |R|``, ``precision = h_k / k``,
    ``ndcg = Σ_{r<=k} 1/log2(r+1) / Σ_{i<=min(|R|,k)} 1/log2(i+1)``, ``mrr = 1 / r_1`` if ``r_1 <= k``,
    ``map = Σ_{j: r_j<=k} (j / r_j) / min(|R|, k)`` (RecBole's MAP@K). Users need at least one target.

    >>> m = ranking_metrics(torch.tensor([[3, 0]]), ks=[1, 5])
    >>> [round(float(m[name][0, 1]), 4) for name in ("hr", "ndcg", "mrr")]
    [1.0, 0.5, 0.3333]
    """
    valid = ranks > 0
    n_targets = valid.sum(1, keepdim=True).double()  # [B, 1]
    if (n_targets == 0).any():
        raise ValueError("every evaluated user needs at least one target")
    r = torch.where(valid, ranks.double(), torch.full_like(ranks, math.inf, dtype=torch.float64))
    r = r.sort(1).values  # [B, M] ascending, inf last
    position = torch.arange(1, r.shape[1] + 1, dtype=torch.float64, device=r.device)
    out: dict[str, list[Tensor]] = {name: [] for name in METRICS}
    for k in ks:
        hit = r <= k  # [B, M]
        hits = hit.sum(1).double()
        ideal = torch.minimum(n_targets[:, 0], torch.tensor(float(k), dtype=torch.float64))
        discount = torch.where(hit, 1.0 / torch.log2(r + 1.0), torch.zeros_like(r))
        idcg = (1.0 / torch.log2(position + 1.0)).cumsum(0)[(ideal - 1).long()]
        out["hr"].append((hits > 0).double())
        out["recall"].append(hits / n_targets[:, 0])
        out["precision"].append(hits / k)
        out["ndcg"].append(discount.sum(1) / idcg)
        out["mrr"].append(torch.where(hit[:, 0], 1.0 / r[:, 0], torch.zeros_like(hits)))
        out["map"].append(torch.where(hit, position / r, torch.zeros_like(r)).sum(1) / ideal)
    return {name: torch.stack(values, dim=1) for name, values in out.items()}
