"""Precomputed item vectors of any modality (image, audio, another model's text) keyed by raw item id.

This is the multimodal path: vectors computed elsewhere are aligned to the catalogue's dense ids.
Accepted files:

- ``.npz`` with arrays ``ids`` ``[N]`` and ``vectors`` ``[N, H]``;
- ``.npy`` ``[N, H]`` with the raw ids in a second ``.npy``/``.txt`` file (``ids=``);
- ``.parquet`` with a column ``item`` and either one list column ``vector`` or numeric columns.

Ids are matched by their text (``17`` and ``"17"`` are the same item). Every problem is an error
naming it: duplicate ids, NaN rows, ragged or wrong-sized vectors, ids the catalogue lacks
(``unknown="ignore"`` counts and skips them), catalogue items the file lacks (``missing="zero"``
gives them zero vectors, counted in the report).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

POLICIES = {"unknown": ("error", "ignore"), "missing": ("error", "zero")}


def _read_file(path: Path, ids_path: Path | None) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"item vector file {path} not found")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("ids", "vectors") if k not in z.files]
            if missing:
                raise ValueError(f"{path}: an .npz of item vectors needs arrays 'ids' and 'vectors'; lacks {missing}")
            return z["ids"], z["vectors"]
    if suffix == ".npy":
        if ids_path is None:
            raise ValueError(f"{path}: an .npy of item vectors needs its raw item ids: set ids=<file.npy or .txt>")
        ids = np.loadtxt(ids_path, dtype=str, ndmin=1) if ids_path.suffix == ".txt" else np.load(ids_path)
        return ids, np.load(path, allow_pickle=False)
    if suffix == ".parquet":
        import pandas as pd

        table = pd.read_parquet(path)
        if "item" not in table.columns:
            raise ValueError(
                f"{path}: a Parquet file of item vectors needs an 'item' column; has {list(table.columns)}"
            )
        ids = table["item"].to_numpy()
        if "vector" in table.columns:
            rows = table["vector"].tolist()
            sizes = {len(r) for r in rows}
            if len(sizes) > 1:
                lengths = np.array([len(r) for r in rows])
                k = int(np.flatnonzero(lengths != lengths[0])[0])
                raise ValueError(
                    f"{path}: item {ids[k]!r} has a vector of size {lengths[k]}, item {ids[0]!r} {lengths[0]}"
                )
            return ids, np.array(rows, dtype=np.float64).reshape(len(rows), -1)
        values = table.drop(columns="item")
        if not all(np.issubdtype(t, np.number) for t in values.dtypes):
            raise ValueError(f"{path}: every column besides 'item' must be numeric (or give one list column 'vector')")
        return ids, values.to_numpy(np.float64)
    raise ValueError(f"item vector file {path}: unknown format {suffix!r}; known: ['.npy', '.npz', '.parquet']")


def load_vectors(
    path: str,
    raw_ids: np.ndarray,
    *,
    ids: str | None = None,
    dim: int | None = None,
    unknown: str = "error",
    missing: str = "error",
) -> tuple[np.ndarray, str]:
    """Vectors aligned to dense item ids: ``[len(raw_ids) + 1, H]`` float32, row 0 (PAD) zero.

    Args:
        path: the vector file (see the module docstring).
        raw_ids: raw id of each dense id ``1..n`` (``raw_ids[k]`` is dense id ``k + 1``).
        ids: raw ids of an ``.npy`` file's rows.
        dim: expected vector size; a file with another size is refused.
        unknown / missing: what ids outside the catalogue / catalogue items without a vector do.

    Returns:
        The aligned vectors and a one-line report (matched, ignored and zero-filled counts).
    """
    for name, value in (("unknown", unknown), ("missing", missing)):
        if value not in POLICIES[name]:
            raise ValueError(f"unknown vectors.{name} policy {value!r}; known: {list(POLICIES[name])}")
    file = Path(path)
    file_ids, vectors = _read_file(file, Path(ids) if ids else None)
    file_ids = np.asarray(file_ids).reshape(-1)
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or not np.issubdtype(vectors.dtype, np.number):
        raise ValueError(f"{file}: vectors must be a numeric [N, H] array, got {vectors.dtype} {vectors.shape}")
    if len(file_ids) != len(vectors):
        raise ValueError(f"{file}: {len(file_ids)} ids for {len(vectors)} vectors")
    if dim is not None and vectors.shape[1] != dim:
        raise ValueError(f"{file}: vectors have dimension {vectors.shape[1]}, expected {dim}")
    keys = np.array([str(x) for x in file_ids], dtype=object)
    uniq, counts = np.unique(keys, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{file}: item id {uniq[counts > 1][0]!r} appears {counts[counts > 1][0]} times")
    bad = ~np.isfinite(vectors).all(1)
    if bad.any():
        raise ValueError(f"{file}: {int(bad.sum())} vectors hold NaN or inf (first: item {keys[bad][0]!r})")
    position = {k: j for j, k in enumerate(keys)}
    catalogue = [str(x) for x in raw_ids]
    rows = np.array([position.get(k, -1) for k in catalogue], dtype=np.int64)
    known = set(catalogue)
    n_unknown = sum(k not in known for k in keys)
    if n_unknown and unknown == "error":
        first = next(k for k in keys if k not in known)
        raise ValueError(
            f"{file}: {n_unknown} ids are not in the catalogue (first: {first!r}); set unknown: ignore to skip them"
        )
    n_missing = int((rows < 0).sum())
    if n_missing and missing == "error":
        first = catalogue[int(np.flatnonzero(rows < 0)[0])]
        raise ValueError(
            f"{file}: {n_missing} catalogue items have no vector (first: {first!r}); "
            "set missing: zero to zero-fill them"
        )
    out = np.zeros((len(raw_ids) + 1, vectors.shape[1]), dtype=np.float32)
    out[1:][rows >= 0] = vectors[rows[rows >= 0]]
    report = (
        f"vectors {file.name}: {len(raw_ids) - n_missing:,} items matched, {n_missing:,} zero-filled, "
        f"{n_unknown:,} file ids outside the catalogue ignored, dimension {vectors.shape[1]}"
    )
    return out, report
