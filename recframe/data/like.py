"""The "will the user like it?" protocol of TALLRec (Bao et al., "TALLRec: An Effective and Efficient
Tuning Framework to Align Large Language Model with Recommendation", RecSys 2023).

Built as the authors' ``preprocess_movie.py`` (SAI990323/TALLRec) builds it from ML-100K:

1. a rating ``> threshold`` (3) is a like;
2. users in the order they first appear in the log, each user's ratings sorted by time (stable);
3. every rating at position ``i >= window`` (10) is one example: the ``window`` previous items with
   their like labels as the history, item ``i`` as the target, its like label as the answer;
4. the last ``keep_last`` (10,000) examples in that order are kept and cut, in order, into the first
   80 % (train), the next 10 % (validation) and the last 10 % (test);
5. the model trains on ``train_samples`` examples drawn from the training share (16, 64, 256 in the
   paper; a fresh draw per seed) and is selected on the whole validation share by AUC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from recframe.data.interactions import IdMap, Interactions


@dataclass(frozen=True)
class LikeExamples:
    """Examples of the like protocol, in dense ids.

    Attributes:
        user: ``[N]`` dense user ids.
        history: ``[N, window]`` the previous items, oldest first.
        history_likes: ``[N, window]`` 1.0 where the user liked that history item, else 0.0.
        target: ``[N]`` the item asked about.
        label: ``[N]`` 1.0 if the user liked the target.
    """

    user: np.ndarray
    history: np.ndarray
    history_likes: np.ndarray
    target: np.ndarray
    label: np.ndarray

    def __len__(self) -> int:
        return len(self.user)

    def take(self, rows: np.ndarray) -> LikeExamples:
        return LikeExamples(*(getattr(self, f)[rows] for f in ("user", "history", "history_likes", "target", "label")))


def like_examples(log: Interactions, users: IdMap, items: IdMap, *, window: int, threshold: float) -> LikeExamples:
    """Every (history of ``window`` items, target) example of ``log``, in TALLRec's order (module docstring)."""
    if window < 1:
        raise ValueError(f"like window must be >= 1, got {window}")
    first_seen = {}
    for position, user in enumerate(log.user.tolist()):
        first_seen.setdefault(user, position)
    user_rank = np.array([first_seen[u] for u in log.user.tolist()])
    order = np.lexsort((np.arange(len(log)), log.timestamp, user_rank))  # user order, then time, then file
    user, item = log.user[order], log.item[order]
    liked = (log.rating[order] > threshold).astype(np.float32)
    starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]])
    ends = np.r_[starts[1:], len(user)]
    rows = np.concatenate([np.arange(s + window, e) for s, e in zip(starts, ends, strict=True)] or [np.zeros(0, int)])
    if not len(rows):
        raise ValueError(f"{log.name}: no user has more than window={window} ratings, so there is no like example")
    back = rows[:, None] - np.arange(window, 0, -1)[None, :]  # [N, window] rows of the history, oldest first
    return LikeExamples(
        user=users.encode(user[rows]),
        history=items.encode(item[back].reshape(-1)).reshape(len(rows), window),
        history_likes=liked[back],
        target=items.encode(item[rows]),
        label=liked[rows],
    )


def split_like(
    examples: LikeExamples, *, keep_last: int | None, shares: tuple[float, float], train_samples: int | None, seed: int
) -> dict[str, LikeExamples]:
    """The train / val / test examples: the last ``keep_last``, cut in order, then ``train_samples`` drawn."""
    if keep_last is not None:
        examples = examples.take(np.arange(max(len(examples) - keep_last, 0), len(examples)))
    n = len(examples)
    cut_train, cut_val = int(n * shares[0]), int(n * (shares[0] + shares[1]))
    parts = {
        "train": examples.take(np.arange(cut_train)),
        "val": examples.take(np.arange(cut_train, cut_val)),
        "test": examples.take(np.arange(cut_val, n)),
    }
    for name, part in parts.items():
        if not len(part):
            raise ValueError(f"the like protocol left no {name} examples ({n} examples, shares {shares})")
    if train_samples is not None:
        if not 1 <= train_samples <= len(parts["train"]):
            raise ValueError(f"train_samples must be in [1, {len(parts['train'])}], got {train_samples}")
        drawn = np.random.default_rng(seed).permutation(len(parts["train"]))[:train_samples]
        parts["train"] = parts["train"].take(np.sort(drawn))
    return parts


class LikeBatches(Dataset):
    """Batches of like examples: ``user``, ``history`` (+ ``history_likes``), ``target``, ``like``."""

    def __init__(self, examples: LikeExamples) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: np.ndarray) -> dict[str, torch.Tensor]:
        e = self.examples
        return {
            "user": torch.from_numpy(e.user[index]),
            "history": torch.from_numpy(e.history[index]),
            "history_likes": torch.from_numpy(e.history_likes[index]),
            "target": torch.from_numpy(e.target[index]),
            "like": torch.from_numpy(e.label[index]),
        }
