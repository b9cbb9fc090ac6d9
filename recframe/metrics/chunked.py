"""Full-catalogue ranking without a ``[users × items]`` score block: items are scored in chunks.

For catalogues of 10⁶ items a batch of users times the catalogue is gigabytes. Here ψ · Wᵀ is
computed for ``chunk`` items at a time; each chunk updates a running top-K (merged with the
previous one) and, for every target, the count of items scoring at least as high. The result is
exactly what :func:`~recframe.metrics.functional.target_ranks` and ``topk`` give on the whole
block (same tie policy), with memory ``B × (chunk + K)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from recframe.data.interactions import PAD
from recframe.metrics.functional import _targets_before


def chunked_ranks(
    query: Tensor,
    items: Tensor,
    targets: Tensor,
    k: int,
    chunk: int,
    seen_rows: Tensor | None = None,
    seen_items: Tensor | None = None,
    candidates: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Exact pessimistic target ranks and the top-``k`` of ``query @ items.T``, chunk by chunk.

    Args:
        query: ψ ``[B, D]``.
        items: W ``[I, D]`` (row PAD never ranked).
        targets: ``[B, M]`` right-padded with PAD.
        k: length of the returned top list.
        chunk: items scored at once.
        seen_rows / seen_items: ``[S]`` items to exclude per row (the batch's ``seen_*`` keys).
        candidates: ``[B, N]`` if only targets and these may be ranked (sampled protocol).

    Returns:
        ``(ranks [B, M], top_values [B, k], top_items [B, k])``; ranks are 0 for PAD targets.
    """
    B, I = len(query), len(items)
    valid = targets != PAD
    excluded = torch.zeros(0, dtype=torch.long, device=query.device)
    if seen_rows is not None:
        excluded = seen_rows * I + seen_items  # flat (row, item) keys
    t_scores = (query[:, None, :] * F.embedding(targets, items)).sum(-1)  # [B, M]
    t_keys = torch.arange(B, device=query.device)[:, None] * I + targets
    t_scores = t_scores.masked_fill(~valid | torch.isin(t_keys, excluded), float("-inf"))
    allowed = None
    if candidates is not None:
        allowed = torch.cat([candidates, targets], dim=1)  # [B, N + M]
    at_least = torch.zeros(B, targets.shape[1], dtype=torch.long, device=query.device)
    top_values = torch.full((B, 0), float("-inf"), dtype=query.dtype, device=query.device)
    top_items = torch.zeros((B, 0), dtype=torch.long, device=query.device)
    rows = torch.arange(B, device=query.device)
    for start in range(0, I, chunk):
        stop = min(start + chunk, I)
        scores = query @ items[start:stop].T  # [B, C]
        if start == 0:
            scores[:, PAD] = float("-inf")
        if len(excluded):
            in_chunk = (seen_items >= start) & (seen_items < stop)
            scores[seen_rows[in_chunk], seen_items[in_chunk] - start] = float("-inf")
        if allowed is not None:
            keep = torch.zeros_like(scores, dtype=torch.bool)
            inside = (allowed >= start) & (allowed < stop)
            keep[rows[:, None].expand_as(allowed)[inside], allowed[inside] - start] = True
            scores = scores.masked_fill(~keep, float("-inf"))
        if torch.isnan(scores).any():
            raise ValueError("scores contain NaN; the model diverged or produced invalid outputs")
        # A target's own entry must equal its reference score bit for bit (a GEMM over a chunk and
        # the elementwise product can differ in the last bit), or it might not count itself.
        r, j = (valid & (targets >= start) & (targets < stop)).nonzero(as_tuple=True)
        scores[r, targets[r, j] - start] = t_scores[r, j]
        at_least += (scores[:, None, :] >= t_scores[:, :, None]).sum(-1)
        values, index = scores.topk(min(k, stop - start), dim=1)
        merged_values = torch.cat([top_values, values], dim=1)
        merged_items = torch.cat([top_items, index + start], dim=1)
        best = merged_values.topk(min(k, merged_values.shape[1]), dim=1)
        top_values, top_items = best.values, merged_items.gather(1, best.indices)
    targets_at_least = ((t_scores[:, None, :] >= t_scores[:, :, None]) & valid[:, None, :]).sum(-1)
    ranks = at_least - targets_at_least + _targets_before(t_scores, valid) + 1
    return torch.where(valid, ranks, torch.zeros_like(ranks)), top_values, top_items
