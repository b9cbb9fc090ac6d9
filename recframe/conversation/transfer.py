"""Extra *training* dialogues for ReDial from other real sources, mapped onto ReDial's catalogue.

Only 1,000 of ReDial's 10,006 training dialogues are available here, so ``dataset.extra_train`` adds
movie dialogues from elsewhere to the training split (never to validation or test):

- ``iard``: the ReDial dialogues Cai & Chen annotated with intents (UMAP 2020; ``iard/``), in ReDial's
  own ``@<movieId>`` form. Of its 336, the ones from ReDial's *test* split (38) are left out (they are
  test dialogues) and so are those already in the training dialogues (27 of iEvaLM's 1,000): 271 new
  training-split dialogues. They carry no liked/seen questionnaire (sentiment unknown).
- ``opendialkg``: OpenDialKG's *movie* turns of iEvaLM's train and valid splits (Moon et al., ACL 2019;
  CC BY-NC 4.0), items matched to ReDial movies by title (and year where both have one).
- ``inspired``: INSPIRED's training pairs (instructLF's form, see :mod:`recframe.conversation.inspired`),
  items matched by title and year the same way.

Matching rule: a source item maps to the ReDial movie with the same title (lower case, whitespace
collapsed, year dropped); when ReDial has several, the one with the source's year, else none. Items
that match nothing are removed from their utterance and counted in the reports; a turn left without a
target is counted by the DataModule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from recframe.conversation.dialogue import MENTION, RECOMMENDER, SEEKER, Dialogue, Utterance, mentioned
from recframe.conversation.inspired import YEAR, bare
from recframe.data.download import DatasetFiles, RemoteFile, dataset_folder

IARD_URL = "https://raw.githubusercontent.com/wanlingcai1997/umap_2020_IARD/021d2a8f333dacb8a0e61096dbec23a899bbd784"
IARD_FILES = DatasetFiles(
    "iard",
    (
        RemoteFile(
            "umap2020_IARD_Cai.json",
            url=f"{IARD_URL}/umap2020_IARD_Cai.json",
            sha256="aa7b9bad68765d80b653d716d124e561cc912437f23f9fa941e222361fb9883f",
        ),
    ),
)
OPENDIALKG_MOVIE_DIALOGUES = 3269  # iEvaLM numbers the movie dialogues 0-3268, then the book ones
_TITLE_TAG = re.compile(r"(@\d+)\s*<[^>]*>")  # IARD writes "@187028 <It  (2017)>"; ReDial only "@187028"
ROLES = {"seeker": SEEKER, "recommender": RECOMMENDER}


def _year(value: object) -> int | None:
    try:
        year = int(float(str(value).strip()))
    except ValueError:
        return None
    return year if 1800 < year < 2100 else None


class TitleMatcher:
    """Source items → ReDial raw ids by title, with the year deciding between same-titled movies."""

    def __init__(self, catalogue: pd.DataFrame) -> None:
        self.by_title: dict[str, list[tuple[str, int | None]]] = {}
        years = catalogue["year"] if "year" in catalogue.columns else pd.Series(np.nan, index=catalogue.index)
        for item, title, year in zip(catalogue.index, catalogue["title"].astype(str), years, strict=True):
            self.by_title.setdefault(bare(title), []).append((str(item), _year(year)))

    def match(self, title: str, year: object = None) -> str | None:
        """The ReDial id of ``title`` (``year`` may come inside the title as "(2008)"), or None."""
        found = YEAR.search(title)
        year = _year(year) if year not in (None, "") else (_year(found.group(1)) if found else None)
        candidates = self.by_title.get(bare(title), [])
        if len(candidates) == 1:
            return candidates[0][0]
        same_year = [item for item, y in candidates if year is not None and y == year]
        return same_year[0] if len(same_year) == 1 else None


def remap(dialogues: list[Dialogue], ids: dict[str, str | None], name: str) -> tuple[list[Dialogue], str]:
    """``dialogues`` with every item replaced by its ReDial id; unmatched items removed and counted."""
    out, kept, lost = [], 0, 0
    for d in dialogues:
        utterances = []
        for u in d.utterances:
            if MENTION.search(u.text):
                raise ValueError(f"{name}: dialogue {d.id} has '@<digits>' in its text, read as an item id")
            items = tuple(ids[i] for i in u.items if ids.get(i))
            kept, lost = kept + len(items), lost + len(u.items) - len(items)
            utterances.append(Utterance(u.speaker, u.text, items))
        sentiment = {ids[k]: v for k, v in d.sentiment.items() if ids.get(k)}
        out.append(Dialogue(f"{name}:{d.id}", tuple(utterances), sentiment, frozenset(), d.turns))
    report = f"{name}: {len(out):,} dialogues, {kept:,} item mentions matched to ReDial, {lost:,} unmatched (removed)"
    return out, report


def read_iard(path: Path) -> list[Dialogue]:
    """IARD's dialogues in ReDial's form (``@<movieId>`` mentions, same-speaker messages merged)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a UTF-8 JSON file ({err})") from None
    out = []
    for cid, record in data.items():
        try:
            messages = sorted(record["dialogue_info"].values(), key=lambda m: int(m["utterance_pos"]))
            merged: list[tuple[str, list[str]]] = []
            for m in messages:
                speaker, text = ROLES[m["role"]], _TITLE_TAG.sub(r"\1", str(m["utterance_text"])).strip()
                if merged and merged[-1][0] == speaker:
                    merged[-1][1].append(text)
                else:
                    merged.append((speaker, [text]))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: dialogue {cid}: malformed IARD record ({err!r})") from None
        if not merged:
            raise ValueError(f"{path}: dialogue {cid} has no utterances")
        texts = [(speaker, " ".join(parts)) for speaker, parts in merged]
        utterances = tuple(Utterance(speaker, text, mentioned(text)) for speaker, text in texts)
        out.append(Dialogue(str(cid), utterances))
    return out


