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
        encoder: the encoder's identity and settings (:meth:`~recframe.text.encoder.TextEncoder.describe`).
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


def text_hashes(texts: Sequence[str]) -> np.ndarray:
    """sha256 of each text (32 raw bytes per row), the keys of :func:`cached_encode_each`."""
    return np.array([hashlib.sha256(t.encode("utf-8")).digest() for t in texts], dtype="S32")


def cached_encode_each(
    encode: Callable[[list[str]], np.ndarray], texts: Sequence[str], *, encoder: str, folder: Path | None = None
) -> tuple[np.ndarray, int]:
    """Vectors of ``texts`` from a per-text store of ``encoder``; only texts never seen are encoded.

    For text sets that grow or overlap between runs (a dialogue's utterances under another
    variant or window): ``<folder>/each-<encoder hash>.npz`` holds sorted text hashes and their
    vectors, and is rewritten atomically with the new ones merged in. A damaged store warns and
    is rebuilt. Returns ``(vectors [N, H] float32, how many texts were encoded now)``.
    """
    folder = folder or text_cache_dir()
    path = folder / f"each-{hashlib.sha256(encoder.encode()).hexdigest()[:24]}.npz"
    keys, vectors = np.zeros(0, dtype="S32"), None
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as store:
                keys, vectors, stored = store["keys"], store["vectors"], str(store["encoder"])
            if stored != encoder or len(keys) != len(vectors) or not np.isfinite(vectors).all():
                raise ValueError("it describes another encoder or holds damaged vectors")
        except (OSError, ValueError, KeyError) as err:
            warnings.warn(f"text store {path} is unusable ({err}); rebuilding it", stacklevel=2)
            keys, vectors = np.zeros(0, dtype="S32"), None
    wanted = text_hashes(texts)
    pos = np.searchsorted(keys, wanted)
    found = (pos < len(keys)) & (keys[np.minimum(pos, max(len(keys) - 1, 0))] == wanted) if len(keys) else pos < 0
    missing = np.flatnonzero(~found)
    if len(missing):
        unique, first = np.unique(wanted[missing], return_index=True)
        new = np.asarray(encode([texts[missing[i]] for i in first]), dtype=np.float32)
        if new.ndim != 2 or len(new) != len(unique) or not np.isfinite(new).all():
            raise ValueError(f"text encoder {encoder} returned {new.shape} non-finite or misshapen vectors")
        if vectors is not None and vectors.shape[1] != new.shape[1]:
            keys, vectors = np.zeros(0, dtype="S32"), None  # another width under the same name: start over
        merged_keys = np.concatenate([keys, unique])
        merged = new if vectors is None else np.concatenate([vectors, new])
        order = np.argsort(merged_keys, kind="stable")
        keys, vectors = merged_keys[order], merged[order]
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, keys=keys, vectors=vectors, encoder=np.array(encoder))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        pos = np.searchsorted(keys, wanted)
    return vectors[pos].astype(np.float32, copy=False), len(missing)
