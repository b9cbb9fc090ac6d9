"""A simulated seeker for interactive evaluation: iEvaLM's attribute-QA protocol (Wang et al., EMNLP 2023).

Each test turn becomes one simulated conversation that starts from the turn's real context; the
simulator's goal is the turn's ground-truth items (all of them, pooled). Every round the recommender
either asks about an attribute or recommends a list of 50:

- asked about an attribute, the simulator answers with the union of the targets' values for it,
  joined by ", " (iEvaLM's rule), or "Sorry, no information about this, please choose another
  option." when no target has one;
- shown a list, it accepts ("That's perfect, thank you!") iff it holds a target, else rejects it
  ("I don't like them.", which rejects the whole list).

In free mode (``--mode free --llm SPEC``) an LLM plays the seeker (:class:`FreeTextUser`): told the
targets' attributes, never their titles, it answers each rejected list in its own words, which the
conversation reads like any message; the recommender recommends every round.

The conversation ends at acceptance or after ``turns`` rounds; Recall@1/10/50 is measured on the
final list per target (iEvaLM's ``Rec_eval.py``), with the success rate by round and the mean number
of rounds beside it. Checked against the protocol of RUCAIBox/iEvaLM-CRS (``script/ask.py``).
NOTE: iEvaLM lets the model choose ask-or-recommend from its decoder's scores; here the policy is a
documented heuristic (:func:`choose`): ask the unasked attribute whose values are most spread over
the current top 50 (the answer that splits the list most), while a round is left to recommend after
it; recommend otherwise.
Every list shown is also checked: each cited reason with
:func:`~recframe.conversation.session.unfaithful`, and each item against the hard rules (no item
rejected or disliked earlier, every item of a stated genre); the counts are in the summary.
NOTE: leakage guard: an answer value that contains a target's title is withheld (counted), and every
message built from the targets is checked to name no target title before it is said (the fixed
replies — accept, reject, no information — do not depend on the target and are not checked).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recframe.conversation.catalogue import Catalogue, normalise
from recframe.conversation.dialogue import Utterance
from recframe.conversation.session import Conversation, unfaithful

LIST_SIZE = 50  # iEvaLM's recommendation lists
KS = (1, 10, 50)
ACCEPT, REJECT = "That's perfect, thank you!", "I don't like them."
NO_INFORMATION = "Sorry, no information about this, please choose another option."
ASKABLE = ("genres", "actors", "directors", "writers")


def _names_title(text: str, title: str) -> bool:
    key = normalise(title)
    return bool(key) and re.search(rf"(?<![a-z0-9]){re.escape(key)}(?![a-z0-9])", normalise(text)) is not None


@dataclass
class SimulatedUser:
    """The attribute-mode seeker of one test turn: it knows its ``targets`` (dense ids) and nothing else."""

    targets: list[int]
    catalogue: Catalogue
    withheld: int = 0  # answer values dropped because they contain a target's title

    def say(self, text: str) -> str:
        """``text``, after checking that it names no target (raises if it would leak)."""
        for target in self.targets:
            if _names_title(text, self.catalogue.titles[target]):
                raise AssertionError(f"the simulator would leak target {self.catalogue.titles[target]!r}: {text!r}")
        return text

    def answer(self, column: str) -> str:
        """The targets' values of ``column`` (sorted union), or ``NO_INFORMATION``."""
        values = sorted({v for t in self.targets for v in self.catalogue.attributes[t].get(column, ())})
        titles = [self.catalogue.titles[t] for t in self.targets]
        safe = [v for v in values if not any(_names_title(v, title) for title in titles)]
        self.withheld += len(values) - len(safe)
        return self.say(", ".join(safe)) if safe else NO_INFORMATION

    def accepts(self, items: Iterable[int]) -> bool:
        return bool(set(self.targets) & set(items))


FREE_PROMPT = (
    "You are a person chatting with a movie recommender. You want a movie with these properties: {profile}. "
    "Never say the title of the movie you want. The recommender just suggested: {shown}. None of them is it. "
    "In one short sentence, tell the recommender what you are looking for."
)
SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass
class FreeTextUser(SimulatedUser):
    """iEvaLM's free mode: an LLM plays the seeker, told the targets' attributes (never their titles).

    Its replies pass the leakage guard sentence by sentence: a sentence that names a target is dropped
    (counted in ``withheld``), as iEvaLM drops simulator sentences that match the target's title.
    """

    llm: Any = None

    def profile(self) -> str:
        parts = []
        for column in ASKABLE:
            values = sorted({v for t in self.targets for v in self.catalogue.attributes[t].get(column, ())})
            values = [v for v in values if not any(_names_title(v, self.catalogue.titles[t]) for t in self.targets)]
            if values:
                parts.append(f"{column}: {', '.join(values[:6])}")
        return "; ".join(parts) or "a good movie"

    def reply(self, shown: list[str]) -> str:
        prompt = FREE_PROMPT.format(profile=self.profile(), shown=", ".join(shown[:5]) or "nothing yet")
        text = self.llm.generate([{"role": "user", "content": prompt}])
        kept = []
        for sentence in SENTENCE.split(text.strip()):
            if any(_names_title(sentence, self.catalogue.titles[t]) for t in self.targets):
                self.withheld += 1
            elif sentence:
                kept.append(sentence)
        return self.say(" ".join(kept) or "Something else, please.")


