"""The interaction log, its filters and the one id remapping.

An :class:`Interactions` holds one row per (user, item) event as parallel NumPy arrays of *raw*
ids (as they appear in the source files), plus optional side-information tables indexed by raw id.
Filters return a new log and a :class:`FilterReport`, so nothing is dropped without a count.
:func:`encode` maps raw ids once to the framework convention: ids ``1..n-1``, ``PAD = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

PAD = 0


def _py(value: object) -> object:
    """A NumPy scalar as a plain Python value, so messages read ``11``, not ``np.int64(11)``."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class Interactions:
    """A log of interactions with raw ids.

    Attributes:
        user: raw user ids, shape ``[N]`` (ints or strings).
        item: raw item ids, shape ``[N]``.
        rating: float32 ``[N]``; 1.0 for implicit data.
        timestamp: int64 ``[N]``; for order-only sources the position within the user's sequence.
        items: optional item side information, indexed by raw item id (titles, genres, ...).
        users: optional user side information, indexed by raw user id (gender, age, ...).
        name: a short dataset name used in messages and run records.
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    items: pd.DataFrame | None = None
    users: pd.DataFrame | None = None
    name: str = "interactions"

    def __post_init__(self) -> None:
        n = len(self.user)
        for col in ("item", "rating", "timestamp"):
            if len(getattr(self, col)) != n:
                raise ValueError(f"{self.name}: column {col!r} has {len(getattr(self, col))} rows, user has {n}")
        bad = ~np.isfinite(self.rating)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{self.name}: {int(bad.sum())} non-finite ratings (first at row {i}: user {_py(self.user[i])!r}, "
                f"item {_py(self.item[i])!r}, rating {_py(self.rating[i])})"
            )

    def __len__(self) -> int:
        return len(self.user)

    def take(self, rows: np.ndarray) -> Interactions:
        """Rows selected by a boolean mask or an index array; side tables are kept whole."""
        return replace(
            self, user=self.user[rows], item=self.item[rows], rating=self.rating[rows], timestamp=self.timestamp[rows]
        )

    @property
    def n_users(self) -> int:
        return len(np.unique(self.user))

    @property
    def n_items(self) -> int:
        return len(np.unique(self.item))

    def describe(self) -> str:
        return f"{self.name}: {self.n_users:,} users, {self.n_items:,} items, {len(self):,} interactions"


@dataclass(frozen=True)
class FilterReport:
    """What one filter removed; printed at start-up and saved with the run."""

    filter: str
    users_removed: int
    items_removed: int
    interactions_removed: int
    detail: str = ""

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return (
            f"{self.filter}: removed {self.interactions_removed:,} interactions, "
            f"{self.users_removed:,} users, {self.items_removed:,} items{extra}"
        )


def _report(name: str, before: Interactions, after: Interactions, detail: str = "") -> FilterReport:
    if len(after) == 0:
        raise ValueError(f"filter {name} removed all {len(before):,} interactions of {before.name}; loosen it")
    return FilterReport(
        name, before.n_users - after.n_users, before.n_items - after.n_items, len(before) - len(after), detail
    )


def min_rating(log: Interactions, threshold: float) -> tuple[Interactions, FilterReport]:
    """Keep interactions with ``rating >= threshold`` (explicit -> implicit feedback)."""
    out = log.take(log.rating >= threshold)
    return out, _report(f"min_rating={threshold:g}", log, out)


def k_core(log: Interactions, user_min: int, item_min: int) -> tuple[Interactions, FilterReport]:
    """Iteratively drop users with fewer than ``user_min`` and items with fewer than ``item_min`` rows."""
    out, rounds = log, 0
    while len(out):
        _, u_inv, u_cnt = np.unique(out.user, return_inverse=True, return_counts=True)
        _, i_inv, i_cnt = np.unique(out.item, return_inverse=True, return_counts=True)
        keep = (u_cnt[u_inv] >= user_min) & (i_cnt[i_inv] >= item_min)
        if keep.all():
            break
        out, rounds = out.take(keep), rounds + 1
    return out, _report(f"k_core(user>={user_min}, item>={item_min})", log, out, f"{rounds} rounds")


DUPLICATE_POLICIES = ("keep", "first", "last", "error")


def duplicates(log: Interactions, policy: str) -> tuple[Interactions, FilterReport]:
    """Handle repeated (user, item) pairs: ``keep`` all, keep the ``first``/``last`` in time, or ``error``."""
    if policy not in DUPLICATE_POLICIES:
        raise ValueError(f"unknown duplicates policy {policy!r}; known: {list(DUPLICATE_POLICIES)}")
    order = np.lexsort((np.arange(len(log)), log.timestamp, log.item, log.user))
    u, i = log.user[order], log.item[order]
    same_as_prev = np.zeros(len(log), dtype=bool)
    same_as_prev[1:] = (u[1:] == u[:-1]) & (i[1:] == i[:-1])
    n_dup = int(same_as_prev.sum())
    if policy == "keep" or n_dup == 0:
        return log, FilterReport(f"duplicates={policy}", 0, 0, 0, f"{n_dup:,} repeated (user, item) pairs")
    if policy == "error":
        j = order[np.flatnonzero(same_as_prev)[0]]
        raise ValueError(
            f"{log.name}: {n_dup:,} duplicate (user, item) interactions, e.g. user {_py(log.user[j])!r} item "
            f"{_py(log.item[j])!r}; set data.duplicates to keep, first or last"
        )
    if policy == "first":
        keep_sorted = ~same_as_prev
    else:  # last: a row survives when the next row is not the same pair
        keep_sorted = np.ones(len(log), dtype=bool)
        keep_sorted[:-1] = ~same_as_prev[1:]
    keep = np.zeros(len(log), dtype=bool)
    keep[order[keep_sorted]] = True
    out = log.take(keep)
    return out, _report(f"duplicates={policy}", log, out, f"{n_dup:,} repeated (user, item) pairs")


@dataclass(frozen=True)
class IdMap:
    """Raw ids <-> dense ids ``1..n`` (``0`` is PAD). ``raw[k]`` is the raw id of dense id ``k + 1``."""

    raw: np.ndarray
    kind: str = "item"

    @property
    def size(self) -> int:
        """Number of dense ids including PAD, i.e. the ``n_items``/``n_users`` of the convention."""
        return len(self.raw) + 1

    def encode(self, raw_ids: np.ndarray) -> np.ndarray:
        """Dense ids of ``raw_ids``; raises naming the first unknown id."""
        raw_ids = np.asarray(raw_ids)
        if raw_ids.size == 0:
            return np.zeros(0, dtype=np.int64)
        if len(self.raw) == 0:
            raise KeyError(f"unknown {self.kind} id {_py(raw_ids.flat[0])!r}: the map is empty")
        try:
            pos = np.minimum(np.searchsorted(self.raw, raw_ids), len(self.raw) - 1)
            bad = self.raw[pos] != raw_ids
        except TypeError as err:  # int raw ids vs string query, or the reverse
            raise KeyError(
                f"{self.kind} ids of the wrong type: {raw_ids[:3]!r}, expected like {self.raw[:3]!r}"
            ) from err
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise KeyError(f"unknown {self.kind} id {_py(raw_ids[k])!r} ({int(bad.sum())} unknown in total)")
        return pos.astype(np.int64) + 1

    def decode(self, ids: np.ndarray) -> np.ndarray:
        """Raw ids of dense ids (``1..n``); PAD or out-of-range ids raise."""
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 1 or ids.max() >= self.size):
            raise KeyError(
                f"{self.kind} ids out of range [1, {self.size - 1}]: min {_py(ids.min())}, max {_py(ids.max())}"
            )
        return self.raw[ids - 1]


@dataclass(frozen=True)
class EncodedLog:
    """An interaction log in dense ids, sorted by (user, timestamp, source order)."""

    user: np.ndarray  # int64 [N], 1..n_users-1
    item: np.ndarray  # int64 [N], 1..n_items-1
    rating: np.ndarray  # float32 [N]
    timestamp: np.ndarray  # int64 [N]
    users: IdMap
    items: IdMap
    item_info: pd.DataFrame | None = None  # row k describes dense item k (row 0 = PAD)
    user_info: pd.DataFrame | None = None
    name: str = "interactions"
    reports: list[FilterReport] = field(default_factory=list)

    @property
    def n_users(self) -> int:
        return self.users.size

    @property
    def n_items(self) -> int:
        return self.items.size

    def __len__(self) -> int:
        return len(self.user)


def _side_table(table: pd.DataFrame | None, ids: IdMap) -> pd.DataFrame | None:
    """Reindex a raw-id side table to dense ids; row 0 (PAD) and ids missing from it are NaN rows."""
    if table is None:
        return None
    dense = table.reindex(ids.raw)
    dense.index = np.arange(1, ids.size)
    return dense.reindex(np.arange(ids.size))


def encode(log: Interactions, reports: list[FilterReport] | None = None) -> EncodedLog:
    """Map raw ids to dense ids (sorted raw order, from 1) and sort rows by user then time.

    Sorting is stable, so events with equal timestamps keep their order in the source file.
    """
    if len(log) == 0:
        raise ValueError(f"{log.name}: no interactions to encode")
    users = IdMap(np.unique(log.user), "user")
    items = IdMap(np.unique(log.item), "item")
    u, i = users.encode(log.user), items.encode(log.item)
    order = np.lexsort((np.arange(len(log)), log.timestamp, u))
    return EncodedLog(
        user=u[order],
        item=i[order],
        rating=log.rating[order].astype(np.float32),
        timestamp=log.timestamp[order].astype(np.int64),
        users=users,
        items=items,
        item_info=_side_table(log.items, items),
        user_info=_side_table(log.users, users),
        name=log.name,
        reports=list(reports or []),
    )
