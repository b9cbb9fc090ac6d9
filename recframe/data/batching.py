"""Datasets that return whole batches, and the sampler that shards and shuffles their indices.

The DataLoader runs with ``batch_size=None`` and a :class:`BatchIndexSampler` that yields index
arrays; each dataset builds a batch from an index array with vectorised NumPy indexing. Batch keys
(the one batch vocabulary, see ``docs/conventions.md``):

- ``user`` ``[B]`` dense user ids;
- ``history`` ``[B, T]`` input items, right-padded with PAD (sequence backbones only);
- ``labels`` ``[B, T]`` the item after ``history[:, t]`` (training; PAD where there is none);
- ``targets`` ``[B, M]`` the items to rank (evaluation; right-padded with PAD);
- ``seen_rows`` / ``seen_items`` ``[S]`` the items each user already interacted with, as flat
  ``(row in batch, item)`` pairs (evaluation; masked out when ``exclude_seen`` is on);
- ``candidates`` ``[B, N]`` sampled negatives (sampled evaluation protocol only): the targets are
  ranked among these items alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from recframe.data.histories import Histories


class BatchIndexSampler(Sampler[np.ndarray]):
    """Yields arrays of example indices: shuffled per epoch from ``seed``, sharded across processes.

    With ``even=True`` (training) every process gets the same number of batches, wrapping around
    the permutation as ``DistributedSampler`` does. With ``even=False`` (evaluation) each example is
    seen by exactly one process, so no user is counted twice in sum-reduced metrics.

    With ``lengths`` (training windows), each run of ``BUCKET`` batches of the shuffled order is
    sorted by length before it is cut into batches, and the batches are then shuffled: batches hold
    windows of similar length and carry little padding, while every epoch still sees a fresh order.
    """

    BUCKET = 50

    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        even: bool = True,
        lengths: np.ndarray | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if n < 1:
            raise ValueError("cannot sample batches from an empty dataset")
        self.n, self.batch_size, self.shuffle, self.seed = n, batch_size, shuffle, seed
        self.rank, self.world_size, self.even = rank, world_size, even
        self.lengths = lengths
        self.epoch = 0
        self.start_batch = 0  # batches to skip on the next pass (mid-epoch resume)

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of each epoch; selects that epoch's permutation."""
        self.epoch = epoch

    def _indices(self) -> np.ndarray:
        order = np.arange(self.n)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        if self.world_size > 1:
            if self.even:
                per_rank = -(-self.n // self.world_size)
                order = np.resize(order, per_rank * self.world_size)  # wraps around like DistributedSampler
            order = order[self.rank :: self.world_size]
        return order

    def batches(self) -> list[np.ndarray]:
        """This epoch's batches for this process, in order."""
        idx = self._indices()
        batches = [idx[b : b + self.batch_size] for b in range(0, len(idx), self.batch_size)]
        if self.lengths is None or not self.shuffle:
            return batches
        span = self.BUCKET * self.batch_size
        for s in range(0, len(idx), span):
            chunk = idx[s : s + span]
            idx[s : s + span] = chunk[np.argsort(self.lengths[chunk], kind="stable")]
        batches = [idx[b : b + self.batch_size] for b in range(0, len(idx), self.batch_size)]
        order = np.random.default_rng([self.seed, self.epoch, 1]).permutation(len(batches))
        return [batches[i] for i in order]

    def __iter__(self) -> Iterator[np.ndarray]:
        start, self.start_batch = self.start_batch, 0
        yield from self.batches()[start:]

    def __len__(self) -> int:
        """Batches per epoch, without drawing the permutation (Lightning asks several times an epoch)."""
        if self.world_size == 1:
            examples = self.n
        elif self.even:
            examples = -(-self.n // self.world_size)
        else:
            examples = len(range(self.rank, self.n, self.world_size))
        return -(-examples // self.batch_size)


def batch_loader(
    data: Dataset,
    batch_size: int,
    *,
    train: bool,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
    num_workers: int = 0,
    lengths: np.ndarray | None = None,
) -> DataLoader:
    """A DataLoader over a batch-returning dataset: shuffled and evenly sharded when ``train``,
    each example exactly once across processes otherwise (see :class:`BatchIndexSampler`)."""
    sampler = BatchIndexSampler(
        len(data), batch_size, shuffle=train, seed=seed, rank=rank, world_size=world_size, even=train, lengths=lengths
    )
    return DataLoader(
        data, batch_size=None, sampler=sampler, num_workers=num_workers, persistent_workers=num_workers > 0
    )


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.int64))


class SequenceWindows(Dataset):
    """Training examples for sequence backbones: one window of a user's training history each."""

    def __init__(self, train: Histories, max_len: int, mode: str) -> None:
        self.train = train
        self.users, self.starts, self.lengths = train.windows(max_len, mode)

    def __len__(self) -> int:
        return len(self.users)

    def __getitem__(self, index: np.ndarray) -> dict[str, torch.Tensor]:
        lengths = self.lengths[index]
        seq = self.train.gather(self.starts[index], lengths, int(lengths.max()))  # [B, T + 1]
        history = seq[:, :-1] * (np.arange(seq.shape[1] - 1)[None, :] < (lengths - 1)[:, None])
        return {"user": _tensor(self.users[index]), "history": _tensor(history), "labels": _tensor(seq[:, 1:])}


class UserItemPairs(Dataset):
    """Training examples for non-sequential backbones (MF): one (user, item) pair each.

    With ``ratings`` (aligned with ``train.items``) each example also carries its rating
    (``ratings [B, 1]``, float32), for rating-prediction losses.
    """

    def __init__(self, train: Histories, ratings: np.ndarray | None = None) -> None:
        self.users = np.repeat(np.arange(train.n_users), train.lengths())
        self.items, self.ratings = train.items, ratings

    def __len__(self) -> int:
        return len(self.users)

    def __getitem__(self, index: np.ndarray) -> dict[str, torch.Tensor]:
        batch = {"user": _tensor(self.users[index]), "labels": _tensor(self.items[index][:, None])}
        if self.ratings is not None:
            batch["ratings"] = torch.from_numpy(np.ascontiguousarray(self.ratings[index][:, None], dtype=np.float32))
        return batch


class RatedPairs(Dataset):
    """Evaluation examples of the rating-prediction protocol: one (user, item, rating) each."""

    def __init__(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> None:
        self.users, self.items, self.ratings = users, items, ratings

    def __len__(self) -> int:
        return len(self.users)

    def __getitem__(self, index: np.ndarray) -> dict[str, torch.Tensor]:
        return {
            "user": _tensor(self.users[index]),
            "items": _tensor(self.items[index]),
            "ratings": torch.from_numpy(np.ascontiguousarray(self.ratings[index], dtype=np.float32)),
        }


class EvalUsers(Dataset):
    """Evaluation examples: one user each, with everything before the stage as history and mask."""

    def __init__(
        self,
        users: np.ndarray,
        seen: Histories,
        targets: Histories,
        max_len: int,
        sequential: bool,
        candidates: np.ndarray | None = None,
    ) -> None:
        self.users, self.seen, self.targets = users, seen, targets
        self.max_len, self.sequential, self.candidates = max_len, sequential, candidates

    def __len__(self) -> int:
        return len(self.users)

    def __getitem__(self, index: np.ndarray) -> dict[str, torch.Tensor]:
        users = self.users[index]
        rows, items = self.seen.flat(users)
        batch = {
            "user": _tensor(users),
            "targets": _tensor(self.targets.padded(users)),
            "seen_rows": _tensor(rows),
            "seen_items": _tensor(items),
        }
        if self.sequential:
            batch["history"] = _tensor(self.seen.last(users, self.max_len))
        if self.candidates is not None:
            batch["candidates"] = _tensor(self.candidates[users])
        return batch
