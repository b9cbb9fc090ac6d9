"""Recommendation turns as iEvaLM-CRS ships them (Wang et al., EMNLP 2023): OpenDialKG and ReDial.

Each line of ``*_data_processed.jsonl`` is one turn: ``context`` (earlier utterances, items by name),
``entity`` (entity names mentioned so far, items among them), ``rec`` (the item names of the
response: the targets) and ``resp``. Every line becomes a :class:`~.conversation.dialogue.Dialogue`
whose last utterance is the recommender's response and the only evaluated turn; utterances
alternate seeker / recommender ending with the seeker (as OpenDialKG's dialogues start with the
user). Items mentioned in the context are the ``entity`` names found in the catalogue, placed on
the first context utterance that contains the name (on the last one when no utterance does, counted).

- ``opendialkg`` (Moon et al., ACL 2019; CC BY-NC 4.0): iEvaLM's random train / valid / test split of
  the movie and book turns (5,547 / 1,188 / 1,188) over the 3,672 items of ``id2info.json``.
- ``redial_ievalm``: iEvaLM's ReDial turns: test = ``test_data_processed.jsonl`` (3,341 turns), train
  = ``valid_data_processed.jsonl`` (2,716 turns of the 1,000 training-split dialogues), over the
  ReDial catalogue of :mod:`recframe.conversation.redial` matched by title.

NOTE: the response's targets are the ``rec`` names; a name missing from the catalogue is counted by the
DataModule and left out, never silently dropped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from recframe.conversation.dialogue import RECOMMENDER, SEEKER, Dialogue, Dialogues, Utterance
from recframe.data.download import DatasetFiles, RemoteFile, dataset_folder

IEVALM = "https://raw.githubusercontent.com/txy77/iEvaLM-CRS/5a7ccf416ce324ef06c0513ad22c44fc574b4ec8/data"
OPENDIALKG_FILES = DatasetFiles(
    "opendialkg-ievalm",
    (
        RemoteFile(
            "train_data_processed.jsonl",
            url=f"{IEVALM}/opendialkg_eval/train_data_processed.jsonl",
            sha256="472243b8c12c8e1eb44598d094e8b6e03a148ce13dc3f58ea9b323ba4ed27018",
        ),
        RemoteFile(
            "valid_data_processed.jsonl",
            url=f"{IEVALM}/opendialkg_eval/valid_data_processed.jsonl",
            sha256="21bbf814ad76f36f058678b1bf4e9a77ca01ca00766bd8eb39780d1163f74bd2",
        ),
        RemoteFile(
            "test_data_processed.jsonl",
            url=f"{IEVALM}/opendialkg_eval/test_data_processed.jsonl",
            sha256="055eb9481823517099f0109929ea640662d58287af708e99983d9b97e2ce51a4",
        ),
        RemoteFile(
            "id2info.json",
            url=f"{IEVALM}/opendialkg/id2info.json",
            sha256="a8ce8de8c957a1d339c80ff548e13eb32a66ee639243f67bc479ce09ad1c299e",
        ),
    ),
)
REDIAL_EVAL_FILES = DatasetFiles(
    "redial-ievalm-eval",
    (
        RemoteFile(
            "test_data_processed.jsonl",
            url=f"{IEVALM}/redial_eval/test_data_processed.jsonl",
            sha256="8c8855aa872ade097691bb9feaeed6aaf4cfafa21575ebfcd8271b1e263f352b",
        ),
        RemoteFile(
            "valid_data_processed.jsonl",
            url=f"{IEVALM}/redial_eval/valid_data_processed.jsonl",
            sha256="20f0672f83c2be2f1f6c43867ba0ab1c2c483ca221a360ddc58679294afa472f",
        ),
    ),
)


def _names(values: object) -> list[str]:
    return [" ".join(str(v).split()) for v in values if str(v).strip()] if isinstance(values, list) else []


def turn_dialogue(record: dict, where: str, ids: dict[str, str]) -> tuple[Dialogue, int]:
    """One processed turn as a one-turn :class:`~.conversation.dialogue.Dialogue`.

    Also returns how many context items had no utterance.
    """
    try:
        context, entities, targets = list(record["context"]), list(record["entity"]), list(record["rec"])
        cid = f"{record['dialog_id']}:{record['turn_id']}"
    except (KeyError, TypeError) as err:
        raise ValueError(f"{where}: processed turn without {err.args[0]!r}") from None
    texts = [str(t).strip() for t in context if str(t).strip()]
    if not texts:
        raise ValueError(f"{where}: turn {cid} has an empty context")
    speakers = [SEEKER if (len(texts) - k) % 2 == 1 else RECOMMENDER for k in range(len(texts))]
    placed: list[list[str]] = [[] for _ in texts]
    unplaced = 0
    for name in dict.fromkeys(" ".join(str(e).split()) for e in entities):
        if name not in ids:
            continue  # a person, genre or year, not a catalogue item
        where_found = next((k for k, t in enumerate(texts) if name.lower() in t.lower()), None)
        if where_found is None:
            unplaced += 1
            where_found = len(texts) - 1
        placed[where_found].append(ids[name])
    utterances = [Utterance(s, t, tuple(p)) for s, t, p in zip(speakers, texts, placed, strict=True)]
    response = Utterance(
        RECOMMENDER, str(record.get("resp", "")), tuple(ids.get(" ".join(str(n).split()), f"?{n}") for n in targets)
    )
    return Dialogue(cid, (*utterances, response), turns=(len(utterances),)), unplaced


def read_turns(path: Path, ids: dict[str, str]) -> tuple[list[Dialogue], list[str]]:
    """Every processed turn of a file; malformed lines raise naming file and line."""
    out, unplaced, unknown = [], 0, 0
    for number, raw in enumerate(Path(path).read_bytes().splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}:{number}: not a UTF-8 JSON line ({err})") from None
        dialogue, missing = turn_dialogue(record, f"{path}:{number}", ids)
        unplaced += missing
        unknown += sum(i.startswith("?") for i in dialogue.utterances[-1].items)
        out.append(dialogue)
    if not out:
        raise ValueError(f"{path}: no turns")
    notes = [f"{path.name}: {len(out):,} turns"]
    if unplaced:
        notes.append(f"{path.name}: {unplaced:,} context items named in no utterance (placed on the last)")
    if unknown:
        notes.append(f"{path.name}: {unknown:,} target names not in the catalogue")
    return out, notes


def opendialkg(root: str | None = None) -> Dialogues:
    """OpenDialKG's movie and book turns in iEvaLM's train / valid / test split (3,672 items)."""
    folder = dataset_folder(OPENDIALKG_FILES, root)
    info = json.loads((folder / "id2info.json").read_text(encoding="utf-8"))
    rows = [
        {
            "item": str(key),
            "title": " ".join(str(meta.get("name", "")).split()),
            "genres": _names(meta.get("genre")),
            "directors": _names(meta.get("director")),
            "actors": list(dict.fromkeys(_names(meta.get("actor")))),
            "writers": _names(meta.get("writer")),
            "year": str(meta.get("year", "")),
            "plot": "",
        }
        for key, meta in info.items()
    ]
    catalogue = pd.DataFrame(rows).set_index("item")
    ids = {title: item for item, title in catalogue["title"].items()}
    if len(ids) != len(catalogue):
        raise ValueError(f"{folder / 'id2info.json'}: item names are not unique")
    splits, notes = {}, [f"catalogue: {len(catalogue):,} movies and books (id2info.json)"]
    for split, name in (("train", "train"), ("val", "valid"), ("test", "test")):
        splits[split], more = read_turns(folder / f"{name}_data_processed.jsonl", ids)
        notes += more
    return Dialogues(splits, catalogue, "opendialkg", notes)


def redial_ievalm(root: str | None = None, redial_root: str | None = None, ievalm_root: str | None = None) -> Dialogues:
    """iEvaLM's ReDial turns over the ReDial catalogue: train = its 2,716 turns of training dialogues,
    test = its 3,341 test turns."""
    from recframe.conversation.redial import IEVALM_FILES, REDIAL_FILES, read_catalogue

    folder = dataset_folder(REDIAL_EVAL_FILES, root)
    catalogue, line = read_catalogue(
        dataset_folder(REDIAL_FILES, redial_root) / "movies_with_mentions.csv",
        dataset_folder(IEVALM_FILES, ievalm_root) / "id2info.json",
    )
    ids: dict[str, str] = {}
    for item, title in catalogue["title"].items():
        ids.setdefault(title, item)  # ReDial lists some films twice; the first id answers for the name
    splits, notes = {}, [line]
    for split, name in (("train", "valid"), ("test", "test")):
        splits[split], more = read_turns(folder / f"{name}_data_processed.jsonl", ids)
        notes += more
    return Dialogues(splits, catalogue, "redial-ievalm", notes)
