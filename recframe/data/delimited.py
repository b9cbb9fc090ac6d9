"""Read a delimited text file fast with pandas, or fail naming the file and the 1-based line at fault.

The fast path is pandas' C parser with fixed dtypes plus vectorised checks. When it fails or a check
fails, :func:`first_bad_line` finds the first offending line with exact per-field rules and the error
reads ``path:line: what is wrong``. To keep that search quick on 20M-line files, unquoted files are
re-parsed in blocks of lines and only a failing block is checked line by line in Python.
Nothing is dropped: empty lines hold no data and are skipped, every other line must parse.

Column kinds:
    ``id``: a non-negative integer (int64);  ``int``: any integer (int64);
    ``float``: a finite number (float64);  ``str``: non-empty text;  ``text``: text that may be empty.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

KINDS = ("id", "int", "float", "str", "text")
_DTYPES = {"id": np.int64, "int": np.int64, "float": np.float64, "str": str, "text": str}
_INTEGER = re.compile(r"[+-]?\d+")
_SEP = "\x1f"  # stands in for multi-character separators such as '::', which the C parser cannot split on
_BLOCK_BYTES = 8 << 20  # a failing block is checked line by line (~1 s per 8 MiB)


class _Undecodable(Exception):
    """Line ``number`` is not valid text in the file's encoding (internal to this module)."""

    def __init__(self, number: int, problem: str) -> None:
        super().__init__(problem)
        self.number, self.problem = number, problem


def _field_problem(kind: str, name: str, token: str) -> str | None:
    """Why ``token`` is not a valid ``kind`` value, or None."""
    if kind == "text":
        return None
    if kind == "str":
        return None if token else f"{name} is empty"
    value = token.strip()
    if kind in ("id", "int"):
        if not _INTEGER.fullmatch(value) or not -(2**63) <= int(value) < 2**63:
            return f"{name} {token!r} is not an integer"
        if kind == "id" and int(value) < 0:
            return f"{name} {token!r} is negative; ids must be >= 0"
        return None
    try:
        number = float(value)
    except ValueError:
        return f"{name} {token!r} is not a number"
    return None if math.isfinite(number) else f"{name} is {token!r}; it must be a finite number"


