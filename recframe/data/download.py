"""Find a dataset's files on disk, or download them into the cache, verified and written atomically.

A dataset lives in a folder named like ``ml-100k`` or ``s3rec``. :func:`dataset_folder` looks for it in order:

1. an explicit ``root`` (config key ``dataset.root``): a folder that directly holds the files. It is the only
   place searched when given, so a typo fails loudly instead of falling back to another copy;
2. ``$RECFRAME_DATA/<folder>`` (``RECFRAME_DATA`` holds one sub-folder per dataset, like ``shared/data``);
3. the cache ``$RECFRAME_CACHE/<folder>`` (default ``~/.cache/recframe/<folder>``);
4. a download into the cache when the dataset has a source and ``RECFRAME_OFFLINE`` is not set.

A folder is used only when it holds every required file, so files of two copies are never mixed. Cached
files are checked against every known checksum on each use and re-fetched on a mismatch; local copies
(1, 2) are checked only with ``verify=True``, because users may keep their own, differently encoded copies.
Downloads go to a temporary file beside the destination and are renamed into place only after their
checksum matched; archives are extracted into a temporary folder, checked, then renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

DATA_ENV = "RECFRAME_DATA"
CACHE_ENV = "RECFRAME_CACHE"
OFFLINE_ENV = "RECFRAME_OFFLINE"
ALGORITHMS = ("sha256", "md5", "git-sha1")
_TRUE, _FALSE = ("1", "true", "yes"), ("", "0", "false", "no")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset and what is known about it.

    Attributes:
        name: path relative to the dataset folder (and to ``Archive.subdir`` inside the dataset's archive).
        url: where to download this file by itself; None when it comes from the archive or has no source.
        sha256 / md5: known lowercase hex digests; either may be None.
        git_sha1: the git blob id (``git hash-object``), for files known only from a repository listing.
        optional: the dataset loads without it (e.g. S3-Rec item attributes).
    """

    name: str
    url: str | None = None
    sha256: str | None = None
    md5: str | None = None
    git_sha1: str | None = None
    optional: bool = False

    def checksums(self) -> dict[str, str]:
        """The known digests as ``{algorithm: hex}``."""
        known = {"sha256": self.sha256, "md5": self.md5, "git-sha1": self.git_sha1}
        return {alg: value.lower() for alg, value in known.items() if value}


@dataclass(frozen=True)
class Archive:
    """A zip file that holds a dataset's files under ``subdir``.

    Attributes:
        url: where to download the zip.
        subdir: the folder inside the zip that holds the files ("" for the top level).
        md5_url: a published md5 of the zip (GroupLens puts one at ``<zip url>.md5``), fetched and checked.
        sha256 / md5: digests of the zip known in advance.
    """

    url: str
    subdir: str = ""
    md5_url: str | None = None
    sha256: str | None = None
    md5: str | None = None


@dataclass(frozen=True)
class DatasetFiles:
    """Everything needed to find or fetch one dataset: its folder name, files and optional archive."""

    folder: str
    files: tuple[RemoteFile, ...]
    archive: Archive | None = None


def data_root() -> Path | None:
    """``$RECFRAME_DATA``: a folder with one sub-folder per dataset, or None when unset."""
    value = os.environ.get(DATA_ENV, "")
    return Path(value).expanduser() if value else None


def cache_root() -> Path:
    """``$RECFRAME_CACHE``, default ``~/.cache/recframe``: where downloads go, one sub-folder per dataset."""
    value = os.environ.get(CACHE_ENV, "")
    return Path(value).expanduser() if value else Path.home() / ".cache" / "recframe"


def offline() -> bool:
    """Whether ``RECFRAME_OFFLINE`` forbids downloads (``1``/``true``/``yes``; ``0``/``false``/``no``/unset allow)."""
    value = os.environ.get(OFFLINE_ENV, "").strip().lower()
    if value not in _TRUE + _FALSE:
        raise ValueError(f"{OFFLINE_ENV}={value!r} is not understood; use one of {list(_TRUE + _FALSE[1:])}")
    return value in _TRUE


def _hasher(algorithm: str, size: int):
    if algorithm == "sha256":
        return hashlib.sha256()
    if algorithm == "md5":
        return hashlib.md5(usedforsecurity=False)
    if algorithm == "git-sha1":  # git hashes "blob <size>\0" + content
        return hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    raise ValueError(f"unknown checksum algorithm {algorithm!r}; known: {list(ALGORITHMS)}")


def file_digests(path: str | os.PathLike, algorithms: Sequence[str]) -> dict[str, str]:
    """Hex digests of a file for each of ``algorithms`` (``sha256``, ``md5``, ``git-sha1``), in one read."""
    path = Path(path)
    hashers = {alg: _hasher(alg, path.stat().st_size) for alg in algorithms}
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return {alg: h.hexdigest() for alg, h in hashers.items()}


