"""What conversational backbones read about each event: its context utterances, as ids or as words.

The :class:`~recframe.conversation.datamodule.ConversationDataModule` stores each event's rendered
context in ``spec.user_info`` (columns ``context`` and ``utterances``). These helpers turn that into
arrays once, at construction, so a forward pass only indexes tensors.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from recframe.data.datamodule import DataSpec

WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens (the bag-of-words tokenizer of BM25 and the tests)."""
    return WORD.findall(text.lower())


def event_column(spec: DataSpec, column: str) -> list:
    """``spec.user_info[column]`` per dense event id (row 0 = PAD), or a clear error without it."""
    info = spec.user_info
    if info is None or column not in info.columns:
        raise ValueError(
            f"this backbone reads each event's dialogue ({column!r} in the user table), which only a "
            f"conversational dataset provides (data from {spec.name} has none)"
        )
    return info[column].tolist()


def utterance_index(spec: DataSpec, last: int | None = None) -> tuple[list[str], torch.Tensor]:
    """The distinct context utterances and, per event, the ids of its latest ``last`` ones.

    Returns ``(texts [N], index [n_users, L])`` with ``index`` holding ``1..N`` (0 = none), oldest
    first, right-padded: utterance ``k`` is ``texts[k - 1]``.
    """
    rows = [u if isinstance(u, list) else [] for u in event_column(spec, "utterances")]
    if last is not None:
        rows = [r[-last:] for r in rows]
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab) + 1) for t in r] for r in rows]
    index = np.zeros((len(ids), max((len(r) for r in ids), default=0) or 1), dtype=np.int64)
    for row, r in enumerate(ids):
        index[row, : len(r)] = r
    return list(vocab), torch.as_tensor(index)
