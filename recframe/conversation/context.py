"""What conversational backbones read about each event: its context utterances, as ids or as words.

The :class:`~recframe.conversation.datamodule.ConversationDataModule` stores each event's rendered
context in ``spec.user_info`` (columns ``context`` and ``utterances``). These helpers turn that into
arrays once, at construction, so a forward pass only indexes tensors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


ENCODER_KEYS = ("model", "pooling", "normalize", "batch_size", "cache", "progress")  # of text_features


@dataclass(frozen=True)
class UtteranceVectors:
    """The frozen vectors of every event's latest utterances, and the encoder that made them.

    Attributes:
        table: ``[N + 1, H]`` vectors of the distinct utterances; row 0 (no utterance) is zero.
        index: ``[n_users, L]`` rows of ``table`` per event, oldest first (0 = none).
        encode: the same frozen encoder for other texts (cached per text), ``list[str] -> [n, H]``.
        report: one line for the start-up report and ``run.json``.
    """

    table: torch.Tensor
    index: torch.Tensor
    encode: Callable[[list[str]], np.ndarray]
    report: str


def utterance_vectors(spec: DataSpec, text: dict[str, Any], *, window: int, max_length: int) -> UtteranceVectors:
    """Encode (or read from the per-text cache) the latest ``window`` utterances of every event.

    ``text`` holds validated settings of :func:`recframe.text.items.text_features`; its template is
    not used (utterances are encoded as they are).
    """
    from recframe.text.items import frozen_vectors

    settings = {k: text[k] for k in ENCODER_KEYS}

    def encode(texts: list[str]) -> np.ndarray:
        return frozen_vectors(texts, key=None, max_length=max_length, **settings)[0]

    texts, index = utterance_index(spec, last=window)
    vectors, identity, hit = frozen_vectors(texts, key=None, max_length=max_length, **settings)
    table = torch.cat([torch.zeros(1, vectors.shape[1]), torch.as_tensor(vectors)])
    line = f"utterances via {identity}: {len(texts):,} distinct{', all from the cache' if hit else ''}"
    return UtteranceVectors(table, index, encode, line)
