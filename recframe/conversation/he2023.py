"""He et al.'s test sets (CIKM 2023, "Large Language Models as Zero-Shot Conversational Recommenders").

He et al. score zero-shot LLMs on the recommendation turns of ReDial (3,552 turns, 6,281 items) and
INSPIRED (228 turns, 1,123 items): each turn is its dialogue so far as ``User:`` / ``System:`` lines and
the movies the recommender then named (DBpedia entities of CRSLab's processing). Here a trained model
reads each turn the way it reads a live dialogue: the lines are replayed into a
:class:`~recframe.conversation.session.Conversation` — seeker lines as a seeker's messages (titles,
sentiment and attributes read from the text), system lines with the titles found in them recorded as
the recommender's mentions — and its top 50 is compared with the targets, every target one event.

Variants: ``all`` lets mentioned items be listed and keeps every target (He et al.'s headline, GPT-4
R@10 0.194 on ReDial); ``dedup`` masks the mentioned items and drops targets mentioned earlier in the
dialogue (their "repeated items removed", GPT-4 0.176).
NOTE: targets are DBpedia IRIs; they are mapped to the model's catalogue by title and year: the year
of a ``(1996 film)`` suffix, else of a "Title (Year)" the turn's own text names, else the catalogue's
most popular item of that title. Targets that match no item are counted and scored as misses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from recframe.conversation.catalogue import YEAR_SUFFIX, Catalogue, normalise
from recframe.conversation.dialogue import RECOMMENDER, Utterance
from recframe.conversation.turns import VARIANTS, sample_turns
from recframe.conversation.understand import understand
from recframe.data.download import DatasetFiles, RemoteFile, dataset_folder

SOURCE = (
    "https://raw.githubusercontent.com/AaronHeee/LLMs-as-Zero-Shot-Conversational-RecSys/"
    "5a52caa19cd514f8d39811483c41e43107d5927f/data"
)
SHA256 = {
    "redial": {
        "test.jsonl": "11e07db4b9178bd778669baf8be02aa4b3e20291cce6a3a89bc510dc9ecb063b",
        "entity2id.json": "63353aca481bc9558b502f91cb98f6fa26438796fdd7e0bc06b5a1532126e8b5",
        "item_ids.json": "a36efa4ad81f487676e9861f25ec42166e72bfac6eab89500041b1c749ac1a08",
    },
    "inspired": {
        "test.jsonl": "7b81199fcda6c71ac6efe15c7dc69c5dea43d164d0f05ee49a8015c5c8371bac",
        "entity2id.json": "6ea0f59be9da55a78e2b48eff35928bf62a7232d143eb905d350ed38268583d2",
        "item_ids.json": "6e300dc6b89ab483f1474ee550e94709cdbcd09354928546fa32dc3b48fe12c1",
    },
}
FILES = {
    name: DatasetFiles(
        f"llm-crs-he2023/{name}",
        tuple(RemoteFile(f, url=f"{SOURCE}/{name}/{f}", sha256=digest) for f, digest in digests.items()),
    )
    for name, digests in SHA256.items()
}
KS = (1, 10, 50)
# "(film)", "(1996 film)", "(2017 American film)", "(film series)", "(TV series)", "(miniseries)"
DISAMBIGUATION = re.compile(r"\s*\(([^()]*\b(?:film|movie|series|miniseries)\b[^()]*)\)\s*$", re.I)
LINE = re.compile(r"^\s*(User|System):\s?(.*)$")


@dataclass(frozen=True)
class HeTurn:
    """One recommendation turn: the lines before it, the target entities, the entities mentioned before."""

    dialog_id: str
    turn_id: str
    lines: tuple[tuple[str, str], ...]  # (speaker, text), speaker "User" or "System"
    targets: tuple[int, ...]
    mentioned: tuple[int, ...]
    names: tuple[str, ...]  # the turn's own entity names ("Title (Year)"), a year source for its targets


@dataclass(frozen=True)
class HeSet:
    """A test set: its turns, entity IRIs by id and the candidate items (entity ids)."""

    name: str
    turns: list[HeTurn]
    iris: dict[int, str]
    items: frozenset[int]


def iri_title(iri: str) -> tuple[str, int | None]:
    """``<http://dbpedia.org/resource/Alaska_(1996_film)>`` -> ``("Alaska", 1996)``; no year -> None."""
    name = unquote(iri.strip().strip("<>").rsplit("/", 1)[-1]).replace("_", " ").strip()
    found = DISAMBIGUATION.search(name)
    if not found:
        return name, None
    year = re.search(r"\b(1[89]\d\d|20\d\d)\b", found.group(1))
    return name[: found.start()].strip(), int(year.group(1)) if year else None


def parse_lines(text: str, where: str) -> tuple[tuple[str, str], ...]:
    """The ``input`` field's ``User:`` / ``System:`` lines, without the final open ``System:`` prompt."""
    lines = [line for line in text.split("\n") if line.strip()]
    out = []
    for line in lines:
        found = LINE.match(line)
        if found is None:
            raise ValueError(f"{where}: a context line starts with neither 'User:' nor 'System:': {line[:60]!r}")
        out.append((found.group(1), found.group(2).strip()))
    if out and out[-1] == ("System", ""):
        out.pop()
    return tuple(out)


