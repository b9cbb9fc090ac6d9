"""The catalogue as a conversation reads it: titles and attributes found in free text, and "did you mean".

Built once from a DataModule's item table (``spec.item_info``, dense ids, row 0 = PAD). Text is
normalised to lower-case words (punctuation dropped, a trailing ``(year)`` and a leading or trailing
"the" removed, so "Matrix, The (1999)" and "the matrix" meet); titles and attribute values are then
looked up as word n-grams, longest first — one dictionary probe per n-gram, not a scan of the
catalogue per message.
NOTE: a one-word title ("Up", "Heat", "It") matches only when the user capitalises it ("I loved Heat",
not "the heat was unbearable"); longer titles match in any case. Several items with one title (remakes)
resolve to the most popular unless the user adds the year ("Heat 1995"); a title read without a
leading "the" prefers the item whose title has none ("Alien" is not "The Alien").
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recframe.conversation.context import words as context_words

YEAR_SUFFIX = re.compile(r"\s*\((\d{4})\)\s*$")
LEADING_THE = re.compile(r"(?i)^the\b|, the\s*(\(\d{4}\))?$")  # "The Matrix" or "Matrix, The (1999)"
PEOPLE = ("directors", "actors", "writers")
ATTRIBUTES = ("genres", *PEOPLE)
MAX_NGRAM = 8
# genre words people use -> a genre name as catalogues spell it (used only when the catalogue has it)
GENRE_WORDS = {
    "funny": "comedy", "funnier": "comedy", "comedies": "comedy", "comedic": "comedy", "laugh": "comedy",
    "scary": "horror", "scarier": "horror", "creepy": "horror", "horrors": "horror",
    "romantic": "romance", "romcom": "romance", "animated": "animation", "cartoon": "animation",
    "cartoons": "animation", "scifi": "sci fi", "science fiction": "sci fi", "thrillers": "thriller",
    "thrilling": "thriller", "dramas": "drama", "westerns": "western", "musicals": "musical",
    "documentaries": "documentary", "crimes": "crime", "mysteries": "mystery", "wars": "war",
    "fantasies": "fantasy", "adventures": "adventure", "dramatic": "drama", "biopic": "biography",
}  # fmt: skip


def normalise(text: str) -> str:
    """Lower-case words joined by one space: ``"The Matrix (1999)" -> "matrix"`` (see the module note)."""
    text = YEAR_SUFFIX.sub("", text)
    words = context_words(text)
    if words and words[0] == "the":
        words = words[1:]
    if words and words[-1] == "the" and "," in text:  # "Matrix, The"
        words = words[:-1]
    return " ".join(words)


def _values(cell: object) -> list[str]:
    """A list cell as it is, a ``"A|B"`` / ``"A, B"`` string split, anything else empty."""
    if isinstance(cell, (list, tuple, np.ndarray)):
        return [str(v) for v in cell if str(v)]
    if isinstance(cell, str) and cell:
        return [v.strip() for v in re.split(r"[|,]", cell) if v.strip()]
    return []


def _year(row: pd.Series) -> int | None:
    year = row.get("year")
    if year is not None and not (isinstance(year, float) and np.isnan(year)):
        try:
            return int(year)
        except (TypeError, ValueError):
            pass
    found = YEAR_SUFFIX.search(str(row.get("title", "")))
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class Match:
    """One catalogue entry found in a text: its word span ``[start, stop)`` and what it is."""

    start: int
    stop: int
    kind: str  # "title" or an attribute column ("genres", "directors", "actors", "decade")
    value: object  # dense item id for a title; the attribute's value otherwise


class Catalogue:
    """Titles, attributes and years of every item, and the text matcher over them.

    Args:
        raw_ids: raw item id of dense ids ``1..n`` (``IdMap.raw``: ``raw_ids[k]`` is dense id ``k + 1``).
        info: the item table by dense id (``spec.item_info``): ``title`` and optionally ``genres``,
            ``directors``, ``actors``, ``writers`` (lists or ``|``-separated strings) and ``year``.
        popularity: training count per dense id; breaks ties between items with one title.
    """

    def __init__(self, raw_ids: np.ndarray, info: pd.DataFrame, popularity: np.ndarray | None = None) -> None:
        if info is None or "title" not in info.columns:
            raise ValueError("a conversation needs item titles: the checkpoint's dataset has no item 'title' column")
        self.raw = ["", *(str(r) for r in raw_ids)]  # by dense id; 0 = PAD
        self.popularity = np.zeros(len(self.raw)) if popularity is None else np.asarray(popularity, dtype=float)
        self.dense = {raw: k for k, raw in enumerate(self.raw) if k > 0}
        rows = info.reindex(np.arange(len(self.raw)))
        self.titles = ["" if k == 0 else str(t) for k, t in enumerate(rows["title"].tolist())]
        self.title_of = dict(zip(self.raw[1:], self.titles[1:], strict=True))  # raw id -> title
        self.attributes: list[dict[str, set[str]]] = [{} for _ in self.raw]
        self.years: list[int | None] = [None] * len(self.raw)
        for k, (_, row) in enumerate(rows.iterrows()):
            if k == 0:
                continue
            self.attributes[k] = {c: set(_values(row.get(c))) for c in ATTRIBUTES if c in rows.columns}
            self.years[k] = _year(row)
        self._index_titles()
        self._index_attributes()
        self._inverted: dict[tuple[str, str], list[int]] = {}  # (column, value) -> items
        for k in range(1, len(self.raw)):
            for column, found in self.attributes[k].items():
                for value in found:
                    self._inverted.setdefault((column, value), []).append(k)
            if self.years[k] is not None:
                self._inverted.setdefault(("decade", self.decade(k)), []).append(k)

    def __len__(self) -> int:
        return len(self.raw)

    def _index_titles(self) -> None:
        """Title keys -> item; when several items share a key, the one whose title needs no "the" dropped
        to read as the key wins ("Alien" is Alien (1979), not The Alien (2016)), then the most popular."""
        candidates: dict[str, list[tuple[bool, float, int]]] = {}
        for k in range(1, len(self.raw)):
            key = normalise(self.titles[k])
            if not key:
                continue
            has_the = bool(LEADING_THE.search(self.titles[k]))
            keys = [(key, not has_the)]
            if has_the:
                keys.append((f"the {key}", True))  # "the matrix" in any case
            if self.years[k] is not None:
                keys.append((f"{key} {self.years[k]}", not has_the))
            for name, literal in keys:
                candidates.setdefault(name, []).append((literal, float(self.popularity[k]), -k))
        self.by_title = {name: -max(found)[2] for name, found in candidates.items()}
        self.title_keys = sorted({normalise(t) for t in self.titles[1:] if normalise(t)})

    def _index_attributes(self) -> None:
        self.by_attribute: dict[str, tuple[str, str]] = {}
        for column in ATTRIBUTES:
            for k in range(1, len(self.raw)):
                for value in self.attributes[k].get(column, ()):
                    key = normalise(value)
                    if len(key) > 2:
                        self.by_attribute.setdefault(key, (column, value))
        genres = {key: attribute for key, attribute in self.by_attribute.items() if attribute[0] == "genres"}
        for word, genre in GENRE_WORDS.items():
            if genre in genres:
                self.by_attribute.setdefault(word, genres[genre])

    def item(self, raw: str | int) -> int:
        """Dense id of raw item ``raw``; unknown ids raise with the nearest titles when ``raw`` is a title."""
        key = str(raw)
        if key in self.dense:
            return self.dense[key]
        literal = " ".join(context_words(YEAR_SUFFIX.sub("", key)))  # "the alien" before "alien"
        for name in (literal, normalise(key)):
            if name in self.by_title:
                return self.by_title[name]
        near = self.suggest(key)
        hint = f"; did you mean {', '.join(repr(t) for t in near)}?" if near else ""
        raise KeyError(f"no item {key!r} in the catalogue{hint}")

    def suggest(self, phrase: str, n: int = 3) -> list[str]:
        """Up to ``n`` catalogue titles closest to ``phrase`` (difflib's ratio >= 0.75)."""
        keys = difflib.get_close_matches(normalise(phrase), self.title_keys, n=n, cutoff=0.75)
        return [self.titles[self.by_title[k]] for k in keys]

    def decade(self, item: int) -> str | None:
        year = self.years[item]
        return None if year is None else f"{year // 10 * 10}s"

    def has(self, item: int, column: str, value: str) -> bool:
        """Whether ``item`` really has attribute ``value`` (the faithfulness check of explanations)."""
        if column == "decade":
            return self.decade(item) == value
        return value in self.attributes[item].get(column, ())

    def having(self, column: str, values: set[str]) -> np.ndarray:
        """Bool ``[I]``: items with at least one of ``values`` in ``column`` (``decade``: ``"1990s"``)."""
        out = np.zeros(len(self.raw), dtype=bool)
        for value in values:
            out[self._inverted.get((column, value), [])] = True
        return out

    def find(self, tokens: list[str]) -> list[Match]:
        """Titles and attribute values among ``tokens`` (:func:`tokens`), longest first, not overlapping."""
        words = [t.lower() for t in tokens]
        found: list[Match] = []
        taken = [False] * len(words)
        for n in range(min(MAX_NGRAM, len(words)), 0, -1):
            for start in range(len(words) - n + 1):
                if any(taken[start : start + n]):
                    continue
                key = " ".join(words[start : start + n])
                match = self._lookup(key, n > 1 or tokens[start][:1].isupper())
                if match is not None:
                    found.append(Match(start, start + n, *match))
                    taken[start : start + n] = [True] * n
        found += _decades(words, taken)
        return sorted(found, key=lambda m: m.start)

    def _lookup(self, key: str, may_be_title: bool) -> tuple[str, object] | None:
        if may_be_title and key in self.by_title and key not in self.by_attribute:
            return "title", self.by_title[key]
        if key in self.by_attribute:
            return self.by_attribute[key]
        return None


def tokens(text: str) -> list[tuple[str, int]]:
    """``(token, character offset)`` of every alphanumeric run, case kept (the matcher's tokenizer)."""
    return [(m.group(0), m.start()) for m in re.finditer(r"[A-Za-z0-9]+", text)]


DECADE_WORD = re.compile(r"^(19|20)?([0-9])0s$")


def _decades(words: list[str], taken: list[bool]) -> list[Match]:
    """``90s``, ``1990s``, ``the 80s`` -> ``("decade", "1990s")``; a bare year like ``1990`` is not a decade."""
    out = []
    for k, word in enumerate(words):
        found = DECADE_WORD.match(word)
        if taken[k] or not found:
            continue
        century, digit = found.group(1), found.group(2)
        century = century or ("20" if digit in "012" else "19")
        out.append(Match(k, k + 1, "decade", f"{century}{digit}0s"))
    return out
