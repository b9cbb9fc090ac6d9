"""Sampled evaluation candidates: the negatives of the sampled-ranking protocol."""

from __future__ import annotations

import numpy as np

from recframe.data.histories import Histories


def sample_negatives(
    users: np.ndarray, excluded: list[Histories], n_items: int, n: int, weights: np.ndarray | None, seed: int
) -> np.ndarray:
    """``n`` distinct negatives per user, never an item in any of ``excluded`` for that user.

    Drawn uniformly from ``1..n_items-1`` or proportionally to ``weights`` (e.g. popularity), by
    vectorised rejection rounds. Returns ``[n_users_total, n]`` indexed by dense user id (rows of
    users not in ``users`` are 0).
    """
    rng = np.random.default_rng(seed)
    n_users = excluded[0].n_users
    free = n_items - 1 - sum(h.lengths(users) for h in excluded)
    if (free < n).any():
        u = users[np.flatnonzero(free < n)[0]]
        raise ValueError(f"user {u} has fewer than {n} items left to sample as negatives; lower data.eval_negatives")
    p = None
    if weights is not None:
        p = np.asarray(weights[1:], dtype=np.float64) + 1e-12
        p = p / p.sum()
    forbidden = np.unique(
        np.concatenate([h.flat(users)[1] + np.repeat(users, h.lengths(users)) * n_items for h in excluded])
    )
    sub = np.zeros((len(users), n), dtype=np.int64)
    redraw = np.ones(sub.shape, dtype=bool)
    for _ in range(10_000):
        if not redraw.any():
            break
        r, c = np.nonzero(redraw)
        sub[r, c] = rng.choice(n_items - 1, size=len(r), p=p) + 1
        bad = np.isin(users[:, None] * n_items + sub, forbidden)
        order = np.argsort(sub, axis=1, kind="stable")  # a repeated item within a row: redraw all but one
        ordered = np.take_along_axis(sub, order, 1)
        repeat = np.zeros(sub.shape, dtype=bool)
        repeat[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
        dup = np.zeros(sub.shape, dtype=bool)
        np.put_along_axis(dup, order, repeat, 1)
        redraw = bad | dup
    else:
        raise ValueError(f"could not draw {n} distinct negatives for every user; lower data.eval_negatives")
    out = np.zeros((n_users, n), dtype=np.int64)
    out[users] = sub
    return out
