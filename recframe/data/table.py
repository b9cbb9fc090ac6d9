"""Users' own interaction files: delimited text (CSV, TSV, ...) or Parquet, with optional item/user tables.

Registered as dataset ``csv``; an experiment names the file and its columns::

    dataset: {name: csv, path: data/ratings.tsv, sep: "\\t", rating: stars, timestamp: ts}

Id policy (user and item columns, and the id column of a side table):

- every value a plain non-negative integer (``0``, ``17``; no sign, no leading zero, at most 18 digits):
  int64 ids;
- every value a finite number but some negative or not written as a plain integer (``-3``, ``2.5``, ``4.0``,
  ``1e3``): an error naming ``file:line``, because such a column is almost always a mistake (a float
  export, a wrong column) and silently reading it as text would split one id into several;
- otherwise (any non-numeric value such as ``A12``, or zero-padded codes such as ``007``): string ids,
  exactly as written.

Text files are read with :func:`recframe.data.delimited.read_table`, so a malformed line fails as
``file:line: problem`` and nothing is skipped except empty lines. Timestamps must be integers (e.g.
unix seconds); without a timestamp column the order of a user's lines in the file is their order.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from recframe.data.delimited import first_bad_line, read_table
from recframe.data.interactions import Interactions

PARQUET_SUFFIXES = (".parquet", ".pq")
_DELIMITERS = ("\t", ",", ";", "|", "::", " ")  # tried, in order, when the given one does not fit
_PLAIN_ID = r"0|[1-9][0-9]{0,17}"  # up to 18 digits always fits in int64

# locate(column, kind) -> "path:line: problem" of the first value of ``column`` that is not a ``kind``.
Locate = Callable[[str, str], str | None]


def _other_delimiter(line: str, sep: str, fits: Callable[[list[str]], bool]) -> str | None:
    """A common delimiter other than ``sep`` under which ``line`` fits, else one that splits it at all."""
    candidates = [d for d in _DELIMITERS if d != sep and d in line]
    for d in candidates:
        if fits([p.strip().strip('"') for p in line.split(d)]):
            return d
    return candidates[0] if candidates and len(line.split(sep)) == 1 else None


def _layout(path: Path, wanted: dict[str, str], sep: str, header: bool) -> tuple[dict[str, str], dict[str, str]]:
    """Every column of the file with a kind (``wanted`` ones get theirs, the rest ``text``).

    Returns ``(columns, raw)``: ``columns`` maps each raw header token (or position) to its kind, as
    :func:`read_table` wants them; ``raw`` maps each column name (unquoted, stripped) to its raw token.
    """
    with path.open("rb") as f:
        first = f.readline()
        more = any(line.strip() for line in f)  # stops at the first non-empty line
    if not first.strip() and not more:
        raise ValueError(f"{path}: the file is empty")
    try:
        line = first.decode("utf-8").rstrip("\r\n").lstrip("\ufeff")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}:1: not valid utf-8 text ({err.reason})") from None
    if header and not more:
        raise ValueError(f"{path}:1: only a header line ({line!r}), no data lines")
    tokens = line.split(sep)
    names = [t.strip().strip('"') for t in tokens] if header else [str(k) for k in range(len(tokens))]
    if header:
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"{path}:1: the header names column(s) {repeated} more than once: {names}")
    missing = [name for name in wanted if name not in names]
    if missing:
        what = "header" if header else "first line"

        def fits(parts: list[str]) -> bool:
            return set(wanted) <= set(parts) if header else len(parts) > max(int(n) for n in wanted)

        other = _other_delimiter(line, sep, fits)
        if other is not None:
            raise ValueError(
                f"{path}:1: splitting the {what} on sep={sep!r} gives {len(tokens)} column(s) {tokens}; the file "
                f"seems to use {other!r} as its delimiter: set sep={other!r}"
            )
        found = names if header else f"positions 0..{len(names) - 1}"
        raise ValueError(f"{path}:1: no column {missing}; asked for {list(wanted)}, the {what} has {found}")
    raw = dict(zip(names, tokens if header else names, strict=True))
    return {raw[n]: wanted.get(n, "text") for n in names}, raw


def _read_text(path: Path, wanted: dict[str, str], sep: str, header: bool) -> tuple[pd.DataFrame, Locate]:
    """Every column of a delimited file by name, and a ``locate`` for later value checks."""
    columns, raw = _layout(path, wanted, sep, header)
    rules = {"sep": sep, "header": header, "quoted": len(sep) == 1}
    df = read_table(path, columns, **rules)
    last, kind = list(columns.items())[-1]
    if kind == "text" and (df[last] == "").any():
        # A missing last field reads as an empty one: count the fields of every line (exact scan).
        bad = first_bad_line(path, columns, **rules, limit=sys.maxsize)
        if bad:
            raise ValueError(f"{path}:{bad[0]}: {bad[1]}")

    def locate(name: str, new_kind: str) -> str | None:
        bad = first_bad_line(path, {**columns, raw[name]: new_kind}, **rules)
        return f"{path}:{bad[0]}: {bad[1]}" if bad else None

    return pd.DataFrame({name: df[token].to_numpy() for name, token in raw.items()}), locate


def _read_parquet(path: Path, wanted: dict[str, str]) -> tuple[pd.DataFrame, Locate]:
    """Every column of a Parquet file, the wanted ones checked; ids as text so the id policy applies."""
    if importlib.util.find_spec("pyarrow") is None:
        raise ValueError(
            f"{path}: reading Parquet needs the pyarrow package, which is not installed; "
            "install it with `pip install pyarrow`, or save the table as CSV"
        )
    df = pd.read_parquet(path).reset_index(drop=True)
    df.columns = [str(c) for c in df.columns]
    missing = [name for name in wanted if name not in df.columns]
    if missing:
        raise ValueError(f"{path}: no column {missing}; asked for {list(wanted)}, the file has {list(df.columns)}")
    for name, kind in wanted.items():
        values = df[name]
        if values.isna().any():
            raise ValueError(f"{path}: row {int(np.flatnonzero(values.isna())[0])}: {name} is missing")
        if kind == "float":
            values = pd.to_numeric(values).astype(np.float64)
            if not np.isfinite(values).all():
                k = int(np.flatnonzero(~np.isfinite(values))[0])
                raise ValueError(f"{path}: row {k}: {name} is {values[k]}; it must be a finite number")
        elif kind == "int":
            if pd.api.types.is_datetime64_any_dtype(values):
                values = values.astype("datetime64[s]").astype(np.int64)
            elif not pd.api.types.is_integer_dtype(values):
                raise ValueError(f"{path}: {name} must hold integers or datetimes, not {values.dtype}")
        else:
            values = values.astype(str)
        df[name] = values

    def locate(name: str, new_kind: str) -> str | None:
        bad = ~df[name].str.fullmatch("[0-9]+")
        k = int(np.flatnonzero(bad)[0]) if bad.any() else None
        return None if k is None else f"{path}: row {k}: {name} {df[name][k]!r} is not a non-negative integer"

    return df, locate


def _read(path: Path, wanted: dict[str, str], sep: str, header: bool) -> tuple[pd.DataFrame, Locate]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (dataset csv)")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return _read_parquet(path, wanted)
    return _read_text(path, wanted, sep, header)


def _ids(values: np.ndarray, name: str, locate: Locate) -> np.ndarray:
    """Apply the id policy of the module docstring to a column of id strings."""
    text = pd.Series(values, dtype=str)
    if text.str.fullmatch(_PLAIN_ID).all():
        return text.to_numpy().astype(np.int64)
    numbers = pd.to_numeric(text, errors="coerce")
    if np.isfinite(numbers).all() and not text.str.fullmatch("[0-9]+").all():
        where = locate(name, "id")
        if where is None:  # e.g. '+5': an integer to the line checker, yet not a plain id
            k = int(np.flatnonzero(~text.str.fullmatch("[0-9]+"))[0])
            where = f"{name} {text[k]!r} (row {k})"
        raise ValueError(
            f"{where}; the {name} column is numeric, so its ids must be plain non-negative integers "
            "(a column with any non-numeric value is read as string ids)"
        )
    return text.to_numpy().astype(str)


def _side_table(path: Path, column: str, sep: str, header: bool, like: np.ndarray, kind: str) -> pd.DataFrame:
    """A side table indexed by raw id, its ids typed like the log's (``like``); other columns by name."""
    id_name = column if header or path.suffix.lower() in PARQUET_SUFFIXES else "0"
    df, locate = _read(path, {id_name: "str"}, sep, header)
    raw = df.pop(id_name).to_numpy()
    if like.dtype.kind == "i":
        ids = _ids(raw, id_name, locate)
        if ids.dtype.kind != "i":
            raise ValueError(
                f"{path}: {kind} ids like {ids[:3].tolist()} are not integers, but the interaction file's are"
            )
    else:  # the log's ids are text: match the table's ids as written
        ids = raw.astype(str)
    index = pd.Index(ids, name=kind)
    if index.has_duplicates:
        raise ValueError(f"{path}: {kind} {index[index.duplicated()].tolist()[0]!r} appears on more than one line")
    df.index = index
    for name in df.columns:  # a column of numbers becomes numeric; anything else stays text
        if pd.api.types.is_string_dtype(df[name]):
            numbers = pd.to_numeric(df[name], errors="coerce")
            if numbers.notna().all():
                df[name] = numbers
    return df