def entropy(values: Iterable[str]) -> float:
    """Shannon entropy (nats) of the value counts; 0 for none."""
    counts = np.array(list(Counter(values).values()), dtype=float)
    if not len(counts):
        return 0.0
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def choose(conv: Conversation, columns: list[str], asked: set[str], round_: int, turns: int) -> str | None:
    """The column to ask about this round, or None to recommend (the heuristic of the module NOTE)."""
    left = [c for c in columns if c not in asked]
    if round_ >= turns or not left:
        return None
    top = [conv.catalogue.dense[r.item] for r in conv.ranking(LIST_SIZE)]
    spread = {c: entropy(v for i in top for v in conv.catalogue.attributes[i].get(c, ())) for c in left}
    best = max(left, key=lambda c: spread[c])
    return best if spread[best] > 0 else None


@dataclass
class Outcome:
    """One simulated conversation: per-target ranks in the final list, the round it ended, success."""

    ranks: list[int | None]  # 1-based rank of each target in the final list (None = absent)
    rounds: int
    success: bool
    asked: list[str] = field(default_factory=list)
    withheld: int = 0
    reasons: int = 0  # reasons cited in every list shown
    unfaithful: int = 0  # of those, how many did not check out (recframe.conversation.session.unfaithful)
    listed: int = 0  # items shown in lists
    rule_breaks: int = 0  # of those, how many broke a hard rule (a rejected item back, a stated genre ignored)


def simulate_turn(
    conv: Conversation,
    context: Iterable[Utterance],
    targets: list[int],
    *,
    turns: int = 5,
    columns: list[str],
    llm: Any = None,
) -> Outcome:
    """Play one test turn: seed ``conv`` with the real ``context``, then up to ``turns`` rounds.

    With ``llm`` the seeker is a :class:`FreeTextUser` and the recommender recommends every round
    (free mode); otherwise the attribute mode's questions and answers.
    """
    conv.reset()
    for utterance in context:
        conv.observe(utterance)
    user = FreeTextUser(targets, conv.catalogue, llm=llm) if llm is not None else SimulatedUser(targets, conv.catalogue)
    asked: list[str] = []
    final: list[int] = []
    checks = _Checks()
    for round_ in range(1, turns + 1):
        column = None if llm is not None else choose(conv, columns, set(asked), round_, turns)
        if column is not None:
            asked.append(column)
            conv.ask(column)
            conv.hear(user.answer(column))
            continue
        banned = conv.state.rejected | conv.state.disliked
        genres = {v for c, v in conv.state.accepted_attributes if c == "genres"}
        shown = conv.recommend(LIST_SIZE)
        final = [conv.catalogue.dense[r.item] for r in shown]
        checks.listed += len(shown)
        checks.reasons += sum(len(r.reasons) for r in shown)
        checks.unfaithful += sum(len(unfaithful(conv, r)) for r in shown)
        for rec, item in zip(shown, final, strict=True):
            ignored_genre = bool(genres) and not genres & conv.catalogue.attributes[item].get("genres", set())
            checks.rule_breaks += rec.item in banned or ignored_genre
        # the fixed replies do not depend on the target, so they pass without the guard (a movie
        # titled "You" would otherwise be "named" by "thank you")
        if user.accepts(final):
            conv.hear(ACCEPT)
            return checks.done(_ranks(final, targets), round_, True, asked, user.withheld)
        conv.hear(REJECT)
        if llm is not None and round_ < turns:
            conv.hear(user.reply([r.title for r in conv.last]))
    return checks.done(_ranks(final, targets), turns, False, asked, user.withheld)


@dataclass
class _Checks:
    """Counts of the faithfulness and hard-rule checks of one simulated conversation."""

    reasons: int = 0
    unfaithful: int = 0
    listed: int = 0
    rule_breaks: int = 0

    def done(self, ranks: list[int | None], rounds: int, success: bool, asked: list[str], withheld: int) -> Outcome:
        return Outcome(
            ranks, rounds, success, asked, withheld, self.reasons, self.unfaithful, self.listed, self.rule_breaks
        )


def _ranks(final: list[int], targets: list[int]) -> list[int | None]:
    position = {item: k + 1 for k, item in enumerate(final)}
    return [position.get(t) for t in targets]


def summarise(outcomes: list[Outcome], turns: int) -> dict[str, Any]:
    """Recall@1/10/50 per target, success rate by round, mean rounds, and the asked-attribute counts."""
    ranks = [r for o in outcomes for r in o.ranks]
    out: dict[str, Any] = {
        f"recall@{k}": float(np.mean([r is not None and r <= k for r in ranks])) if ranks else math.nan for k in KS
    }
    out["success"] = float(np.mean([o.success for o in outcomes])) if outcomes else math.nan
    by_round = [[o.success and o.rounds <= t for o in outcomes] for t in range(1, turns + 1)]
    out["success_by_round"] = [float(np.mean(r)) if outcomes else math.nan for r in by_round]
    out["mean_rounds"] = float(np.mean([o.rounds for o in outcomes])) if outcomes else math.nan
    out["asked"] = dict(Counter(c for o in outcomes for c in o.asked))
    out["withheld_values"] = sum(o.withheld for o in outcomes)
    for key in ("reasons", "unfaithful", "listed", "rule_breaks"):
        out[f"{key}_total"] = sum(getattr(o, key) for o in outcomes)
    out["conversations"], out["targets"] = len(outcomes), len(ranks)
    return out


