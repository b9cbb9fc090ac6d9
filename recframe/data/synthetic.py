"""A synthetic interaction log generated in code: the default dataset, needs no download.

The world has structure a sequence model can learn and matrix factorisation cannot: each item has a
fixed *successor*, and with probability ``p_follow`` a user's next item is the successor of their
last one. Otherwise the next item is drawn from the user's group taste: a Zipf popularity skew over
the catalogue, boosted on the group's preferred genre. Users carry a ``group`` and a ``gender``
attribute, items a ``genre`` and a ``title``, so fairness metrics and text encoders have side
information to use. Everything is a deterministic function of ``seed``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recframe.data.interactions import Interactions


def synthetic(
    n_users: int = 2000,
    n_items: int = 500,
    n_groups: int = 3,
    mean_length: float = 20.0,
    min_length: int = 5,
    max_length: int = 60,
    p_follow: float = 0.6,
    zipf: float = 1.0,
    genre_boost: float = 4.0,
    rated: bool = False,
    seed: int = 0,
) -> Interactions:
    """Generate the log; raw ids are ``1..n_users`` and ``1..n_items``.

    Args:
        n_users / n_items: population and catalogue size.
        n_groups: user groups (and item genres); group ``g`` prefers genre ``g``.
        mean_length / min_length / max_length: per-user sequence length, geometric around the mean,
            clipped to the bounds (a long tail of active users).
        p_follow: probability that the next item is the last item's fixed successor.
        zipf: exponent of the popularity skew (0 = uniform).
        genre_boost: taste multiplier for items of the group's genre.
        rated: give explicit 1-5 ratings (mostly 4-5 for the group's genre, 1-3 otherwise) instead of
            1.0, for the rating-prediction protocols; drawn from their own stream of ``seed``, so the
            interactions are the same either way.
        seed: the only random source.
    """
    if not (n_users >= 1 and n_items >= 2 and n_groups >= 1 and 2 <= min_length <= max_length):
        raise ValueError(
            f"synthetic needs n_users >= 1, n_items >= 2, n_groups >= 1 and 2 <= min_length <= max_length; got "
            f"{n_users=}, {n_items=}, {n_groups=}, {min_length=}, {max_length=}"
        )
    if not 0.0 <= p_follow <= 1.0:
        raise ValueError(f"p_follow must be in [0, 1], got {p_follow}")
    rng = np.random.default_rng(seed)
    genre = rng.integers(0, n_groups, n_items)
    popularity = 1.0 / np.arange(1, n_items + 1) ** zipf
    popularity = popularity[rng.permutation(n_items)]
    successor = rng.permutation(n_items)

    taste = popularity[None, :] * np.where(genre[None, :] == np.arange(n_groups)[:, None], genre_boost, 1.0)
    cdf = np.cumsum(taste / taste.sum(1, keepdims=True), axis=1)  # [G, I]

    group = rng.integers(0, n_groups, n_users)
    gender = np.where(rng.random(n_users) < 0.35 + 0.3 * (group % 2), "F", "M")
    extra = rng.geometric(1.0 / max(mean_length - min_length + 1, 1.0), n_users) - 1
    lengths = np.clip(min_length + extra, min_length, max_length)

    def draw_taste(users: np.ndarray) -> np.ndarray:
        u = rng.random(len(users))[:, None]
        return np.minimum((u > cdf[group[users]]).sum(1), n_items - 1)

    seqs = np.zeros((n_users, max_length), dtype=np.int64)
    seqs[:, 0] = draw_taste(np.arange(n_users))
    for t in range(1, max_length):
        follow = rng.random(n_users) < p_follow
        seqs[:, t] = np.where(follow, successor[seqs[:, t - 1]], draw_taste(np.arange(n_users)))

    valid = np.arange(max_length)[None, :] < lengths[:, None]
    users = np.broadcast_to(np.arange(1, n_users + 1)[:, None], seqs.shape)[valid]
    items = seqs[valid] + 1
    start = rng.integers(1_500_000_000, 1_600_000_000, n_users)
    times = (start[:, None] + np.arange(max_length)[None, :] * 3600)[valid]

    item_table = pd.DataFrame(
        {"title": [f"Item {i}" for i in range(1, n_items + 1)], "genre": [f"genre{g}" for g in genre]},
        index=pd.Index(np.arange(1, n_items + 1), name="item"),
    )
    user_table = pd.DataFrame(
        {"group": [f"group{g}" for g in group], "gender": gender, "length": lengths},
        index=pd.Index(np.arange(1, n_users + 1), name="user"),
    )
    ratings = np.ones(len(users), dtype=np.float32)
    if rated:
        liked = genre[items - 1] == group[users - 1]
        draw = np.random.default_rng([seed, 1]).random(len(users))
        ratings = np.where(liked, 4 + (draw < 0.6), 1 + np.floor(draw * 3)).astype(np.float32)
    return Interactions(
        user=users,
        item=items,
        rating=ratings,
        timestamp=times.astype(np.int64),
        items=item_table,
        users=user_table,
        name="synthetic",
    )
