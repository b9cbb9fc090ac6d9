"""ReDial (Li et al., "Towards Deep Conversational Recommendations", NeurIPS 2018) and its iEvaLM form.

Files: the official ``test_data`` (1,342 dialogues, ReDialData/website at commit 849e9eb) and
``movies_with_mentions.csv`` (6,924 movies) in folder ``redial``; the iEvaLM-CRS processing (Wang et
al., EMNLP 2023) in folder ``redial-ievalm``: ``valid_data.jsonl`` (1,000 dialogues of the official
*training* split, consecutive same-sender messages merged) and ``id2info.json`` (genre, plot,
director, writer and stars of 6,583 movies). Users with the full dataset add the official
``train_data`` (10,006 dialogues) to the ``redial`` folder and set ``dataset.train: official``.

The seeker is the ``initiatorWorkerId``; a mentioned movie's sentiment is the seeker's questionnaire
answer (``liked``: 1 liked, 0 disliked, 2 did not say), the recommender's answer when the seeker
filled none. The catalogue is every movie of ``movies_with_mentions.csv`` (so every mention resolves);
metadata comes from ``id2info.json``, and movies it lacks keep their title only (counted).
NOTE: ``movies_with_mentions.csv`` titles carry double spaces ("Police Academy  (1984)"); whitespace is
collapsed. Consecutive messages of one speaker are merged (as iEvaLM did for its files), so the two
splits have the same turn structure.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from recframe.conversation.dialogue import (
    DISLIKED,
    EXTRA_TRAIN,
    LIKED,
    RECOMMENDER,
    SEEKER,
    UNKNOWN,
    Dialogue,
    Dialogues,
    Utterance,
    mentioned,
)
from recframe.data.download import DatasetFiles, RemoteFile, dataset_folder

REDIAL_URL = "https://raw.githubusercontent.com/ReDialData/website/849e9eb1bb60e312f8bf4daa82fc10a285e9318b"
IEVALM_URL = "https://raw.githubusercontent.com/txy77/iEvaLM-CRS/5a7ccf416ce324ef06c0513ad22c44fc574b4ec8/data/redial"
REDIAL_FILES = DatasetFiles(
    "redial",
    (
        RemoteFile(
            "test_data",
            url=f"{REDIAL_URL}/test_data",
            sha256="d7781750787d104ac005e829cc7e6277d25b14644a223b0c2445aaaded6b19ac",
        ),
        RemoteFile(
            "movies_with_mentions.csv",
            url=f"{REDIAL_URL}/movies_with_mentions.csv",
            sha256="0d408daa474ac95b959a739a261dddd997dd800f5ea585da15a434a26187dbb0",
        ),
        RemoteFile("train_data", url=f"{REDIAL_URL}/train_data", optional=True),
    ),
)
IEVALM_FILES = DatasetFiles(
    "redial-ievalm",
    (
        RemoteFile(
            "valid_data.jsonl",
            url=f"{IEVALM_URL}/valid_data.jsonl",
            sha256="69b7cf81d0671c3dd0a1167df2e7e1e51ca76b3edce97022343d68f6974510a1",
        ),
        RemoteFile(
            "id2info.json",
            url=f"{IEVALM_URL}/id2info.json",
            sha256="7bdfe9a9c7f1b4d59aa9a5aeba0029071fd5a7232b61c8257212a335ffe424f7",
        ),
    ),
)
TRAIN_SOURCES = ("ievalm-1000", "official")
_LIKED = {1: LIKED, 0: DISLIKED, 2: UNKNOWN}  # 2 = "did not say"
_YEAR = re.compile(r"\((\d{4})\)\s*$")


def _questions(value: object) -> dict:
    """A questionnaire: ReDial writes ``[]`` instead of ``{}`` when nobody filled it."""
    return value if isinstance(value, dict) else {}


def parse_dialogue(record: dict, where: str) -> Dialogue:
    """One ReDial JSON record as a :class:`~.conversation.dialogue.Dialogue` (same-speaker messages merged)."""
    try:
        seeker = record["initiatorWorkerId"]
        messages = record["messages"]
        cid = str(record["conversationId"])
    except KeyError as err:
        raise ValueError(f"{where}: ReDial record without {err.args[0]!r}") from None
    if not messages:
        raise ValueError(f"{where}: dialogue {cid} has no messages")
    merged: list[tuple[str, list[str]]] = []
    for m in messages:
        speaker = SEEKER if m["senderWorkerId"] == seeker else RECOMMENDER
        text = str(m["text"]).strip()
        if merged and merged[-1][0] == speaker:
            merged[-1][1].append(text)
        else:
            merged.append((speaker, [text]))
    utterances = tuple(Utterance(s, " ".join(t), mentioned(" ".join(t))) for s, t in merged)
    answers = _questions(record.get("initiatorQuestions")) or _questions(record.get("respondentQuestions"))
    sentiment = {str(k): _LIKED[v["liked"]] for k, v in answers.items() if v.get("liked") in _LIKED}
    suggested = frozenset(str(k) for k, v in answers.items() if v.get("suggested") == 1)
    return Dialogue(cid, utterances, sentiment, suggested)


def read_dialogues(path: Path) -> list[Dialogue]:
    """Every dialogue of a ReDial JSON-lines file; a malformed line raises naming file and line."""
    out = []
    for number, raw in enumerate(Path(path).read_bytes().splitlines(), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(
                f"{path}:{number}: not UTF-8 text (byte {err.start}: {raw[err.start : err.start + 1]!r})"
            ) from None
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{number}: not JSON ({err.msg})") from None
        out.append(parse_dialogue(record, f"{path}:{number}"))
    if not out:
        raise ValueError(f"{path}: no dialogues")
    return out


def _names(values: object) -> list[str]:
    return [str(v).strip() for v in values if str(v).strip()] if isinstance(values, list) else []


def read_catalogue(movies_csv: Path, id2info: Path) -> tuple[pd.DataFrame, str]:
    """Every movie of ``movies_with_mentions.csv``, with iEvaLM's metadata where it has some."""
    movies = pd.read_csv(movies_csv, dtype={"movieId": str})
    if not {"movieId", "movieName"} <= set(movies.columns):
        raise ValueError(f"{movies_csv}: expected columns movieId, movieName; got {list(movies.columns)}")
    titles = movies["movieName"].fillna("").astype(str).str.split().str.join(" ")
    info = json.loads(Path(id2info).read_text(encoding="utf-8"))
    rows = []
    for raw, title in zip(movies["movieId"], titles, strict=True):
        meta = info.get(raw, {})
        year = _YEAR.search(title)
        rows.append(
            {
                "item": raw,
                "title": " ".join(str(meta.get("name") or title).split()),
                "genres": _names(meta.get("genre")),
                "directors": _names(meta.get("director")),
                "actors": _names(meta.get("star")),
                "plot": str(meta.get("plot") or ""),
                "year": int(year.group(1)) if year else np.nan,
            }
        )
    table = pd.DataFrame(rows).set_index("item")
    bare = len(table) - int(table.index.isin(list(info)).sum())
    return table, f"catalogue: {len(table):,} movies, {bare:,} without iEvaLM metadata (title only)"