def load(name: str, root: str | Path | None = None) -> HeSet:
    """Read He et al.'s ``name`` (``redial`` or ``inspired``) test set from ``root`` or ``$RECFRAME_DATA``."""
    if name not in FILES:
        raise ValueError(f"unknown He et al. test set {name!r}; known: {sorted(FILES)}")
    folder = dataset_folder(FILES[name], root)
    entities = json.loads((folder / "entity2id.json").read_text(encoding="utf-8"))
    iris = {int(v): k for k, v in entities.items()}
    items = frozenset(int(i) for i in json.loads((folder / "item_ids.json").read_text(encoding="utf-8")))
    turns = []
    path = folder / "test.jsonl"
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(raw.decode("utf-8"))
            targets = tuple(int(i) for i in record["rec"])
            turn = HeTurn(
                str(record["dialog_id"]),
                str(record["turn_id"]),
                parse_lines(record["input"], where),
                targets,
                tuple(int(i) for i in record.get("prev_entity", [])),
                tuple(str(n) for n in record.get("entity_name", [])),
            )
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"{where}: not a He et al. turn ({type(err).__name__}: {err})") from None
        unknown = [i for i in targets if i not in iris]
        if unknown:
            raise ValueError(f"{where}: target entity ids {unknown} are not in entity2id.json")
        turns.append(turn)
    if not turns:
        raise ValueError(f"{path}: no turns")
    return HeSet(name, turns, iris, items)


def target_item(catalogue: Catalogue, iri: str, names: Iterable[str] = ()) -> int | None:
    """The catalogue item (dense id) of a target IRI, or None (see the module note for the rule)."""
    title, year = iri_title(iri)
    key = normalise(title)
    if not key:
        return None
    if year is None:
        for name in names:  # the turn's own "Title (Year)"
            found = YEAR_SUFFIX.search(name)
            if found and normalise(name) == key:
                year = int(found.group(1))
                break
    if year is not None and f"{key} {year}" in catalogue.by_title:
        return catalogue.by_title[f"{key} {year}"]
    return catalogue.by_title.get(key)


def replay(conversation: Any, turn: HeTurn) -> None:
    """Feed a turn's lines into ``conversation`` (reset first): seeker lines heard, system lines observed."""
    conversation.reset()
    catalogue = conversation.catalogue
    for speaker, text in turn.lines:
        if not text:
            continue
        if speaker == "User":
            conversation.hear(text)
        else:
            items = tuple(catalogue.raw[i] for i, _ in understand(text, catalogue).items)
            conversation.observe(Utterance(RECOMMENDER, text.replace("@", " "), items))


def evaluate(
    conversation: Any,
    test: HeSet,
    variant: str = "all",
    limit: int | None = None,
    seed: int = 0,
    progress: Callable[[Iterable], Iterable] = lambda x: x,
) -> dict[str, Any]:
    """Recall@1/10/50 of ``conversation``'s model on ``test``'s turns (every target one event).

    ``conversation.mask_mentioned`` is set by ``variant``; ``limit`` scores a seeded sample of turns.
    Returns the recalls, the event and turn counts, and the target mapping counts.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {list(VARIANTS)}")
    conversation.mask_mentioned = variant == "dedup"
    turns = sample_turns(test.turns, limit, seed)
    hits = dict.fromkeys(KS, 0)
    events = unmapped = repeated = 0
    for turn in progress(turns):
        mentioned = set(turn.mentioned) if variant == "dedup" else set()
        targets = [t for t in dict.fromkeys(turn.targets) if t not in mentioned]
        repeated += len(set(turn.targets)) - len(targets)
        if not targets:
            continue
        replay(conversation, turn)
        rank_of = {conversation.catalogue.dense[r.item]: n for n, r in enumerate(conversation.ranking(max(KS)), 1)}
        for target in targets:
            events += 1
            item = target_item(conversation.catalogue, test.iris[target], turn.names)
            if item is None:
                unmapped += 1
                continue
            rank = rank_of.get(item, max(KS) + 1)
            for k in KS:
                hits[k] += rank <= k
    if not events:
        raise ValueError(f"He et al. {test.name}: no target left to score under variant {variant!r}")
    return {
        **{f"recall@{k}": hits[k] / events for k in KS},
        "events": events,
        "turns": len(turns),
        "targets_unmapped": unmapped,
        "targets_mentioned_before": repeated,
        "set": test.name,
        "variant": variant,
        "limit": limit,
        "seed": seed,
    }


def evaluate_run(
    target: str,
    test_set: str,
    *,
    variant: str = "all",
    limit: int | None = None,
    seed: int = 0,
    attribute_rules: bool = True,
    root: str | Path | None = None,
    overrides: Iterable[str] = (),
    progress: Callable[[Iterable], Iterable] = lambda x: x,
) -> tuple[dict[str, Any], Path | None]:
    """:func:`evaluate` a run's model on He et al.'s ``test_set``; records the result in the run.

    Writes ``he2023-<set>-<variant>[-model-only].json`` in a run directory and adds
    ``he2023/<set>/<variant>/recall@k`` to its ``metrics.json``. Returns the summary and that file.
    """
    from recframe.conversation.session import Conversation
    from recframe.experiments.runs import Run, git_commit, write_json

    test = load(test_set, root)
    conversation = Conversation.load(target, overrides, attribute_rules=attribute_rules)
    summary = evaluate(conversation, test, variant, limit, seed, progress)
    summary.update(attribute_rules=attribute_rules, git=git_commit(), **conversation.source)
    path = Path(target)
    if not path.is_dir():
        return summary, None
    suffix = "" if attribute_rules else "-model-only"
    out = path / f"he2023-{test_set}-{variant}{suffix}.json"
    write_json(out, summary)
    prefix = f"he2023/{test_set}/{variant}{suffix}"
    Run(path.resolve()).write_metrics({f"{prefix}/recall@{k}": summary[f"recall@{k}"] for k in KS})
    return summary, out
