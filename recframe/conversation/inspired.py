"""INSPIRED (Hayati et al., "INSPIRED: Toward Sociable Recommendation Dialog Systems", EMNLP 2020).

What exists here: the dev and test dialogues as UniCRS processed them (Wang et al., KDD 2022:
``inspired-unicrs/{dev,test}.jsonl``, consecutive same-speaker utterances merged, each utterance's
movies as "Title (Year)"), and the *training* dialogues only as allenai/instructLF's (context,
recommended titles) pairs (``inspired-instructlf/inspired_train.csv``: 1,448 dialogue prefixes as
``System:`` / ``User:`` lines, titles without a year). Splits: train = the instructLF pairs (one-turn
dialogues, as :mod:`recframe.conversation.ievalm`), val = dev, test = test (their recommendation turns
by :func:`~recframe.conversation.turns.recommendation_turns`). The catalogue is every movie named in
these files: a UniCRS "Title (Year)", or an instructLF title no UniCRS title matches (counted).
NOTE: INSPIRED states no licence (research use; cite the paper). instructLF titles are matched to
"Title (Year)" by the title alone when exactly one year exists; context movies of the instructLF
pairs are found by title in the context lines (case-insensitive whole words, longest first).
"""

from __future__ import annotations

import ast
import csv
import json
import re
from pathlib import Path

import pandas as pd

from recframe.conversation.dialogue import RECOMMENDER, SEEKER, Dialogue, Dialogues, Utterance
from recframe.data.download import DatasetFiles, RemoteFile, dataset_folder

UNICRS = "https://raw.githubusercontent.com/wxl1999/UniCRS/f7d8f95104d6eba5371cfa845b243057a632079e/data/inspired"
INSTRUCTLF = (
    "https://raw.githubusercontent.com/allenai/instructLF/c64f84fb00cd7149efcae1b0e9981d504e8f327d/inspired/datasets"
)
UNICRS_FILES = DatasetFiles(
    "inspired-unicrs",
    (
        RemoteFile(
            "dev.jsonl",
            url=f"{UNICRS}/dev.jsonl",
            sha256="75feafb0d35a9203644ba992cc98180b878c16ec210d1d29b2d5d1698a137fd7",
        ),
        RemoteFile(
            "test.jsonl",
            url=f"{UNICRS}/test.jsonl",
            sha256="01d000af899e78db2329eadc48ebecb683f1b37b0a35e7230d324a62576481e5",
        ),
    ),
)
INSTRUCTLF_FILES = DatasetFiles(
    "inspired-instructlf",
    (
        RemoteFile(
            "inspired_train.csv",
            url=f"{INSTRUCTLF}/inspired_train.csv",
            sha256="cd058cb11b1c5cf714d178c91a7a15d71aff533d657b927bde7ad65cf0bff8d1",
        ),
    ),
)
YEAR = re.compile(r"\s*\((\d{4})\)\s*$")
ROLES = {"SEEKER": SEEKER, "RECOMMENDER": RECOMMENDER}


def bare(title: str) -> str:
    """A title without its year, lower-cased, whitespace collapsed (the key titles are matched on)."""
    return " ".join(YEAR.sub("", title).lower().split())


def _unicrs(path: Path) -> list[list[dict]]:
    out = []
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        if raw.strip():
            try:
                out.append(json.loads(raw.decode("utf-8")))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise ValueError(f"{path}:{number}: not a UTF-8 JSON line ({err})") from None
    return out


