"""Sequential datasets in the S3-Rec format: one chronological item sequence per user, plus item attributes.

Format: ``<Name>.txt`` holds one line per user, ``user_id item_id item_id ...`` (whitespace separated, oldest
first); the optional ``<Name>_item2attributes.json`` is one JSON object ``{"item_id": [attribute_id, ...]}``.
Paper: K. Zhou, H. Wang, W. X. Zhao, et al., "S3-Rec: Self-Supervised Learning for Sequential
Recommendation with Mutual Information Maximization", CIKM 2020. Beauty, Sports_and_Outdoors and LastFM
download from RUCAIBox/CIKM2020-S3Rec at a pinned commit and are checked against their sha256.
NOTE: the files carry order only, so ``timestamp`` is the position within the user's line (0, 1, 2, ...).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from recframe.data.download import DatasetFiles, RemoteFile, dataset_folder
from recframe.data.interactions import Interactions

S3REC_URL = "https://raw.githubusercontent.com/RUCAIBox/CIKM2020-S3Rec/2a81540ae18615d88ef88227b0c066e5b74781e5/data"
DOWNLOADS = {  # name -> (sha256 of <name>.txt, sha256 of <name>_item2attributes.json)
    "Beauty": (
        "226cce9c3105299ca0db9615d7d3fb32b3175e90da43100ae352599f0f0107b8",
        "129e40f67486f6877eff0f5318cfa8530ee8ac23d8b0d1de04e1bb7a2ba0b2d4",
    ),
    "Sports_and_Outdoors": (
        "2a095e0648872beb9982408958290f5d655db5be2911c3756b5446de9f0b8de2",
        "7fb10733ac4f1811384a52144cdefa7fcc7536fa80a7232c5da9bd789155c34b",
    ),
    "LastFM": (
        "9ded486adb5b0fe9dc761950afa0a9a05e93ff018992e0c52bf11afec529f802",
        "a4ccd678dc9ff6d43fe5073f491db5c9b02eb98dfa4f8c0382913a784be217ef",
    ),
}
ALIASES = {"Sports": "Sports_and_Outdoors"}


def s3rec_files(name: str) -> DatasetFiles:
    """The sequence and attribute files of ``name``, with URLs and digests for the published datasets."""
    txt, attrs = f"{name}.txt", f"{name}_item2attributes.json"
    if name not in DOWNLOADS:
        return DatasetFiles("s3rec", (RemoteFile(txt), RemoteFile(attrs, optional=True)))
    txt_sha, attrs_sha = DOWNLOADS[name]
    return DatasetFiles(
        "s3rec",
        (
            RemoteFile(txt, url=f"{S3REC_URL}/{txt}", sha256=txt_sha),
            RemoteFile(attrs, url=f"{S3REC_URL}/{attrs}", sha256=attrs_sha, optional=True),
        ),
    )


def _bad_token_line(path: Path, lines: list[str]) -> str:
    for number, line in enumerate(lines, start=1):
        for token in line.split():
            if not token.isascii() or not token.isdigit():
                return f"{path}:{number}: {token!r} is not a non-negative integer id"
    return f"{path}: could not parse the ids"


def read_sequences(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(user, item, position)`` int64 arrays ``[N]`` from a sequence file, in file order.

    Raises:
        ValueError: ``file:line: problem`` for a non-integer token, a user without items, or a user on two lines.
    """
    try:
        lines = path.read_bytes().decode("utf-8").split("\n")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not valid utf-8 text ({err.reason})") from None
    rows = [line.split() for line in lines]
    numbers = np.array([n for n, row in enumerate(rows, start=1) if row], dtype=np.int64)  # [U] 1-based lines
    rows = [row for row in rows if row]
    if not rows:
        raise ValueError(f"{path}: no sequences")
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))  # [U] user id + items
    if (lengths < 2).any():
        k = int(np.flatnonzero(lengths < 2)[0])
        raise ValueError(f"{path}:{numbers[k]}: user {rows[k][0]} has no items")
    tokens = [token for row in rows for token in row]
    if not all(token.isascii() and token.isdigit() for token in tokens):
        raise ValueError(_bad_token_line(path, lines))
    try:
        ids = np.array(tokens, dtype=np.int64)  # [U + N]
    except OverflowError:
        raise ValueError(f"{path}: an id does not fit in a 64-bit integer") from None
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    users = ids[starts]  # [U]
    _check_unique_users(path, users, numbers)
    is_item = np.ones(len(ids), dtype=bool)
    is_item[starts] = False
    n_items = lengths - 1
    position = np.arange(int(n_items.sum())) - np.repeat(np.cumsum(n_items) - n_items, n_items)
    return np.repeat(users, n_items), ids[is_item], position.astype(np.int64)


