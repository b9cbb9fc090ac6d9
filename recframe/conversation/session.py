"""The Conversation API: talk to a trained model, fold in feedback each turn, and get explained lists.

>>> conv = Conversation.load("runs/redial/dialogue/<run>")          # doctest: +SKIP
>>> recs = conv.say("I loved Alien but I want something funnier, no horror")  # doctest: +SKIP
>>> recs[0].title, recs[0].reasons                                   # doctest: +SKIP

Each turn: the message is read (:mod:`recframe.conversation.understand`), the dialogue state is
updated, ψ is recomputed from the whole dialogue (:mod:`recframe.conversation.profile`) and the
catalogue re-ranked. Hard rules sit on top of the model's scores and hold in every later list:
items already mentioned, liked, disliked, seen or rejected never come back; a rejected attribute
excludes every item that has it; accepted genres and decades keep only items with one of them;
accepted people (actors, directors) put the items they appear in first. Reasons are the score's own
parts (see :meth:`Conversation.reasons`), and :func:`unfaithful` checks each against the item and the dialogue.
NOTE: what the ψ of a live dialogue reads: every utterance and mentioned item, as in training, except
the system's own lists (a list is not something the seeker said) and, for models without sentiment
weights, items the seeker disliked (they would pull ψ towards themselves).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from recframe.conversation.catalogue import PEOPLE, Catalogue
from recframe.conversation.dialogue import DISLIKED, LIKED, RECOMMENDER, SEEKER, UNKNOWN, Utterance, line
from recframe.conversation.profile import Context, DialogueProfile, HistoryProfile, Scored, profile_of
from recframe.conversation.state import DialogueState
from recframe.conversation.understand import SEEN, understand

CLASS_OF = {LIKED: 0, DISLIKED: 1, UNKNOWN: 2}  # recframe.conversation.sentiment.CLASSES
MAX_MESSAGE = 1000  # characters read from one message; longer ones are cut with a notice
LLM_SYSTEM = (
    "You are a movie recommender. In one or two sentences, recommend the movies listed below to the user, "
    "citing the reasons given in brackets. Mention no other titles."
)
COLUMN_NAMES = {"genres": "genre", "directors": "director", "actors": "actor", "writers": "writer", "decade": "decade"}


@dataclass(frozen=True)
class Reason:
    """One cited cause of a recommendation.

    ``kind`` is ``attribute`` (``value`` = ``(column, value)``, an attribute of the item the seeker
    asked for), ``liked`` (``value`` = raw id of an item liked in this dialogue whose share of the
    score is positive) or ``utterance`` (``value`` = index into the dialogue's utterances: the
    seeker's message with the largest positive share).
    """

    kind: str
    value: Any
    text: str


@dataclass(frozen=True)
class Recommendation:
    """A recommended item: raw id, title, model score, and why."""

    item: str
    title: str
    score: float
    reasons: tuple[Reason, ...] = ()


@dataclass
class Turn:
    """What one call changed: the reply text and the notes (did-you-mean, truncation, empty list)."""

    response: str = ""
    notes: list[str] = field(default_factory=list)


class Conversation:
    """A live dialogue with a trained model.

    Args:
        profile: the model (:func:`~recframe.conversation.profile.profile_of`).
        catalogue: titles and attributes of its items.
        k: list length.
        mask_mentioned: keep items already mentioned (and liked) out of every list, as the ``dedup``
            protocol does; False lets them come back (the ``all`` protocol of offline evaluation).
        attribute_rules: accepted genres and decades filter the list and accepted people lead it;
            False leaves accepted attributes to the model alone (they are still in the dialogue text
            ψ reads) — the ablation that measures what the learned profile does with them.
            Rejections (disliked items, rejected lists and attributes) always hold.
    """

    def __init__(
        self,
        profile: DialogueProfile | HistoryProfile,
        catalogue: Catalogue,
        *,
        k: int = 10,
        mask_mentioned: bool = True,
        attribute_rules: bool = True,
    ) -> None:
        if k < 1:
            raise ValueError(f"a list needs k >= 1, got {k}")
        self.profile, self.catalogue, self.k = profile, catalogue, k
        self.mask_mentioned, self.attribute_rules = mask_mentioned, attribute_rules
        self.llm = None  # an LLM backend (recframe.conversation.llm) writes the replies; None = templates
        self.source: dict[str, str] = {}  # checkpoint and experiment, when loaded from a run
        self.config: dict[str, Any] = {}  # the run's resolved config, when loaded from a run
        self.transcript: list[dict[str, Any]] = []  # kept across resets (a reset is logged)
        self.state = DialogueState()
        self.reset()

    @classmethod
    def load(cls, target: str, overrides: Iterable[str] = (), *, k: int = 10, **kwargs: Any) -> Conversation:
        """The model of a run directory or checkpoint (a conversational or any sequential experiment)."""
        from recframe.training import engine

        path, cfg, data, module = engine._restore(target, list(overrides))
        state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
        catalogue = Catalogue(data.log_.items.raw, data.spec.item_info, data.spec.item_popularity)
        conversation = cls(profile_of(module.backbone, cfg["backbone"]["name"]), catalogue, k=k, **kwargs)
        conversation.source = {"checkpoint": str(path), "experiment": module.hparams["meta"]["experiment"]}
        conversation.config = cfg
        return conversation

    # --- state ---------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the dialogue: utterances, feedback, constraints and the last list (the transcript notes it)."""
        if self.state.utterances:
            self.transcript.append({"event": "reset"})
        self.state = DialogueState()
        self.last: list[Recommendation] = []
        self.focus: int | None = None
        self.turn = Turn()
        self.heard = None  # the last message's Understanding

    def _raw(self, item: int) -> str:
        return self.catalogue.raw[item]

    def _dense(self, items: Iterable[str]) -> list[int]:
        return [self.catalogue.dense[i] for i in items]

    def observe(self, utterance: Utterance, sentiment: dict[str, str] | None = None) -> None:
        """Add an utterance as it was said (``@<raw id>`` mentions), e.g. a recorded dialogue's context."""
        self.state.update(utterance, sentiment)
        self._log(utterance.speaker, utterance.text, items=list(utterance.items))

    def _log(self, speaker: str, text: str, **extra: Any) -> None:
        self.transcript.append({"speaker": speaker, "text": text, **extra})

    # --- turns ---------------------------------------------------------------------------------------------

    def say(self, text: str) -> list[Recommendation]:
        """The seeker says ``text``; returns the new list (``self.turn`` holds the reply and notes)."""
        turn = self.hear(text)
        if turn is None:
            self.turn = Turn("Tell me a movie you liked, or what you are in the mood for.", ["empty message"])
            return self.last
        return self._recommend(turn, self.k)

    def hear(self, text: str) -> Turn | None:
        """Fold the seeker's ``text`` into the state without answering (None for an empty message)."""
        turn = Turn()
        text = text.strip()
        if not text:
            return None
        if len(text) > MAX_MESSAGE:
            turn.notes.append(f"your message was cut to its first {MAX_MESSAGE} characters")
            text = text[:MAX_MESSAGE]
        heard = understand(text, self.catalogue)
        items = [item for item, _ in heard.items]
        self.state.update(Utterance(SEEKER, text.replace("@", " "), tuple(self._raw(i) for i in items)))
        for item, sentiment in heard.items:
            self._set(item, sentiment)
        for position, sentiment in heard.positions:
            item = self._at(position, turn)
            if item is not None and sentiment != UNKNOWN:
                self._set(item, sentiment)
        if heard.focus is not None and (target := self._focus()) is not None:
            self._set(target, heard.focus)
        if heard.critique:
            self.state.rejected.update(r.item for r in self.last if r.item not in self.state.liked)
        for attribute in heard.accepted:
            self.state.accepted_attributes.add(attribute)
            self.state.rejected_attributes.discard(attribute)
        for attribute in heard.rejected:
            self.state.rejected_attributes.add(attribute)
            self.state.accepted_attributes.discard(attribute)
        for phrase, near in heard.unknown_titles:
            turn.notes.append(f"I don't know {phrase!r}; did you mean {' or '.join(repr(t) for t in near)}?")
        self._log(SEEKER, text, understood=_summary(heard, self.catalogue))
        self.heard = heard
        return turn

    def like(self, item: str | int) -> list[Recommendation]:
        """Mark ``item`` (raw id or title) liked and re-rank."""
        self._set(self.catalogue.item(item), LIKED, mention=True)
        self._log(SEEKER, f"/like {item}", feedback=LIKED, item=self._raw(self.catalogue.item(item)))
        return self._recommend(Turn(), self.k)

    def dislike(self, item: str | int) -> list[Recommendation]:
        """Mark ``item`` (raw id or title) disliked: it never comes back; re-rank."""
        self._set(self.catalogue.item(item), DISLIKED, mention=True)
        self._log(SEEKER, f"/dislike {item}", feedback=DISLIKED, item=self._raw(self.catalogue.item(item)))
        return self._recommend(Turn(), self.k)

    def ask(self, column: str, text: str | None = None) -> str:
        """The recommender asks about an attribute (``genres``, ``actors``, ...); the question joins the dialogue."""
        question = text or f"Which {COLUMN_NAMES.get(column, column)} do you like?"
        self.state.update(Utterance(RECOMMENDER, question))
        self._log(RECOMMENDER, question, asked=column)
        return question

    def _set(self, item: int, sentiment: str, *, mention: bool = False) -> None:
        raw = self._raw(item)
        if mention:
            self.state.mentioned.setdefault(raw, SEEKER)
        if sentiment == SEEN:
            self.state.seen.add(raw)
        self.state.set_sentiment(raw, sentiment)
        if sentiment == DISLIKED and raw in {r.item for r in self.last}:
            self.state.rejected.add(raw)
        self.focus = item

    def _at(self, position: int, turn: Turn) -> int | None:
        if not self.last:
            turn.notes.append("there is no list yet to point at")
            return None
        index = len(self.last) - 1 if position == -1 else position - 1
        if not 0 <= index < len(self.last):
            turn.notes.append(f"the list has {len(self.last)} items; there is no number {position}")
            return None
        return self.catalogue.dense[self.last[index].item]

    def _focus(self) -> int | None:
        if self.focus is not None:
            return self.focus
        return self.catalogue.dense[self.last[0].item] if self.last else None

    # --- ranking -------------------------------------------------------------------------------------------

    def context(self) -> Context:
        """What ψ reads now (see the module NOTE)."""
        lines = [line(u, self.catalogue.title_of) for u in self.state.utterances]
        keep_disliked = self.profile.reads_text and self.profile.weights_by_sentiment
        items, classes = [], []
        for raw in self.state.mentioned:
            label = LIKED if raw in self.state.liked else DISLIKED if raw in self.state.disliked else UNKNOWN
            if label == DISLIKED and not keep_disliked:
                continue
            items.append(self.catalogue.dense[raw])
            classes.append(CLASS_OF[label])
        return Context(lines, items, classes)

    def allowed(self) -> np.ndarray:
        """Bool ``[I]``: the items a list may hold under the hard rules (module docstring)."""
        ok = np.ones(len(self.catalogue), dtype=bool)
        ok[0] = False
        state = self.state
        never = state.disliked | state.rejected | state.seen
        if self.mask_mentioned:
            never |= set(state.mentioned) | state.liked
        ok[self._dense(never)] = False
        for column, value in state.rejected_attributes:
            ok &= ~self.catalogue.having(column, {value})
        for column in ("genres", "decade") if self.attribute_rules else ():
            wanted = {v for c, v in state.accepted_attributes if c == column}
            if wanted:
                ok &= self.catalogue.having(column, wanted)
        return ok

    def recommend(self, k: int | None = None) -> list[Recommendation]:
        """Show the current top-``k`` list (default ``self.k``): it becomes the list that feedback points at."""
        return self._recommend(Turn(), k or self.k)

    def ranking(self, k: int | None = None) -> list[Recommendation]:
        """The current top-``k`` under the model and the hard rules, without showing it (no state change)."""
        return self._rank(k or self.k)

    def _recommend(self, turn: Turn, k: int) -> list[Recommendation]:
        self.last = self._rank(k)
        self.state.recommended.extend(r.item for r in self.last if r.item not in self.state.recommended)
        if not self.last:
            turn.response = "Nothing in the catalogue fits everything you asked for; try dropping a constraint."
            turn.notes.append("no item satisfies the constraints")
        else:
            turn.response = self._llm_reply(turn) if self.llm is not None else _reply(self.last)
        self.turn = turn
        self._log(RECOMMENDER, turn.response, list=[r.item for r in self.last], notes=list(turn.notes))
        return self.last

    def _llm_reply(self, turn: Turn) -> str:
        """The LLM's reply about the first five items; templates (with a note) when it cannot answer."""
        from recframe.conversation.llm import LLMError

        said = next((u.text for u in reversed(self.state.utterances) if u.speaker == SEEKER), "")
        listed = "\n".join(
            f"{n}. {r.title}" + (f" ({'; '.join(x.text for x in r.reasons)})" if r.reasons else "")
            for n, r in enumerate(self.last[:5], 1)
        )
        messages = [
            {"role": "system", "content": f"{LLM_SYSTEM}\nMovies to recommend:\n{listed}"},
            {"role": "user", "content": said or "Recommend me something."},
        ]
        try:
            return self.llm.generate(messages)
        except LLMError as err:
            turn.notes.append(f"{err}; replying with templates")
            return _reply(self.last)

    def _rank(self, k: int) -> list[Recommendation]:
        context = self.context()
        scored = self.profile.score(context)
        allowed = self.allowed()
        candidates = np.flatnonzero(allowed)
        if not len(candidates):
            return []
        scores = scored.scores.numpy()
        priority = self._priority(candidates)
        order = np.lexsort((candidates, -scores[candidates], -priority))[:k]
        chosen = candidates[order]
        return [
            Recommendation(self._raw(i), self.catalogue.titles[i], float(scores[i]), self.reasons(i, scored, context))
            for i in map(int, chosen)
        ]

    def _priority(self, candidates: np.ndarray) -> np.ndarray:
        people = [(c, v) for c, v in self.state.accepted_attributes if c in PEOPLE]
        if not people or not self.attribute_rules:
            return np.zeros(len(candidates))
        return np.array([sum(self.catalogue.has(int(i), c, v) for c, v in people) for i in candidates], dtype=float)

    # --- explanations --------------------------------------------------------------------------------------

    def reasons(self, item: int, scored: Scored, context: Context) -> tuple[Reason, ...]:
        """Why ``item`` is listed: its accepted attributes, liked items and the message with a positive share.

        ``scored`` is the profile's scoring of ``context`` (what ψ read), computed once per list.
        """
        out = [
            Reason("attribute", (c, v), f"{COLUMN_NAMES.get(c, c)}: {v}")
            for c, v in sorted(self.state.accepted_attributes)
            if self.catalogue.has(item, c, v)
        ]
        liked = [
            (float(scored.item_shares[h, item]), context.items[h])
            for h in range(len(context.items))
            if self._raw(context.items[h]) in self.state.liked
        ]
        for share, other in sorted(liked, reverse=True)[:2]:
            if share > 0:
                out.append(Reason("liked", self._raw(other), f"you liked {self.catalogue.titles[other]}"))
        if scored.utterance_shares is not None:
            first = len(self.state.utterances) - len(scored.utterance_shares)
            said = [
                (float(scored.utterance_shares[j, item]), first + j)
                for j in range(len(scored.utterance_shares))
                if self.state.utterances[first + j].speaker == SEEKER
            ]
            if said and max(said)[0] > 0:
                index = max(said)[1]
                out.append(Reason("utterance", index, f'you said "{_short(self.state.utterances[index].text)}"'))
        return tuple(out)

    def why(self, position: int) -> Recommendation:
        """The ``position``-th (1-based) item of the last list, with its reasons."""
        if not 1 <= position <= len(self.last):
            raise IndexError(f"the list has {len(self.last)} items; there is no number {position}")
        self.focus = self.catalogue.dense[self.last[position - 1].item]
        return self.last[position - 1]


def unfaithful(conversation: Conversation, recommendation: Recommendation) -> list[str]:
    """Every reason of ``recommendation`` that does not check out against the item and the dialogue."""
    problems = []
    item = conversation.catalogue.dense[recommendation.item]
    for reason in recommendation.reasons:
        if reason.kind == "attribute":
            column, value = reason.value
            if not conversation.catalogue.has(item, column, value):
                problems.append(f"{recommendation.title} has no {column} {value!r}")
            if reason.value not in conversation.state.accepted_attributes:
                problems.append(f"{column} {value!r} was never asked for")
        elif reason.kind == "liked":
            if reason.value not in conversation.state.liked:
                problems.append(f"item {reason.value} was not liked in this dialogue")
        elif reason.kind == "utterance":
            utterances = conversation.state.utterances
            if not (0 <= reason.value < len(utterances) and utterances[reason.value].speaker == SEEKER):
                problems.append(f"utterance {reason.value} is not a seeker message of this dialogue")
        else:
            problems.append(f"unknown reason kind {reason.kind!r}")
    return problems


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _reply(items: list[Recommendation]) -> str:
    titles = [r.title for r in items[:3]]
    lead = "You might like " + (", ".join(titles[:-1]) + " or " + titles[-1] if len(titles) > 1 else titles[0])
    because = next((r.text for r in items[0].reasons), None)
    return f"{lead}." + (f" ({items[0].title}: {because}.)" if because else "")


def _summary(heard, catalogue: Catalogue) -> dict[str, Any]:
    return {
        "items": [[catalogue.raw[i], s] for i, s in heard.items],
        "positions": heard.positions,
        "focus": heard.focus,
        "critique": heard.critique,
        "accepted": heard.accepted,
        "rejected": heard.rejected,
    }