def _pairs(path: Path) -> list[tuple[list[tuple[str, str]], list[str]]]:
    """instructLF rows as ``([(speaker, text), ...], titles)``; the open ``System:`` line is dropped."""
    csv.field_size_limit(1 << 26)
    out = []
    with open(path, encoding="utf-8", newline="") as f:
        for number, row in enumerate(csv.DictReader(f), start=2):
            try:
                titles = [str(t) for t in ast.literal_eval(row["movies"])]
                lines = row["full_situation"].strip().splitlines()
            except (KeyError, ValueError, SyntaxError) as err:
                raise ValueError(f"{path}:{number}: bad instructLF row ({err})") from None
            turns = []
            for line in lines:
                speaker, _, text = line.partition(":")
                role = {"System": RECOMMENDER, "User": SEEKER}.get(speaker.strip())
                if role is None:  # a line break inside an utterance
                    if turns:
                        turns[-1] = (turns[-1][0], f"{turns[-1][1]} {line.strip()}")
                    continue
                if text.strip():
                    turns.append((role, text.strip()))
            out.append((turns, titles))
    return out


def inspired(root: str | None = None, instructlf_root: str | None = None) -> Dialogues:
    """INSPIRED: train = instructLF's 1,448 (context, titles) pairs, val = dev, test = test (UniCRS)."""
    dev = _unicrs(dataset_folder(UNICRS_FILES, root) / "dev.jsonl")
    test = _unicrs(dataset_folder(UNICRS_FILES, root) / "test.jsonl")
    pairs = _pairs(dataset_folder(INSTRUCTLF_FILES, instructlf_root) / "inspired_train.csv")
    titles = sorted({" ".join(str(m).split()) for d in dev + test for u in d for m in u.get("movie", [])})
    by_bare: dict[str, list[str]] = {}
    for t in titles:
        by_bare.setdefault(bare(t), []).append(t)
    extra = sorted({t for _, ts in pairs for t in ts if len(by_bare.get(bare(t), [])) != 1} - set(titles))
    for t in extra:
        by_bare.setdefault(bare(t), []).append(t)
    catalogue_titles = titles + extra  # extra holds no UniCRS title
    ids = {t: str(k + 1) for k, t in enumerate(catalogue_titles)}
    catalogue = pd.DataFrame(
        {"title": catalogue_titles}, index=pd.Index([ids[t] for t in catalogue_titles], name="item")
    )

    def resolve(title: str) -> str:
        title = " ".join(title.split())
        if title in ids:
            return ids[title]
        match = by_bare.get(bare(title), [])
        return ids[match[0]] if len(match) == 1 else f"?{title}"

    def unicrs_dialogue(d: list[dict], cid: str) -> Dialogue:
        utterances = [
            Utterance(ROLES[u["role"]], str(u["text"]), tuple(resolve(m) for m in u.get("movie", []))) for u in d
        ]
        return Dialogue(cid, tuple(utterances))

    names = sorted(by_bare, key=len, reverse=True)
    patterns = {n: re.compile(rf"(?<!\w){re.escape(n)}(?!\w)") for n in names if len(n) > 3}
    train, no_context = [], 0
    for k, (turns, targets) in enumerate(pairs):
        if not turns:  # the recommender's opening message: no context, not a turn (as everywhere)
            no_context += 1
            continue
        utterances = []
        for speaker, text in turns:
            lowered = text.lower()
            found = [resolve(by_bare[n][0]) for n, p in patterns.items() if n in lowered and p.search(lowered)]
            utterances.append(Utterance(speaker, text, tuple(dict.fromkeys(found))))
        response = Utterance(RECOMMENDER, "", tuple(resolve(t) for t in targets))
        train.append(Dialogue(f"train-{k}", (*utterances, response), turns=(len(utterances),)))
    notes = [
        f"catalogue: {len(catalogue):,} movies named in the files ({len(extra):,} only in instructLF's titles)",
        f"train: {len(train):,} instructLF (context, titles) pairs ({no_context} without context left out); "
        f"val: {len(dev)} dev, test: {len(test)} test dialogues",
    ]
    return Dialogues(
        {
            "train": train,
            "val": [unicrs_dialogue(d, f"dev-{k}") for k, d in enumerate(dev)],
            "test": [unicrs_dialogue(d, f"test-{k}") for k, d in enumerate(test)],
        },
        catalogue,
        "inspired",
        notes,
    )
