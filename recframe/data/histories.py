"""Per-user item sequences in CSR form, and the vectorised batch builders that read them.

Every batch is built with a handful of NumPy indexing operations over flat arrays — never one
Python object per interaction — so data loading stays negligible next to the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recframe.data.interactions import PAD


@dataclass(frozen=True)
class Histories:
    """Items of dense user ``u`` are ``items[indptr[u]:indptr[u + 1]]``, oldest first.

    Attributes:
        indptr: int64 ``[n_users + 1]``.
        items: int64 ``[nnz]`` dense item ids.
    """

    indptr: np.ndarray
    items: np.ndarray

    @classmethod
    def from_rows(cls, user: np.ndarray, item: np.ndarray, n_users: int) -> Histories:
        """Build from rows already sorted by (user, time)."""
        if len(user) > 1 and (np.diff(user) < 0).any():
            raise ValueError("Histories.from_rows needs rows sorted by user")
        counts = np.bincount(user, minlength=n_users)
        indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(indptr, np.ascontiguousarray(item, dtype=np.int64))

    @property
    def n_users(self) -> int:
        return len(self.indptr) - 1

    def lengths(self, users: np.ndarray | None = None) -> np.ndarray:
        """Number of items per user (all users, or those in ``users``)."""
        n = np.diff(self.indptr)
        return n if users is None else n[users]

    def gather(self, starts: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
        """Rows ``items[starts[b] : starts[b] + lengths[b]]``, right-padded with PAD to ``width``."""
        offsets = np.arange(width)
        idx = starts[:, None] + offsets[None, :]  # [B, W]
        valid = offsets[None, :] < lengths[:, None]
        if len(self.items) == 0:
            return np.zeros(idx.shape, dtype=np.int64)
        return np.where(valid, self.items[np.minimum(idx, len(self.items) - 1)], PAD)

    def last(self, users: np.ndarray, max_len: int) -> np.ndarray:
        """The last ``max_len`` items of each user, right-padded: ``[B, T]`` with ``T <= max_len``."""
        n = self.lengths(users)
        take = np.minimum(n, max_len)
        width = max(int(take.max(initial=0)), 1)
        return self.gather(self.indptr[users + 1] - take, take, width)

    def padded(self, users: np.ndarray) -> np.ndarray:
        """All items of each user, right-padded to the longest in the batch: ``[B, M]``."""
        n = self.lengths(users)
        return self.gather(self.indptr[users], n, max(int(n.max(initial=0)), 1))

    def flat(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, items)`` with one entry per item of each user; ``rows`` indexes ``users``."""
        n = self.lengths(users)
        total = int(n.sum())
        rows = np.repeat(np.arange(len(users)), n)
        first = np.repeat(self.indptr[users] - np.cumsum(n) + n, n)  # start of each row minus its offset
        return rows, self.items[first + np.arange(total)]

    def windows(self, max_len: int, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Training windows of up to ``max_len + 1`` consecutive items: ``(users, starts, lengths)``.

        A window of ``L`` items yields ``L - 1`` (input, next item) pairs. ``mode='last'`` takes each
        user's most recent window (SASRec/S3-Rec); ``'all'`` tiles the whole history from the end with
        windows overlapping by one item, so every item after the first is a label exactly once.
        Users with fewer than two items yield no window.
        """
        n = self.lengths()
        users = np.flatnonzero(n >= 2)
        n_u, end_u = n[users], self.indptr[users + 1]
        if mode == "last":
            length = np.minimum(n_u, max_len + 1)
            return users, end_u - length, length
        if mode != "all":
            raise ValueError(f"unknown train_windows {mode!r}; known: ['all', 'last']")
        count = -(-(n_u - 1) // max_len)  # ceil((n - 1) / max_len) windows per user
        rep_users = np.repeat(users, count)
        k = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)  # 0 = most recent
        end = np.repeat(end_u, count) - k * max_len
        start = np.maximum(end - max_len - 1, np.repeat(self.indptr[users], count))
        return rep_users, start, end - start
