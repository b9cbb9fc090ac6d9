"""Split protocols: leave-one-out by time, global temporal, per-user ratio.

A split labels every row of an :class:`~recframe.data.interactions.EncodedLog` (sorted by user, then
time) with a stage: ``TRAIN``, ``VALID`` or ``TEST``. Each protocol is a registered function
``(log, **kwargs) -> stage array``; none drops rows, so train + valid + test is the whole log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from recframe.data.interactions import EncodedLog
from recframe.registry import Registry

TRAIN, VALID, TEST = 0, 1, 2
STAGE_NAMES = {TRAIN: "train", VALID: "val", TEST: "test"}

SPLITS: Registry[Callable[..., np.ndarray]] = Registry("split")


def position_in_user(user: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by user: each row's 0-based position in its user's block, and the block size."""
    starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]])
    sizes = np.diff(np.r_[starts, len(user)])
    size_per_row = np.repeat(sizes, sizes)
    pos = np.arange(len(user)) - np.repeat(starts, sizes)
    return pos, size_per_row


@SPLITS.register("leave_one_out")
def leave_one_out(log: EncodedLog, min_length: int = 3) -> np.ndarray:
    """Each user's last event is test, the one before validation, the rest train.

    Users with fewer than ``min_length`` events stay wholly in train (they are counted in the split
    summary), as in the SASRec and S3-Rec code.
    """
    if min_length < 3:
        raise ValueError(f"leave_one_out needs min_length >= 3 (train, val, test), got {min_length}")
    pos, size = position_in_user(log.user)
    stage = np.full(len(log), TRAIN, dtype=np.int8)
    long_enough = size >= min_length
    stage[long_enough & (pos == size - 1)] = TEST
    stage[long_enough & (pos == size - 2)] = VALID
    return stage


def _check_ratios(ratios: Sequence[float]) -> np.ndarray:
    r = np.asarray(ratios, dtype=np.float64)
    if r.shape != (3,) or (r < 0).any() or not np.isclose(r.sum(), 1.0) or r[0] <= 0:
        raise ValueError(f"ratios must be three non-negative numbers summing to 1 with train > 0, got {list(ratios)}")
    return r


@SPLITS.register("temporal")
def temporal(log: EncodedLog, ratios: Sequence[float] = (0.8, 0.1, 0.1)) -> np.ndarray:
    """Global time cut: the earliest ``ratios[0]`` of all events train, the next validation, the last test.

    Events are ordered by timestamp (ties by user, then source order), so no training event is later
    than any test event.
    """
    r = _check_ratios(ratios)
    order = np.lexsort((np.arange(len(log)), log.user, log.timestamp))
    cuts = np.floor(np.cumsum(r)[:2] * len(log)).astype(np.int64)
    stage_sorted = np.full(len(log), TRAIN, dtype=np.int8)
    stage_sorted[cuts[0] : cuts[1]] = VALID
    stage_sorted[cuts[1] :] = TEST
    stage = np.empty_like(stage_sorted)
    stage[order] = stage_sorted
    return stage


@SPLITS.register("ratio")
def ratio(
    log: EncodedLog, ratios: Sequence[float] = (0.8, 0.1, 0.1), order: str = "random", seed: int = 0
) -> np.ndarray:
    """Per-user split by ratio, events shuffled (``order='random'``) or in time order (``'time'``).

    Counts follow RecBole's ``split_by_ratio``: validation and test get ``floor(ratio * n)`` events,
    raised to one when ``ratio * n`` is in (0, 1) and the user keeps at least one training event.
    """
    r = _check_ratios(ratios)
    if order not in ("random", "time"):
        raise ValueError(f"ratio split order must be 'random' or 'time', got {order!r}")
    pos, size = position_in_user(log.user)
    if order == "random":
        key = np.random.default_rng(seed).random(len(log))
        # Rows are already grouped by user, so sorting by (user, key) keeps the blocks in place and
        # only permutes rows within each block: row rank[j] takes the within-user position of slot j.
        rank = np.lexsort((key, log.user))
        shuffled = np.empty_like(pos)
        shuffled[rank] = pos
        pos = shuffled
    n_test = np.floor(r[2] * size).astype(np.int64)
    n_val = np.floor(r[1] * size).astype(np.int64)
    for n_k, r_k in ((n_test, r[2]), (n_val, r[1])):
        bump = (n_k == 0) & (r_k * size > 0) & (size - n_test - n_val > 1)
        n_k += bump
    stage = np.full(len(log), TRAIN, dtype=np.int8)
    stage[pos >= size - n_test] = TEST
    stage[(pos >= size - n_test - n_val) & (pos < size - n_test)] = VALID
    return stage


@SPLITS.register("kfold")
def kfold(log: EncodedLog, folds: int = 5, fold: int = 0, seed: int = 0, val_ratio: float = 0.0) -> np.ndarray:
    """K-fold cross-validation over interactions (Surprise's ``KFold``): fold ``fold`` is test.

    Interactions are shuffled with ``seed`` and dealt into ``folds`` equal parts; ``val_ratio`` of
    the remaining ones become validation (0 keeps all for training, as Surprise does, and the
    experiment then trains a fixed number of epochs).
    """
    if folds < 2 or not 0 <= fold < folds:
        raise ValueError(f"kfold needs folds >= 2 and 0 <= fold < folds, got folds={folds}, fold={fold}")
    if not 0.0 <= val_ratio < 1.0:
        raise ValueError(f"kfold val_ratio must be in [0, 1), got {val_ratio}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(log))
    part = np.empty(len(log), dtype=np.int64)
    part[order] = np.arange(len(log)) * folds // len(log)
    stage = np.where(part == fold, TEST, TRAIN).astype(np.int8)
    if val_ratio > 0:
        rest = np.flatnonzero(stage == TRAIN)
        pick = rng.permutation(len(rest))[: round(val_ratio * len(rest))]
        stage[rest[pick]] = VALID
    return stage


def summarize(log: EncodedLog, stage: np.ndarray, protocol: str) -> str:
    """One line per stage: rows and users, used in start-up output and error messages."""
    lines = [f"split {protocol}:"]
    for code, name in STAGE_NAMES.items():
        rows = stage == code
        lines.append(f"  {name}: {int(rows.sum()):,} interactions, {len(np.unique(log.user[rows])):,} users")
    return "\n".join(lines)


def check_nonempty(log: EncodedLog, stage: np.ndarray, protocol: str, allow_empty_val: bool = False) -> None:
    """Raise if a stage is empty, naming the protocol and the filters that ran before it."""
    for code in (TRAIN, VALID, TEST):
        if code == VALID and allow_empty_val:
            continue
        if not (stage == code).any():
            filters = "; ".join(str(r) for r in log.reports) or "no filters"
            raise ValueError(
                f"split {protocol!r} left the {STAGE_NAMES[code]} set of {log.name} empty "
                f"({len(log):,} interactions after: {filters})"
            )