def redial(
    train: str = "ievalm-1000",
    root: str | None = None,
    ievalm_root: str | None = None,
    extra_train: list[str] | tuple[str, ...] = (),
) -> Dialogues:
    """ReDial dialogues: ``train`` (the 1,000 iEvaLM training-split dialogues, or the official 10,006
    with ``train: official``) and the official ``test`` split, over the 6,924-movie catalogue.

    ``extra_train`` names other sources whose movie dialogues join the training split only
    (:mod:`recframe.conversation.transfer`: ``iard``, ``opendialkg``, ``inspired``)."""
    if train not in TRAIN_SOURCES:
        raise ValueError(f"unknown ReDial train source {train!r}; known: {list(TRAIN_SOURCES)}")
    folder = dataset_folder(REDIAL_FILES, root)
    extra = dataset_folder(IEVALM_FILES, ievalm_root)
    catalogue, report = read_catalogue(folder / "movies_with_mentions.csv", extra / "id2info.json")
    if train == "official":
        if not (folder / "train_data").is_file():
            raise FileNotFoundError(f"dataset.train=official needs {folder / 'train_data'} (the full ReDial release)")
        train_dialogues = read_dialogues(folder / "train_data")
    else:
        train_dialogues = read_dialogues(extra / "valid_data.jsonl")
    test = read_dialogues(folder / "test_data")
    splits = {"train": train_dialogues, "test": test}
    reports = [report, f"train: {train} ({len(train_dialogues):,} dialogues)"]
    if extra_train:
        from recframe.conversation.transfer import extra_training

        seen = {d.id for d in train_dialogues + test}
        splits[EXTRA_TRAIN], more = extra_training(list(extra_train), catalogue, seen)
        reports += more
    return Dialogues(splits, catalogue, "redial", reports)
