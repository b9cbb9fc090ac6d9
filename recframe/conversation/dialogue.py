"""Dialogues as data: utterances with the items they mention, the seeker's sentiment, and the catalogue.

Every conversational dataset parser returns a :class:`Dialogues`: a list of :class:`Dialogue` (each a
list of :class:`Utterance` by the ``seeker`` or the ``recommender``) and one item catalogue (a table
indexed by raw item id, with at least a ``title`` column). Items inside utterance text are written
``@<raw id>`` (digits) and resolved with :func:`render` to their titles, so text never carries raw ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

SEEKER, RECOMMENDER = "seeker", "recommender"
SPEAKERS = (SEEKER, RECOMMENDER)
SPEAKER_NAMES = {SEEKER: "Seeker", RECOMMENDER: "Recommender"}
LIKED, DISLIKED, UNKNOWN = "liked", "disliked", "unknown"
SENTIMENTS = (LIKED, DISLIKED, UNKNOWN)
EXTRA_TRAIN = "train_extra"  # the split of dialogues from other sources that only ever train
MENTION = re.compile(r"@(\d+)")  # raw item ids are digits in every parser


@dataclass(frozen=True)
class Utterance:
    """One message: who said it, its text (items as ``@<raw id>``), and the raw ids it mentions in order."""

    speaker: str
    text: str
    items: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.speaker not in SPEAKERS:
            raise ValueError(f"unknown speaker {self.speaker!r}; known: {list(SPEAKERS)}")


@dataclass(frozen=True)
class Dialogue:
    """One conversation.

    Attributes:
        id: the dataset's conversation id.
        utterances: the messages in order.
        sentiment: the seeker's labelled sentiment per mentioned raw item id (``liked``, ``disliked``
            or ``unknown``), from the dataset's questionnaires; items without a label are absent.
        suggested: raw ids the dataset marks as suggested by the recommender (ReDial's form).
        turns: the utterance indices that are evaluated recommendation turns, for sources that ship
            their turns ready-made (iEvaLM's processed files); None = every recommender utterance that
            mentions items (:func:`recframe.conversation.turns.recommendation_turns`).
    """

    id: str
    utterances: tuple[Utterance, ...]
    sentiment: dict[str, str] = field(default_factory=dict)
    suggested: frozenset[str] = frozenset()
    turns: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Dialogues:
    """A conversational dataset: dialogues, the catalogue they recommend from, and what loading found.

    Attributes:
        dialogues: every dialogue, by split name (``train``, ``test``; ``val`` when the source has one;
            ``train_extra``: dialogues from other sources that join training only, never validation).
        catalogue: item metadata indexed by raw item id (string); column ``title`` at least, optionally
            ``genres``/``directors``/``actors`` (lists), ``plot``, ``year``.
        name: dataset name for messages and records.
        reports: what the parser counted (unknown mentions, fallbacks), printed with the data summary.
    """

    dialogues: dict[str, list[Dialogue]]
    catalogue: pd.DataFrame
    name: str
    reports: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if "title" not in self.catalogue.columns:
            raise ValueError(f"{self.name}: the catalogue needs a 'title' column, got {list(self.catalogue.columns)}")
        if not self.catalogue.index.is_unique:
            dup = self.catalogue.index[self.catalogue.index.duplicated()][0]
            raise ValueError(f"{self.name}: item {dup!r} appears twice in the catalogue")
        for split, items in self.dialogues.items():
            if not items:
                raise ValueError(f"{self.name}: the {split} split has no dialogues")


def mentioned(text: str) -> tuple[str, ...]:
    """Raw ids written as ``@<id>`` in ``text``, in order (repeats kept)."""
    return tuple(MENTION.findall(text))


def line(utterance: Utterance, titles: dict[str, str] | pd.Series) -> str:
    """``Seeker: <text>`` / ``Recommender: <text>`` with items by title: how models read an utterance."""
    return f"{SPEAKER_NAMES[utterance.speaker]}: {render(utterance.text, titles)}"


def render(text: str, titles: dict[str, str] | pd.Series) -> str:
    """``text`` with every ``@<id>`` replaced by the item's title; unknown ids raise, naming the id."""

    def title(match: re.Match) -> str:
        raw = match.group(1)
        try:
            return str(titles[raw])
        except KeyError:
            raise KeyError(f"utterance mentions unknown item @{raw}: {text[:80]!r}") from None

    return MENTION.sub(title, text)
