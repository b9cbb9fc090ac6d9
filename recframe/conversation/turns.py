"""The turn-level protocol: every recommender utterance that mentions items is one recommendation turn.

A turn's *context* is every earlier utterance; its *targets* are the distinct items the recommender
mentions in it. Each target is one evaluation event, ranked against the whole catalogue given the
context. About a tenth of ReDial's targets were already mentioned earlier in the dialogue; repeating
the mentioned items then scores without any understanding, so two variants are reported
(Kostric & Balog, SIGIR 2026):

- ``all``: every target, the catalogue ranked as is;
- ``dedup`` (the headline): targets already mentioned in the context are removed, and so are the
  context's items from the ranking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from recframe.conversation.dialogue import RECOMMENDER, UNKNOWN, Dialogue, Utterance, line

VARIANTS = ("dedup", "all")


def sample_turns(turns: list, limit: int | None, seed: int) -> list:
    """A seeded sample of ``limit`` turns in their original order (all of them without ``limit``)."""
    if limit is None or limit >= len(turns):
        return turns
    chosen = np.random.default_rng(seed).choice(len(turns), limit, replace=False)
    return [turns[k] for k in sorted(chosen)]


@dataclass(frozen=True)
class Turn:
    """One recommendation turn.

    Attributes:
        dialogue: the conversation id.
        index: position of the recommender's utterance in the dialogue (>= 1: the context is never empty).
        context: the utterances before it.
        mentioned: distinct items mentioned in the context, in order of first mention.
        mentioned_by: the speaker of each of those first mentions.
        sentiment: the seeker's labelled sentiment of each mentioned item (``unknown`` without a label).
        targets: distinct items the recommender mentions in this utterance, in order.
        response: the recommender's utterance itself (never shown to a model).
    """

    dialogue: str
    index: int
    context: tuple[Utterance, ...]
    mentioned: tuple[str, ...]
    mentioned_by: tuple[str, ...]
    sentiment: tuple[str, ...]
    targets: tuple[str, ...]
    response: Utterance

    @property
    def new_targets(self) -> tuple[str, ...]:
        """The targets not mentioned earlier (what the ``dedup`` variant evaluates)."""
        seen = set(self.mentioned)
        return tuple(t for t in self.targets if t not in seen)

    def events(self, variant: str) -> tuple[str, ...]:
        """The targets evaluated under ``variant``: all of them, or only the new ones."""
        if variant not in VARIANTS:
            raise ValueError(f"unknown conversation variant {variant!r}; known: {list(VARIANTS)}")
        return self.targets if variant == "all" else self.new_targets


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def recommendation_turns(dialogue: Dialogue, *, every_speaker: bool = False) -> list[Turn]:
    """The recommendation turns of one dialogue, in order.

    ``every_speaker`` also makes a turn of every *seeker* utterance that mentions items (the items a
    seeker names next are a training signal too: more training events from the same dialogues);
    evaluation always uses the recommender's turns.
    """
    turns = []
    mentioned: dict[str, str] = {}  # item -> speaker of its first mention
    for index, utterance in enumerate(dialogue.utterances):
        if dialogue.turns is not None:
            chosen = index in dialogue.turns
        else:
            chosen = every_speaker or utterance.speaker == RECOMMENDER
        if chosen and utterance.items and index > 0:
            turns.append(
                Turn(
                    dialogue.id,
                    index,
                    dialogue.utterances[:index],
                    tuple(mentioned),
                    tuple(mentioned.values()),
                    tuple(dialogue.sentiment.get(i, UNKNOWN) for i in mentioned),
                    _unique(utterance.items),
                    utterance,
                )
            )
        for item in utterance.items:
            mentioned.setdefault(item, utterance.speaker)
    return turns


def context_lines(turn: Turn, titles: dict[str, str], last: int | None = None) -> list[str]:
    """The context as ``Seeker: ...`` / ``Recommender: ...`` lines, items by title.

    ``last`` keeps only the most recent utterances (None keeps them all).
    """
    utterances = turn.context if last is None else turn.context[-last:]
    return [line(u, titles) for u in utterances]