def checksum_problem(path: Path, expected: dict[str, str]) -> str | None:
    """None when ``path`` matches every expected digest, else what differs (expected vs actual)."""
    actual = file_digests(path, list(expected))
    wrong = [f"expected {alg} {want}, got {actual[alg]}" for alg, want in expected.items() if actual[alg] != want]
    return "; ".join(wrong) or None


@contextmanager
def _open_url(url: str, timeout: float) -> Iterator:
    """``urlopen`` whose failures become a ``ConnectionError`` naming the URL."""
    request = urllib.request.Request(url, headers={"User-Agent": "recframe"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.URLError as err:
        raise ConnectionError(f"could not download {url}: {err.reason}") from err
    with response:
        yield response


@contextmanager
def _progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yield an ``advance(n_bytes)`` callback; a rich progress bar on a terminal, silent otherwise."""
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def download(
    url: str, dest: str | os.PathLike, *, sha256: str | None = None, md5: str | None = None, timeout: float = 60.0
) -> Path:
    """Download ``url`` (http, https or file) to ``dest`` atomically, checking any given digest.

    The bytes go to a temporary file in ``dest``'s folder, which replaces ``dest`` only when every given
    digest matched; on any failure the temporary file is deleted and ``dest`` is left as it was.

    Raises:
        RuntimeError: ``RECFRAME_OFFLINE`` forbids downloading.
        ValueError: a checksum mismatch (the message has the expected and actual digests).
        ConnectionError: the URL could not be read.
    """
    dest = Path(dest)
    if offline():
        raise RuntimeError(f"{OFFLINE_ENV}=1 forbids downloading {url}; put the file at {dest} yourself")
    expected = {alg: value.lower() for alg, value in (("sha256", sha256), ("md5", md5)) if value}
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            hashers = {alg: _hasher(alg, 0) for alg in expected}
            with _open_url(url, timeout) as response:
                length = response.headers.get("Content-Length")
                with _progress(dest.name, int(length) if length else None) as advance:
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        for h in hashers.values():
                            h.update(chunk)
                        advance(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        for alg, want in expected.items():
            got = hashers[alg].hexdigest()
            if got != want:
                raise ValueError(f"checksum mismatch for {url}: expected {alg} {want}, got {got}; download discarded")
        tmp.chmod(0o644)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def published_md5(url: str, timeout: float = 60.0) -> str:
    """Read a published md5 file (``MD5 (x.zip) = <hex>`` or ``<hex>  x.zip``) and return the digest."""
    if offline():
        raise RuntimeError(f"{OFFLINE_ENV}=1 forbids downloading {url}")
    with _open_url(url, timeout) as response:
        text = response.read(4096).decode("ascii", errors="replace")
    found = sorted({h.lower() for h in re.findall(r"\b[0-9a-fA-F]{32}\b", text)})
    if len(found) != 1:
        raise ValueError(f"{url} should hold exactly one md5 digest, found {found}: {text[:200]!r}")
    return found[0]


def _replace_dir(src: Path, dest: Path) -> None:
    """Move folder ``src`` to ``dest``, replacing an existing ``dest`` (moved aside first, then deleted)."""
    old = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".old"))
        os.replace(dest, old / dest.name)
    os.replace(src, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def extract_zip(
    zip_path: str | os.PathLike, dest: str | os.PathLike, *, subdir: str = "", files: Sequence[RemoteFile] = ()
) -> Path:
    """Extract ``subdir`` of a zip into folder ``dest`` atomically, checking the known digests of ``files``.

    The zip is extracted into a temporary folder beside ``dest``; only when every listed file is present
    and matches its digests does that folder replace ``dest``.
    """
    zip_path, dest = Path(zip_path), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".extract"))
    try:
        with zipfile.ZipFile(zip_path) as zf:
            broken = zf.testzip()
            if broken is not None:
                raise ValueError(f"{zip_path}: member {broken!r} fails its CRC check; the zip is corrupt")
            zf.extractall(tmp)  # extractall drops absolute paths and '..' components
        src = tmp / subdir if subdir else tmp
        if not src.is_dir():
            top = sorted(p.name for p in tmp.iterdir())
            raise ValueError(f"{zip_path} has no folder {subdir!r}; its top level holds {top}")
        for f in files:
            path = src / f.name
            if not path.is_file():
                if f.optional:
                    continue
                raise ValueError(f"{zip_path} lacks {subdir + '/' if subdir else ''}{f.name}")
            problem = checksum_problem(path, f.checksums()) if f.checksums() else None
            if problem:
                raise ValueError(f"{f.name} extracted from {zip_path}: checksum mismatch: {problem}")
        _replace_dir(src, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _missing(folder: Path, files: Sequence[RemoteFile]) -> list[str]:
    return [f.name for f in files if not f.optional and not (folder / f.name).is_file()]


def _state(folder: Path, problems: Sequence[str]) -> str:
    return f"missing {', '.join(problems)}" if folder.is_dir() else "does not exist"


def _verify_local(folder: Path, files: Sequence[RemoteFile]) -> None:
    for f in files:
        path = folder / f.name
        if f.checksums() and path.is_file():
            problem = checksum_problem(path, f.checksums())
            if problem:
                raise ValueError(f"{path}: checksum mismatch ({problem}); this is not the expected copy")


def _stale_in_cache(folder: Path, spec: DatasetFiles) -> dict[str, str]:
    """Cache files that must be (re-)fetched, with the reason: missing, or a checksum mismatch."""
    stale = {}
    for f in spec.files:
        path = folder / f.name
        if not path.is_file():
            # A missing optional file is fetched only by itself: an archive was already extracted whole.
            if not f.optional or f.url:
                stale[f.name] = "missing"
        elif f.checksums():
            problem = checksum_problem(path, f.checksums())
            if problem:
                stale[f.name] = f"checksum mismatch ({problem})"
    return stale


def _fetch(spec: DatasetFiles, folder: Path, stale: dict[str, str]) -> None:
    """Download the stale files of ``spec`` into the cache folder ``folder``."""
    if spec.archive is not None:
        archive = spec.archive
        md5 = archive.md5
        if archive.md5_url:
            md5 = published_md5(archive.md5_url)
            if archive.md5 and archive.md5.lower() != md5:
                raise ValueError(f"{archive.md5_url} says md5 {md5}, expected {archive.md5}")
        zip_path = folder.parent / (Path(urlparse(archive.url).path).name or f"{spec.folder}.zip")
        download(archive.url, zip_path, sha256=archive.sha256, md5=md5)
        try:
            extract_zip(zip_path, folder, subdir=archive.subdir, files=spec.files)
        finally:
            zip_path.unlink(missing_ok=True)
        return
    for f in spec.files:
        if f.name in stale and f.url:
            download(f.url, folder / f.name, sha256=f.sha256, md5=f.md5)


def dataset_folder(spec: DatasetFiles, root: str | os.PathLike | None = None, *, verify: bool = False) -> Path:
    """The folder holding ``spec``'s files: ``root``, ``$RECFRAME_DATA/<folder>`` or the (filled) cache.

    Args:
        spec: the dataset's folder name and files.
        root: a folder that directly contains the files; when given, nothing else is searched.
        verify: also check local copies (``root``, ``RECFRAME_DATA``) against the known checksums.

    Raises:
        FileNotFoundError: no complete copy and no download; the message lists the missing files, the
            folders searched, and how to provide the files.
        ValueError: a checksum mismatch in a local copy (``verify=True``) or in a download.
    """
    names = ", ".join(f.name for f in spec.files if not f.optional)
    if root is not None:
        folder = Path(root).expanduser()
        missing = _missing(folder, spec.files)
        if missing:
            raise FileNotFoundError(
                f"{spec.folder}: dataset.root={str(root)!r}: {_state(folder, missing)}; pass dataset.root=<a folder "
                f"that directly contains {names}>, or leave it unset to search ${DATA_ENV}/{spec.folder} and the cache"
            )
        if verify:
            _verify_local(folder, spec.files)
        return folder

    searched = []
    data = data_root()
    if data is None:
        searched.append(f"${DATA_ENV} is not set")
    else:
        folder = data / spec.folder
        missing = _missing(folder, spec.files)
        if not missing:
            if verify:
                _verify_local(folder, spec.files)
            return folder
        searched.append(f"{folder} (${DATA_ENV}/{spec.folder}): {_state(folder, missing)}")

    cache = cache_root() / spec.folder
    stale = _stale_in_cache(cache, spec)
    required = {f.name for f in spec.files if not f.optional}
    blocking = {name for name, why in stale.items() if name in required or why != "missing"}
    if not stale or (not blocking and offline()):  # offline, a missing optional file is simply absent
        return cache
    sourceless = [f.name for f in spec.files if f.name in stale and not f.url and spec.archive is None]
    if offline():
        reason = f"not downloaded because {OFFLINE_ENV}=1"
    elif sourceless:
        reason = f"no download source is known for {', '.join(sourceless)}"
    else:
        try:
            _fetch(spec, cache, stale)
        except ConnectionError as err:
            raise ConnectionError(f"{err}; put {names} into {cache} or set {DATA_ENV}") from err
        return cache
    problems = "; ".join(f"{name} {why}" for name, why in stale.items()) if cache.is_dir() else "does not exist"
    searched.append(f"{cache} (cache, ${CACHE_ENV}/{spec.folder}): {problems}")
    lines = "\n  ".join(searched)
    raise FileNotFoundError(
        f"{spec.folder}: no complete copy of {names} found; searched:\n  {lines}\n{reason}. Put the files into "
        f"one of these folders, set {DATA_ENV} to a folder holding {spec.folder}/, or pass dataset.root=<a folder "
        f"that directly contains them>."
    )