def _records(
    lines: Iterable[tuple[int, bytes]], sep: str, encoding: str, quoted: bool, start: int
) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` for each non-empty record of consecutive numbered lines from ``start``."""
    current = [start - 1]

    def text() -> Iterator[str]:
        for number, raw in lines:
            current[0] = number
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError as err:
                raise _Undecodable(number, f"not valid {encoding} text ({err.reason})") from None

    if not quoted:
        for line in text():
            line = line.rstrip("\r\n")
            if line:
                yield current[0], line.split(sep)
        return
    for fields in csv.reader(text(), delimiter=sep):  # a record may span lines: number it by its first
        if fields:
            yield start, fields
        start = current[0] + 1


def _scan(
    records: Iterator[tuple[int, list[str]]], columns: dict[str, str], sep: str, limit: int | None = None
) -> tuple[int, str] | None:
    """The first record that breaks the rules as ``(line number, problem)``, or None."""
    names, kinds = list(columns), list(columns.values())
    try:
        for seen, (number, fields) in enumerate(records, start=1):
            if len(fields) != len(names):
                return number, f"expected {len(names)} fields separated by {sep!r}, found {len(fields)}"
            for name, kind, token in zip(names, kinds, fields, strict=True):
                problem = _field_problem(kind, name, token)
                if problem:
                    return number, problem
            if limit is not None and seen >= limit:
                break
    except _Undecodable as err:
        return err.number, err.problem
    return None


def _header_problem(first_line: bytes, names: list[str], sep: str, encoding: str) -> str | None:
    got = first_line.decode(encoding, errors="replace").rstrip("\r\n").lstrip("\ufeff")
    want = sep.join(names)
    return None if got == want else f"header is {got!r}, expected {want!r}"


def _parse(source: Path | io.BytesIO, columns: dict[str, str], *, sep: str, skip: int, encoding: str, quoted: bool):
    """pandas' C parser with fixed dtypes; raises on anything it cannot convert."""
    if len(sep) > 1:
        data = source.read_bytes() if isinstance(source, Path) else source.getvalue()
        source, sep = io.BytesIO(data.replace(sep.encode(encoding), _SEP.encode(encoding))), _SEP
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)  # extra fields on the first line
        return pd.read_csv(
            source,
            sep=sep,
            header=None,
            skiprows=skip,
            names=list(columns),
            index_col=False,
            dtype={name: _DTYPES[kind] for name, kind in columns.items()},
            engine="c",
            encoding=encoding,
            keep_default_na=False,  # 'NA', 'null', 'nan' in a title stay text
            na_values={name: [""] for name, kind in columns.items() if kind == "str"},
            quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE,
        )


def _invalid(df: pd.DataFrame, columns: dict[str, str]) -> str | None:
    """What the vectorised checks reject in a parsed table, or None."""
    for name, kind in columns.items():
        values = df[name]
        if kind == "id" and (values < 0).any():
            return f"negative {name}"
        if kind == "float" and not np.isfinite(values.to_numpy()).all():
            return f"non-finite {name}"
        if kind == "str" and values.isna().any():
            return f"empty or missing {name}"
    return None


def _parses(data: bytes, columns: dict[str, str], sep: str, encoding: str) -> bool:
    try:
        df = _parse(io.BytesIO(data), columns, sep=sep, skip=0, encoding=encoding, quoted=False)
    except (ValueError, OverflowError, pd.errors.ParserWarning, pd.errors.EmptyDataError):
        return not data.strip()
    return _invalid(df, columns) is None


def first_bad_line(
    path: str | Path,
    columns: dict[str, str],
    *,
    sep: str,
    header: bool = False,
    encoding: str = "utf-8",
    quoted: bool = False,
    limit: int | None = None,
) -> tuple[int, str] | None:
    """The first line that breaks the rules of :func:`read_table`, as ``(line number, problem)``, or None.

    Args:
        limit: check only this many data records (after the header).
    """
    path = Path(path)
    with path.open("rb") as f:
        if header:
            problem = _header_problem(f.readline(), list(columns), sep, encoding)
            if problem:
                return 1, problem
        first = 2 if header else 1
        if quoted or limit is not None:
            return _scan(_records(enumerate(f, start=first), sep, encoding, quoted, first), columns, sep, limit)
        while lines := f.readlines(_BLOCK_BYTES):
            numbered = list(zip(itertools.count(first), lines, strict=False))
            start, first = first, first + len(lines)
            # The C parser tolerates one trailing separator on a block's first line, so check that line exactly.
            bad = _scan(_records(numbered, sep, encoding, False, start), columns, sep, limit=1)
            if bad is None and not _parses(b"".join(lines), columns, sep, encoding):
                bad = _scan(_records(numbered, sep, encoding, False, start), columns, sep)
            if bad:
                return bad
    return None


def read_table(
    path: str | Path,
    columns: dict[str, str],
    *,
    sep: str,
    header: bool = False,
    encoding: str = "utf-8",
    quoted: bool = False,
) -> pd.DataFrame:
    """Parse a delimited file into a DataFrame with one column per entry of ``columns``.

    Args:
        path: the file.
        columns: ``{name: kind}`` in file order; kinds as in the module docstring. With ``header`` the names
            must equal the file's header line. A missing trailing ``text`` field cannot be told from an empty
            one, so the last column should not be ``text``.
        sep: the field separator; may be several characters (``'::'``).
        header: the first line is a header (checked against ``columns``).
        encoding: text encoding (MovieLens 100K/1M files are ``latin-1``).
        quoted: fields may be double-quoted (real CSV, e.g. titles with commas).

    Raises:
        ValueError: ``"{path}:{line}: {problem}"`` for the first bad line (wrong field count, a non-integer
            id, a negative id, a non-finite number, an empty required field, undecodable bytes, a bad header),
            or ``"{path}: no data lines"``.
    """
    path = Path(path)
    unknown = {k for k in columns.values() if k not in KINDS}
    if unknown:
        raise ValueError(f"unknown column kinds {sorted(unknown)}; known: {list(KINDS)}")
    rules = {"sep": sep, "header": header, "encoding": encoding, "quoted": quoted}
    bad = first_bad_line(path, columns, **rules, limit=1)  # the header and a first line pandas would tolerate
    problem = None
    try:
        if bad is None:
            df = _parse(path, columns, sep=sep, skip=int(header), encoding=encoding, quoted=quoted)
            problem = _invalid(df, columns) or (None if len(df) else "no data lines")
            if problem is None:
                return df
    except (ValueError, OverflowError, pd.errors.ParserWarning, pd.errors.EmptyDataError) as err:
        problem = f"{type(err).__name__}: {err}"
    bad = bad or first_bad_line(path, columns, **rules)
    if bad:
        raise ValueError(f"{path}:{bad[0]}: {bad[1]}")
    raise ValueError(f"{path}: {problem}")
