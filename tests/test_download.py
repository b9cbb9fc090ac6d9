"""Finding and fetching dataset files: lookup order, checksums, atomic writes, zips, offline mode.

Every "remote" file is a ``file://`` URL in ``tmp_path``; no test touches the network.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from recframe.data.download import (
    Archive,
    DatasetFiles,
    RemoteFile,
    dataset_folder,
    download,
    extract_zip,
    file_digests,
    offline,
)

A, B = b"user item\n1 2\n", b'{"2": [7]}\n'


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def serve(tmp_path: Path, name: str, data: bytes) -> str:
    """Put ``data`` in a 'remote' folder and return its file:// URL."""
    path = tmp_path / "remote" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path.as_uri()


def direct_spec(tmp_path: Path, a_sha: str | None = None) -> DatasetFiles:
    return DatasetFiles(
        "toy",
        (
            RemoteFile("a.txt", url=serve(tmp_path, "a.txt", A), sha256=a_sha or sha256(A)),
            RemoteFile("b.json", url=serve(tmp_path, "b.json", B), md5=md5(B), optional=True),
        ),
    )


@pytest.fixture
def online(data_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The isolated data environment with (file://) downloads allowed; returns the cache folder."""
    monkeypatch.setenv("RECFRAME_OFFLINE", "0")
    return data_env


def test_file_digests_match_hashlib_and_git(tmp_path):
    path = tmp_path / "hello"
    path.write_bytes(b"hello\n")
    got = file_digests(path, ["sha256", "md5", "git-sha1"])
    assert got["sha256"] == sha256(b"hello\n") and got["md5"] == md5(b"hello\n")
    assert got["git-sha1"] == "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object` of "hello\n"
    with pytest.raises(ValueError, match=r"unknown checksum algorithm 'crc'; known: \['sha256', 'md5', 'git-sha1'\]"):
        file_digests(path, ["crc"])


def test_download_writes_verified_file_and_no_temporaries(tmp_path, online):
    dest = tmp_path / "out" / "a.txt"
    assert download(serve(tmp_path, "a.txt", A), dest, sha256=sha256(A), md5=md5(A)) == dest
    assert dest.read_bytes() == A
    assert [p.name for p in dest.parent.iterdir()] == ["a.txt"]


def test_download_checksum_mismatch_keeps_destination_untouched(tmp_path, online):
    url, dest = serve(tmp_path, "a.txt", A), tmp_path / "out" / "a.txt"
    with pytest.raises(ValueError, match=f"expected sha256 {'0' * 64}, got {sha256(A)}"):
        download(url, dest, sha256="0" * 64)
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []
    dest.write_bytes(b"old")
    with pytest.raises(ValueError, match=f"expected md5 {'f' * 32}, got {md5(A)}"):
        download(url, dest, md5="f" * 32)
    assert dest.read_bytes() == b"old" and [p.name for p in dest.parent.iterdir()] == ["a.txt"]


def test_download_unreachable_url_names_it(tmp_path, online):
    url = (tmp_path / "nowhere.zip").as_uri()
    with pytest.raises(ConnectionError, match=r"could not download .*nowhere.zip"):
        download(url, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_offline_forbids_download(tmp_path, data_env):
    with pytest.raises(RuntimeError, match=r"RECFRAME_OFFLINE=1 forbids downloading .*put the file at"):
        download(serve(tmp_path, "a.txt", A), tmp_path / "a.txt")
    assert not (tmp_path / "a.txt").exists()


@pytest.mark.parametrize(("value", "expected"), [("", False), ("0", False), ("no", False), ("1", True), ("TRUE", True)])
def test_offline_values(monkeypatch, value, expected):
    monkeypatch.setenv("RECFRAME_OFFLINE", value)
    assert offline() is expected


def test_offline_rejects_unknown_value(monkeypatch):
    monkeypatch.setenv("RECFRAME_OFFLINE", "maybe")
    with pytest.raises(ValueError, match=r"RECFRAME_OFFLINE='maybe' is not understood; use one of \['1'"):
        offline()


def test_dataset_folder_downloads_into_cache(tmp_path, online):
    folder = dataset_folder(direct_spec(tmp_path))
    assert folder == online / "toy"
    assert (folder / "a.txt").read_bytes() == A and (folder / "b.json").read_bytes() == B


def test_corrupt_cached_file_is_refetched(tmp_path, online):
    (online / "toy").mkdir(parents=True)
    (online / "toy" / "a.txt").write_bytes(b"truncated")
    (online / "toy" / "b.json").write_bytes(b"{}")
    folder = dataset_folder(direct_spec(tmp_path))
    assert (folder / "a.txt").read_bytes() == A and (folder / "b.json").read_bytes() == B


def test_corrupt_cached_file_is_never_used_offline(tmp_path, data_env):
    (data_env / "toy").mkdir(parents=True)
    (data_env / "toy" / "a.txt").write_bytes(b"truncated")
    with pytest.raises(FileNotFoundError, match=f"a.txt checksum mismatch .*got {sha256(b'truncated')}"):
        dataset_folder(direct_spec(tmp_path))


def test_missing_optional_file_is_fine_offline(tmp_path, data_env):
    (data_env / "toy").mkdir(parents=True)
    (data_env / "toy" / "a.txt").write_bytes(A)
    assert dataset_folder(direct_spec(tmp_path)) == data_env / "toy"


def test_missing_files_error_lists_files_folders_and_fixes(tmp_path, data_env, monkeypatch):
    data = tmp_path / "data"
    (data / "toy").mkdir(parents=True)
    (data / "toy" / "b.json").write_bytes(B)
    monkeypatch.setenv("RECFRAME_DATA", str(data))
    with pytest.raises(FileNotFoundError) as err:
        dataset_folder(direct_spec(tmp_path))
    message = str(err.value)
    assert f"{data / 'toy'} ($RECFRAME_DATA/toy): missing a.txt" in message
    assert f"{data_env / 'toy'} (cache, $RECFRAME_CACHE/toy): does not exist" in message
    for hint in ("RECFRAME_OFFLINE=1", "set RECFRAME_DATA", "dataset.root="):
        assert hint in message


def test_file_without_source_says_so(tmp_path, data_env, monkeypatch):
    monkeypatch.setenv("RECFRAME_OFFLINE", "0")
    spec = DatasetFiles("mine", (RemoteFile("MyData.txt"),))
    with pytest.raises(FileNotFoundError, match=r"(?s)RECFRAME_DATA is not set.*no download source is known for My"):
        dataset_folder(spec)


def test_lookup_order_root_then_data_then_cache(tmp_path, data_env, monkeypatch):
    spec = direct_spec(tmp_path)
    root, data, cache = tmp_path / "root", tmp_path / "data" / "toy", data_env / "toy"
    for folder in (root, data, cache):
        folder.mkdir(parents=True)
        (folder / "a.txt").write_bytes(A)
    monkeypatch.setenv("RECFRAME_DATA", str(tmp_path / "data"))
    assert dataset_folder(spec, root) == root
    assert dataset_folder(spec) == data
    (data / "a.txt").unlink()
    assert dataset_folder(spec) == cache


def test_explicit_root_is_searched_alone(tmp_path, data_env, monkeypatch):
    (tmp_path / "data" / "toy").mkdir(parents=True)
    (tmp_path / "data" / "toy" / "a.txt").write_bytes(A)
    monkeypatch.setenv("RECFRAME_DATA", str(tmp_path / "data"))
    (tmp_path / "root").mkdir()
    with pytest.raises(FileNotFoundError, match=r"dataset.root='.*root': missing a.txt; pass dataset.root="):
        dataset_folder(direct_spec(tmp_path), tmp_path / "root")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        dataset_folder(direct_spec(tmp_path), tmp_path / "typo")


def test_local_copies_are_verified_only_on_request(tmp_path, data_env):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "a.txt").write_bytes(b"my own copy")
    spec = direct_spec(tmp_path)
    assert dataset_folder(spec, tmp_path / "root") == tmp_path / "root"
    with pytest.raises(ValueError, match=r"a.txt: checksum mismatch \(expected sha256"):
        dataset_folder(spec, tmp_path / "root", verify=True)


def make_zip(path: Path, members: dict[str, bytes]) -> bytes:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path.read_bytes()


def zip_spec(tmp_path: Path, published_md5: str | None = None, a_sha: str | None = None) -> DatasetFiles:
    remote = tmp_path / "remote"
    remote.mkdir(exist_ok=True)
    data = make_zip(remote / "toy.zip", {"toy/a.txt": A, "toy/b.json": B, "toy/README": b"hi"})
    (remote / "toy.zip.md5").write_text(f"MD5 (toy.zip) = {published_md5 or md5(data)}\n")
    url = (remote / "toy.zip").as_uri()
    files = (RemoteFile("a.txt", sha256=a_sha or sha256(A)), RemoteFile("b.json"))
    return DatasetFiles("toy", files, Archive(url, subdir="toy", md5_url=f"{url}.md5"))


def test_zip_is_downloaded_checked_and_extracted(tmp_path, online):
    folder = dataset_folder(zip_spec(tmp_path))
    assert folder == online / "toy"
    assert sorted(p.name for p in folder.iterdir()) == ["README", "a.txt", "b.json"]
    assert (folder / "a.txt").read_bytes() == A
    assert sorted(p.name for p in online.iterdir()) == ["toy"]  # the zip and temporary folders are gone


def test_zip_with_wrong_published_md5_extracts_nothing(tmp_path, online):
    with pytest.raises(ValueError, match=f"expected md5 {'a' * 32}"):
        dataset_folder(zip_spec(tmp_path, published_md5="a" * 32))
    assert not online.exists() or list(online.iterdir()) == []


def test_zip_member_with_wrong_checksum_replaces_nothing(tmp_path, online):
    (online / "toy").mkdir(parents=True)
    (online / "toy" / "a.txt").write_bytes(b"stale")
    with pytest.raises(ValueError, match=r"a.txt extracted from .*toy.zip: checksum mismatch"):
        dataset_folder(zip_spec(tmp_path, a_sha="0" * 64))
    assert sorted(p.name for p in online.iterdir()) == ["toy"]
    assert (online / "toy" / "a.txt").read_bytes() == b"stale"


def test_extract_zip_names_a_missing_folder(tmp_path):
    make_zip(tmp_path / "x.zip", {"other/a.txt": A})
    with pytest.raises(ValueError, match=r"has no folder 'toy'; its top level holds \['other'\]"):
        extract_zip(tmp_path / "x.zip", tmp_path / "out", subdir="toy")
    assert not (tmp_path / "out").exists()