def iard_extra(catalogue: pd.DataFrame, exclude: set[str], root: str | None = None) -> tuple[list[Dialogue], str]:
    """IARD's training-split dialogues not in ``exclude`` (the test and the other training dialogues)."""
    every = read_iard(dataset_folder(IARD_FILES, root) / "umap2020_IARD_Cai.json")
    kept = [d for d in every if d.id not in exclude]
    unknown = {i for d in kept for u in d.utterances for i in u.items} - set(map(str, catalogue.index))
    if unknown:
        raise ValueError(f"iard: mentions movie ids not in ReDial's catalogue: {sorted(unknown)[:5]}")
    named = [Dialogue(f"iard:{d.id}", d.utterances) for d in kept]
    left_out = len(every) - len(kept)
    return named, f"iard: {len(kept):,} of {len(every):,} dialogues ({left_out:,} already in test or train)"


def opendialkg_extra(catalogue: pd.DataFrame, exclude: set[str], root: str | None = None) -> tuple[list[Dialogue], str]:
    """OpenDialKG's movie turns (iEvaLM's train and valid splits) over ReDial's catalogue."""
    from recframe.conversation.ievalm import opendialkg

    source = opendialkg(root)
    matcher = TitleMatcher(catalogue)
    ids = {str(k): matcher.match(str(row["title"]), row.get("year")) for k, row in source.catalogue.iterrows()}
    turns = [
        d
        for split in ("train", "val")
        for d in source.dialogues[split]
        if int(d.id.split(":")[0]) < OPENDIALKG_MOVIE_DIALOGUES
    ]
    return remap(turns, ids, "opendialkg")


def inspired_extra(catalogue: pd.DataFrame, exclude: set[str], root: str | None = None) -> tuple[list[Dialogue], str]:
    """INSPIRED's training pairs over ReDial's catalogue."""
    from recframe.conversation.inspired import inspired

    source = inspired(root)
    matcher = TitleMatcher(catalogue)
    ids = {str(k): matcher.match(str(title)) for k, title in source.catalogue["title"].items()}
    return remap(source.dialogues["train"], ids, "inspired")


EXTRA_SOURCES: dict[str, Callable[..., tuple[list[Dialogue], str]]] = {
    "iard": iard_extra,
    "opendialkg": opendialkg_extra,
    "inspired": inspired_extra,
}


def extra_training(names: list[str], catalogue: pd.DataFrame, exclude: set[str]) -> tuple[list[Dialogue], list[str]]:
    """The extra training dialogues of every source in ``names``, and one report line per source."""
    unknown = [n for n in names if n not in EXTRA_SOURCES]
    if unknown:
        raise ValueError(f"unknown dataset.extra_train source {unknown[0]!r}; known: {list(EXTRA_SOURCES)}")
    dialogues, reports = [], []
    for name in dict.fromkeys(names):
        more, report = EXTRA_SOURCES[name](catalogue, exclude)
        dialogues += more
        reports.append(f"extra training: {report}")
    return dialogues, reports
