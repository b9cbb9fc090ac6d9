"""Dialogue state: what the conversation so far says about the seeker, updated one utterance at a time.

The state holds the utterances; the items mentioned (who named them first); the items the seeker
liked, disliked or has seen; what the recommender suggested and which suggestions the seeker turned
down; and the attribute values (genres, people, decades) the seeker asked for or ruled out. Item
sentiment comes from a label map (the questionnaire, or
:class:`~recframe.conversation.sentiment.SentimentModel` predictions); "seen" and the attributes are
read from the seeker's words with a documented lexicon — simple on purpose, so every entry can be
traced to the words that set it.
NOTE: an attribute is *rejected* when a negation ("no", "not", "don't", "hate", "without", ...) occurs
at most three words before it in the same seeker utterance, otherwise *accepted*; a later mention
overrides an earlier one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from recframe.conversation.dialogue import DISLIKED, LIKED, RECOMMENDER, SEEKER, Utterance

NEGATIONS = {"no", "not", "don't", "dont", "never", "hate", "hated", "dislike", "without", "except", "nothing", "isn't"}
SEEN_WORDS = re.compile(r"\b(seen|saw|watched)\b", re.IGNORECASE)
DECADE = re.compile(r"\b(?:19|20)?([0-9])0'?s\b")
ATTRIBUTE_COLUMNS = ("genres", "directors", "actors")
WINDOW = 3  # words before an attribute in which a negation rejects it


def attribute_lexicon(catalogue: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """``{lower-cased value: (column, value)}`` of the catalogue's genres, directors and actors."""
    out: dict[str, tuple[str, str]] = {}
    for column in ATTRIBUTE_COLUMNS:
        if column not in catalogue.columns:
            continue
        for values in catalogue[column]:
            for value in values if isinstance(values, list) else []:
                if len(value) > 2:
                    out.setdefault(value.lower(), (column, value))
    return out


@dataclass
class DialogueState:
    """The running state of one dialogue; ``update`` folds in the next utterance.

    Attributes:
        utterances: every utterance so far.
        mentioned: item -> speaker of its first mention, in order.
        liked / disliked / seen: items, from the sentiment labels and the seeker's words.
        recommended: items the recommender suggested, in order.
        rejected: suggestions the seeker disliked (a recommended item that turned out disliked).
        accepted_attributes / rejected_attributes: ``(column, value)`` pairs (``("genres", "horror")``,
            ``("decade", "1990s")``) the seeker asked for or ruled out.
    """

    lexicon: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)
    utterances: list[Utterance] = field(default_factory=list)
    mentioned: dict[str, str] = field(default_factory=dict)
    liked: set[str] = field(default_factory=set)
    disliked: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)
    recommended: list[str] = field(default_factory=list)
    rejected: set[str] = field(default_factory=set)
    accepted_attributes: set[tuple[str, str]] = field(default_factory=set)
    rejected_attributes: set[tuple[str, str]] = field(default_factory=set)

    def update(self, utterance: Utterance, sentiment: dict[str, str] | None = None) -> DialogueState:
        """Fold in one utterance; ``sentiment`` gives the seeker's label of items it mentions."""
        self.utterances.append(utterance)
        for item in utterance.items:
            self.mentioned.setdefault(item, utterance.speaker)
            if utterance.speaker == RECOMMENDER and item not in self.recommended:
                self.recommended.append(item)
            label = (sentiment or {}).get(item)
            if label is not None:
                self.set_sentiment(item, label)
        if utterance.speaker == SEEKER:
            if utterance.items and SEEN_WORDS.search(utterance.text):
                self.seen.update(utterance.items)
            self._attributes(utterance.text)
        return self

    def set_sentiment(self, item: str, label: str) -> None:
        """Mark ``item`` liked or disliked (``unknown`` clears neither); a disliked suggestion is rejected."""
        if label == LIKED:
            self.liked.add(item)
            self.disliked.discard(item)
            self.rejected.discard(item)
        elif label == DISLIKED:
            self.disliked.add(item)
            self.liked.discard(item)
            if item in self.recommended:
                self.rejected.add(item)

    def _attributes(self, text: str) -> None:
        lowered = text.lower()
        found: list[tuple[int, tuple[str, str]]] = []
        for value, attribute in self.lexicon.items():
            for match in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", lowered):
                found.append((match.start(), attribute))
        for match in DECADE.finditer(lowered):
            digit = match.group(1)
            century = "19" if not match.group(0).startswith("20") else "20"
            found.append((match.start(), ("decade", f"{century}{digit}0s")))
        for start, attribute in found:
            before = re.findall(r"[a-z']+", lowered[:start])[-WINDOW:]
            if NEGATIONS & set(before):
                self.rejected_attributes.add(attribute)
                self.accepted_attributes.discard(attribute)
            else:
                self.accepted_attributes.add(attribute)
                self.rejected_attributes.discard(attribute)