def _check_unique_users(path: Path, users: np.ndarray, numbers: np.ndarray) -> None:
    order = np.argsort(users, kind="stable")
    repeat = np.flatnonzero(users[order][1:] == users[order][:-1])
    if len(repeat):
        later = order[repeat + 1]  # rows that repeat an earlier row's user
        k = int(later.min())
        first = int(order[np.searchsorted(users[order], users[k])])
        raise ValueError(
            f"{path}:{numbers[k]}: user {users[k]} already has a sequence on line {numbers[first]}; "
            "each user must appear on one line"
        )


def read_attributes(path: Path) -> pd.DataFrame:
    """Item attributes as a DataFrame indexed by item id with one column ``attributes`` (a list of ints)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected one JSON object {{item_id: [attribute_id, ...]}}, got {type(raw).__name__}")
    items, attributes = [], []
    for key, values in raw.items():
        if not (key.isascii() and key.isdigit()):
            raise ValueError(f"{path}: item key {key!r} is not a non-negative integer")
        if not isinstance(values, list) or not all(type(v) is int for v in values):
            raise ValueError(f"{path}: attributes of item {key} must be a list of integers, got {values!r}")
        items.append(int(key))
        attributes.append(values)
    table = pd.DataFrame({"attributes": attributes}, index=pd.Index(np.array(items, dtype=np.int64), name="item"))
    return table.sort_index()


def s3rec(file: str = "Beauty", root: str | None = None, *, verify: bool = False) -> Interactions:
    """Load an S3-Rec-format dataset: implicit feedback (rating 1.0), order-only timestamps.

    Args:
        file: the dataset name, i.e. the file stem: ``Beauty``, ``Sports_and_Outdoors`` (alias ``Sports``),
            ``LastFM`` (these three download when absent) or any ``<Name>`` with a local ``<Name>.txt``.
        root: a folder that directly holds ``<Name>.txt``; otherwise ``$RECFRAME_DATA/s3rec``, the cache, then
            a download are tried (see :mod:`recframe.data.download`).
        verify: check local copies of the published datasets against their sha256 too.

    Returns:
        Raw ids as in the file; ``items`` indexed by item id with ``attributes`` (list of attribute ids) when
        the attribute file exists, else None.
    """
    name = ALIASES.get(file.removesuffix(".txt"), file.removesuffix(".txt"))
    if not name or "/" in name or "\\" in name:
        raise ValueError(f"s3rec file must be a dataset name like 'Beauty', not a path: {file!r}; use root=<folder>")
    spec = s3rec_files(name)
    try:
        folder = dataset_folder(spec, root, verify=verify)
    except FileNotFoundError as err:
        known = f"Downloadable S3-Rec datasets: {sorted(DOWNLOADS)} (aliases: {ALIASES})."
        raise FileNotFoundError(f"{err}\n{known}") from None
    user, item, position = read_sequences(folder / spec.files[0].name)
    attributes = folder / spec.files[1].name
    return Interactions(
        user=user,
        item=item,
        rating=np.ones(len(user), dtype=np.float32),
        timestamp=position,
        items=read_attributes(attributes) if attributes.is_file() else None,
        name=f"s3rec-{name}",
    )