def csv(
    path: str,
    user: str = "user",
    item: str = "item",
    rating: str | None = None,
    timestamp: str | None = None,
    sep: str = ",",
    header: bool = True,
    items_path: str | None = None,
    users_path: str | None = None,
    label: str | None = None,
) -> Interactions:
    """Load an interaction file of the user's own: one line per (user, item) event.

    Args:
        path: a delimited text file, or a Parquet file (``.parquet``/``.pq``; needs ``pyarrow``). Required;
            it has a default only because the config schema cannot yet express a required key.
        user / item: the id columns: header names, or 0-based positions (``"0"``, ``"1"``) when
            ``header`` is false. Ids follow the module docstring's policy.
        rating: a column of finite numbers; None gives implicit feedback (every rating 1.0).
        timestamp: a column of integers (e.g. unix seconds); None orders each user's events as in the file.
        sep: the field separator (one or more characters; ``\\t`` as typed on a command line means a tab).
            Single-character separators allow double-quoted fields.
        header: the first line names the columns.
        items_path / users_path: optional side tables in the same format, one line per item/user; with a
            header their id column has the name given by ``item``/``user``, without one it is the first
            column. Columns whose every value is a number become numeric.
        label: the dataset name in messages and run records (default: the file's stem). Not ``name``:
            in a config, ``dataset.name`` is the registry key (``csv``).

    Raises:
        ValueError: ``file:line: problem`` for malformed input (wrong field count, an empty id, a NaN or
            infinite rating, a negative or non-integer numeric id, a non-integer timestamp), a missing
            column (listing those found), a wrong delimiter (naming the likely one), an empty or
            header-only file.
        FileNotFoundError: a file does not exist.
    """
    file = Path(path).expanduser()
    sep = "\t" if sep == "\\t" else sep
    wanted = {user: "str", item: "str"}
    for column, kind in ((rating, "float"), (timestamp, "int")):
        if column is not None:
            wanted[column] = kind
    if len(wanted) < 2 + (rating is not None) + (timestamp is not None):
        raise ValueError(
            f"{file}: user, item, rating and timestamp must name distinct columns; got {user=}, {item=}, "
            f"{rating=}, {timestamp=}"
        )
    if not header and not all(c.isdigit() for c in wanted):
        raise ValueError(
            f"{file}: with header=false columns are named by 0-based position ('0', '1', ...); got {list(wanted)}"
        )
    df, locate = _read(file, wanted, sep, header)
    users, items = _ids(df[user].to_numpy(), user, locate), _ids(df[item].to_numpy(), item, locate)
    if timestamp is not None:
        times = df[timestamp].to_numpy(np.int64)
    else:  # order within each user's lines, as S3-Rec files do
        times = pd.Series(users).groupby(users, sort=False).cumcount().to_numpy(np.int64)
    ratings = np.ones(len(df), dtype=np.float32)
    if rating is not None:
        with np.errstate(over="ignore"):
            ratings = df[rating].to_numpy(np.float32)
        if not np.isfinite(ratings).all():  # finite as text, yet beyond float32
            k = int(np.flatnonzero(~np.isfinite(ratings))[0])
            user_k, item_k = users[k].item(), items[k].item()
            raise ValueError(
                f"{file}: {rating} {float(df[rating][k]):g} of data row {k + 1} (user {user_k!r}, item {item_k!r}) "
                "is too large for a float32 rating"
            )
    read = {"sep": sep, "header": header}
    return Interactions(
        user=users,
        item=items,
        rating=ratings,
        timestamp=times,
        items=_side_table(Path(items_path).expanduser(), item, **read, like=items, kind="item") if items_path else None,
        users=_side_table(Path(users_path).expanduser(), user, **read, like=users, kind="user") if users_path else None,
        name=label or file.stem,
    )
