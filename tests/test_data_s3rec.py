"""S3-Rec-format loader: hand-written files, bad-input errors, pinned downloads and real-file fingerprints."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from recframe.data import DATASETS
from recframe.data.s3rec import S3REC_URL, s3rec, s3rec_files

SEQS = "1 5 3 9\n2 3 5\n"


def write(folder: Path, name: str = "MyData", text: str = SEQS, attributes: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.txt").write_text(text)
    if attributes is not None:
        (folder / f"{name}_item2attributes.json").write_text(attributes)
    return folder


def test_registered():
    assert DATASETS.get("s3rec") is s3rec


def test_format_with_attributes(tmp_path):
    log = s3rec("MyData", write(tmp_path, attributes='{"3": [1, 2], "5": [], "9": [7]}'))
    assert log.name == "s3rec-MyData"
    assert log.user.tolist() == [1, 1, 1, 2, 2] and log.item.tolist() == [5, 3, 9, 3, 5]
    assert log.timestamp.dtype == np.int64 and log.timestamp.tolist() == [0, 1, 2, 0, 1]
    assert log.rating.dtype == np.float32 and (log.rating == 1).all()
    assert log.items.index.tolist() == [3, 5, 9] and log.items["attributes"].tolist() == [[1, 2], [], [7]]
    assert log.users is None


def test_format_without_attributes_crlf_and_extra_whitespace(tmp_path):
    log = s3rec("MyData.txt", write(tmp_path, text="1  5\t3 9\r\n\r\n2 3 5"))
    assert log.user.tolist() == [1, 1, 1, 2, 2] and log.item.tolist() == [5, 3, 9, 3, 5] and log.items is None


def test_sports_alias(tmp_path):
    log = s3rec("Sports", write(tmp_path, "Sports_and_Outdoors"))
    assert log.name == "s3rec-Sports_and_Outdoors" and len(log) == 5
    assert s3rec("Sports.txt", tmp_path).name == "s3rec-Sports_and_Outdoors"  # the alias with its suffix too


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("1 5 3\n2 3 x5\n", 2, "'x5' is not a non-negative integer id"),
        ("1 5 3\n2 3 -5\n", 2, "'-5' is not a non-negative integer id"),
        ("1 5 3\n\n2 3.0 5\n", 3, "'3.0' is not a non-negative integer id"),
        ("1 5 3\n2\n3 4 5\n", 2, "user 2 has no items"),
        ("1 5 3\n2 3 5\n7 1 2\n2 4 6\n", 4, "user 2 already has a sequence on line 2"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, text, line, problem):
    folder = write(tmp_path, text=text)
    with pytest.raises(ValueError) as err:
        s3rec("MyData", folder)
    assert str(err.value).startswith(f"{folder / 'MyData.txt'}:{line}: ") and problem in str(err.value)


@pytest.mark.parametrize(
    ("attributes", "problem"),
    [
        ("[1, 2]", "expected one JSON object"),
        ('{"a": [1]}', "item key 'a' is not a non-negative integer"),
        ('{"3": [1, "2"]}', "attributes of item 3 must be a list of integers"),
        ('{"3": [1, 2]', "not valid JSON"),
    ],
)
def test_bad_attributes_name_the_file(tmp_path, attributes, problem):
    folder = write(tmp_path, attributes=attributes)
    with pytest.raises(ValueError, match=r"MyData_item2attributes\.json: ") as err:
        s3rec("MyData", folder)
    assert problem in str(err.value)


def test_empty_file(tmp_path):
    with pytest.raises(ValueError, match=r"MyData.txt: no sequences"):
        s3rec("MyData", write(tmp_path, text="\n"))


def test_missing_file_lists_folders_and_downloadable_names(tmp_path, data_env):
    with pytest.raises(FileNotFoundError) as err:
        s3rec("Toys_and_Games")
    message = str(err.value)
    assert "Toys_and_Games.txt" in message and str(data_env / "s3rec") in message
    assert "Downloadable S3-Rec datasets: ['Beauty', 'LastFM', 'Sports_and_Outdoors']" in message
    with pytest.raises(FileNotFoundError, match=r"dataset.root='.*': missing MyData.txt"):
        s3rec("MyData", tmp_path)


def test_rejects_paths_as_names(tmp_path):
    with pytest.raises(ValueError, match=r"not a path: 'data/Beauty'; use root=<folder>"):
        s3rec("data/Beauty", tmp_path)


def test_published_files_are_pinned():
    files = s3rec_files("Beauty").files
    assert files[0].url == f"{S3REC_URL}/Beauty.txt" and files[0].sha256.startswith("226cce9c")
    assert files[1].optional and files[1].url.endswith("/Beauty_item2attributes.json")
    assert "2a81540ae18615d88ef88227b0c066e5b74781e5" in S3REC_URL
    assert all(f.url is None for f in s3rec_files("MyData").files)


# --- real files ------------------------------------------------------------------------------------------

FINGERPRINTS = {
    "Beauty": (22_363, 12_101, 198_502),
    "Sports": (35_598, 18_357, 296_337),
    "LastFM": (1_090, 3_646, 52_551),
}


@pytest.mark.data
@pytest.mark.parametrize("name", list(FINGERPRINTS))
def test_real_fingerprints(real_data, name):
    log = s3rec(name, real_data("s3rec", "Beauty.txt", "Sports_and_Outdoors.txt", "LastFM.txt"), verify=True)
    assert (log.n_users, log.n_items, len(log)) == FINGERPRINTS[name]
    assert set(log.item) <= set(log.items.index)  # every item has an attribute list
    lengths = np.bincount(np.unique(log.user, return_inverse=True)[1])
    assert lengths.min() == 5 and (log.timestamp < lengths.max()).all()


@pytest.mark.data
def test_real_copy_found_through_recframe_data(shared_data, data_env, monkeypatch):
    monkeypatch.setenv("RECFRAME_DATA", str(shared_data))
    if not (shared_data / "s3rec" / "LastFM.txt").is_file():
        pytest.skip(f"{shared_data / 's3rec'} lacks LastFM.txt: set RECFRAME_DATA to a folder with s3rec/")
    assert len(s3rec("LastFM")) == 52_551


@pytest.mark.data
def test_cached_copy_is_checked_against_the_pinned_sha256(real_data, data_env):
    source = real_data("s3rec", "LastFM.txt")
    (data_env / "s3rec").mkdir(parents=True)
    shutil.copy(source / "LastFM.txt", data_env / "s3rec" / "LastFM.txt")
    log = s3rec("LastFM")  # offline: the verified cache copy is used; the missing attribute file is optional
    assert len(log) == 52_551 and log.items is None
    with (data_env / "s3rec" / "LastFM.txt").open("a") as f:
        f.write("99999 1 2\n")
    with pytest.raises(FileNotFoundError, match=r"LastFM.txt checksum mismatch \(expected sha256 9ded486a"):
        s3rec("LastFM")