def askable_columns(catalogue: Catalogue) -> list[str]:
    """The attributes the catalogue has values for, in iEvaLM's order (genre, actor, director, writer)."""
    return [c for c in ASKABLE if any(c in a and a[c] for a in catalogue.attributes[1:])]


def simulate(
    conv: Conversation,
    turns_of_test: Iterable[tuple[tuple[Utterance, ...], list[str]]],
    *,
    turns: int = 5,
    llm: Any = None,
    progress: Callable[[Iterable], Iterable] = lambda x: x,
) -> tuple[dict[str, Any], list[Outcome]]:
    """Simulate every ``(context, raw target ids)``; targets outside the catalogue are counted, not played."""
    columns = askable_columns(conv.catalogue)
    outcomes, unknown = [], 0
    for context, raw_targets in progress(list(turns_of_test)):
        targets = [conv.catalogue.dense[t] for t in raw_targets if t in conv.catalogue.dense]
        unknown += len(raw_targets) - len(targets)
        if targets:
            outcomes.append(simulate_turn(conv, context, targets, turns=turns, columns=columns, llm=llm))
    summary = summarise(outcomes, turns)
    summary["targets_not_in_catalogue"] = unknown
    summary["columns"] = columns
    return summary, outcomes


def turns_to_play(
    conv: Conversation, variant: str, limit: int | None = None, seed: int = 0
) -> list[tuple[tuple[Utterance, ...], list[str]]]:
    """``(context, raw targets)`` of the test turns of ``conv``'s dataset (a seeded sample of ``limit``)."""
    from recframe.conversation.turns import recommendation_turns, sample_turns
    from recframe.data import DATASETS

    settings = dict(conv.config["dataset"])
    dialogues = DATASETS.get(settings.pop("name"))(**settings)
    played = [
        (turn.context, list(turn.events(variant)))
        for dialogue in dialogues.dialogues["test"]
        for turn in recommendation_turns(dialogue)
        if turn.events(variant)
    ]
    return sample_turns(played, limit, seed)


def simulate_run(
    target: str,
    *,
    turns: int = 5,
    variant: str = "all",
    limit: int | None = None,
    seed: int = 0,
    attribute_rules: bool = True,
    llm: str | None = None,
    overrides: Iterable[str] = (),
    progress: Callable[[Iterable], Iterable] = lambda x: x,
) -> tuple[dict[str, Any], Path | None]:
    """Simulate the test turns of a run's dataset against its model; records the result in the run.

    ``llm`` (a :func:`~recframe.conversation.llm.load_llm` spec) plays iEvaLM's free mode with that
    LLM as the seeker; without it, the attribute mode. ``variant`` ``all`` (iEvaLM's) plays every
    target and lets mentioned items be listed; ``dedup`` plays only targets not yet mentioned and
    masks the context's items. ``limit`` plays a random sample of that many turns (seeded).
    ``attribute_rules=False`` is the ablation of :class:`~recframe.conversation.session.Conversation`
    (answers reach the model as text only). Returns the summary and the JSON file written (run
    directories only: ``simulation-<mode>[-model-only]-<variant>.json``, plus
    ``sim/<mode>[-model-only]/<variant>/...``
    in ``metrics.json``).
    """
    from recframe.conversation.turns import VARIANTS
    from recframe.experiments.runs import Run, git_commit, write_json

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {list(VARIANTS)}")
    if turns < 1:
        raise ValueError(f"--turns must be >= 1, got {turns}")
    conv = Conversation.load(
        target, overrides, k=LIST_SIZE, mask_mentioned=variant == "dedup", attribute_rules=attribute_rules
    )
    played = turns_to_play(conv, variant, limit, seed)
    backend = None
    if llm is not None:
        from recframe.conversation.llm import load_llm

        backend = load_llm(llm, max_new_tokens=40)
    summary, _ = simulate(conv, played, turns=turns, llm=backend, progress=progress)
    mode = "attribute" if backend is None else "free"
    summary.update(mode=mode, llm=llm, variant=variant, turns=turns, limit=limit, seed=seed, git=git_commit())
    summary["attribute_rules"] = attribute_rules
    summary.update(conv.source)
    path = Path(target)
    if not path.is_dir():
        return summary, None
    mode = mode if attribute_rules else f"{mode}-model-only"
    out = path / f"simulation-{mode}-{variant}.json"
    write_json(out, summary)
    keys = (*(f"recall@{k}" for k in KS), "success", "mean_rounds")
    Run(path.resolve()).write_metrics({f"sim/{mode}/{variant}/{k}": summary[k] for k in keys})
    return summary, out
