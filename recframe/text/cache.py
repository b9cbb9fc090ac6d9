"""On-disk cache of frozen text-encoder vectors, keyed by (model, settings, template, text hash).

A second run with the same encoder, template and item texts reads ``<key>.npy`` instead of
loading the model at all. Any change — another model or weights, pooling, length, template, or one
item's text — is another key, so a stale vector is never read; a damaged file (wrong shape, NaN,
a sidecar that disagrees) is reported and re-encoded.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from recframe.data.download import cache_root


def text_cache_dir() -> Path:
    """``$RECFRAME_CACHE/text`` (default ``~/.cache/recframe/text``)."""
    return cache_root() / "text"


def texts_digest(texts: Sequence[str]) -> str:
    """sha256 of the texts in order (NUL-separated, so ``["ab"]`` and ``["a", "b"]`` differ)."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def cache_key(encoder: str, template: str, texts: Sequence[str]) -> dict[str, str]:
    """The cache's sidecar record; its ``key`` names the files."""
    record = {"encoder": encoder, "template": template, "texts_sha256": texts_digest(texts), "n": str(len(texts))}
    record["key"] = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:24]
    return record


def _atomic_save(path: Path, array: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(folder: Path, record: dict[str, str]) -> np.ndarray | None:
    """The cached array for ``record``, or None when absent; a damaged entry warns and returns None."""
    array_path, meta_path = folder / f"{record['key']}.npy", folder / f"{record['key']}.json"
    if not array_path.is_file() or not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        array = np.load(array_path, allow_pickle=False)
    except (OSError, ValueError) as err:
        warnings.warn(f"text cache entry {array_path} is unreadable ({err}); re-encoding", stacklevel=3)
        return None
    problem = None
    if {k: meta.get(k) for k in record} != record:
        problem = "its sidecar describes another encoder, template or text"
    elif array.ndim != 2 or array.shape[0] != int(record["n"]):
        problem = f"shape {array.shape} does not hold {record['n']} vectors"
    elif not np.isfinite(array).all():
        problem = "it holds NaN or infinite values"
    if problem:
        warnings.warn(f"text cache entry {array_path} is stale or damaged ({problem}); re-encoding", stacklevel=3)
        return None
    return array


def cached_encode(
    encode: Callable[[list[str]], np.ndarray],
    texts: Sequence[str],
    *,
    encoder: str,
    template: str,
    folder: Path | None = None,
) -> tuple[np.ndarray, bool]:
    """Vectors of ``texts`` from the cache, or from ``encode(texts)`` (then stored).

    Args:
        encode: called only on a cache miss, e.g. ``lambda t: TextEncoder(...).encode(t).numpy()``.
        encoder: the encoder's identity and settings (:meth:`TextEncoder.describe`).
        template: the template the texts were rendered with (part of the key).
        folder: cache folder; default :func:`text_cache_dir`.

    Returns:
        ``(vectors [N, H] float32, hit)``.
    """
    folder = folder or text_cache_dir()
    record = cache_key(encoder, template, texts)
    cached = _read(folder, record)
    if cached is not None:
        return cached.astype(np.float32, copy=False), True
    vectors = np.asarray(encode(list(texts)), dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(texts) or not np.isfinite(vectors).all():
        raise ValueError(f"text encoder {encoder} returned {vectors.shape} non-finite or misshapen vectors")
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_save(folder / f"{record['key']}.npy", vectors)
    meta = json.dumps({**record, "dim": vectors.shape[1]}, indent=2, sort_keys=True)
    (folder / f".{record['key']}.json.tmp").write_text(meta, encoding="utf-8")
    os.replace(folder / f".{record['key']}.json.tmp", folder / f"{record['key']}.json")
    return vectors, False
