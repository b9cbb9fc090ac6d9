"""Bad input never corrupts a run: each case fails with a message naming the problem, and leaves no output.

"No output" means: the loader returns nothing and writes nothing next to the data, a cache keeps no
unverified file, and a run record is either the old file or the new one, never a partial one.
Corrupted checkpoints, checkpoints of another catalogue and unknown CLI names are tested in
``test_cli.py``; what other files already test is not repeated (see each section).

| #  | case                                                      | functions | tests |
|----|-----------------------------------------------------------|-----------|-------|
| 1  | malformed or truncated data file (csv, u.data, S3-Rec)    | 3         | 14    |
| 2  | wrong delimiter                                           | 1         | 4     |
| 3  | missing columns                                           | 1         | 1     |
| 4  | NaN / inf ratings (and finite text overflowing float32)   | 2         | 4     |
| 5  | negative or non-integer ids (and the string-id policy)    | 3         | 6     |
| 6  | empty file, header-only file                              | 1         | 3     |
| 7  | Parquet without pyarrow                                   | 1         | 1     |
| 8  | duplicate interactions (every ``data.duplicates`` policy) | 2         | 4     |
| 9  | users or items left with no interactions after filtering  | 2         | 3     |
| 10 | an empty split                                            | 1         | 1     |
| 11 | unknown config key, wrong type                            | 2         | 3     |
| 12 | cache file whose checksum does not match                  | 4         | 4     |
| 13 | disk full while writing a run record                      | 2         | 5     |
|    | total: 13 cases                                           | 25        | 53    |
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import os
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from recframe.data.datamodule import RecDataModule
from recframe.data.download import Archive, DatasetFiles, RemoteFile, dataset_folder
from recframe.data.interactions import Interactions
from recframe.data.movielens import movielens
from recframe.data.s3rec import s3rec
from recframe.data.table import csv
from recframe.experiments import runs
from recframe.experiments.config import ConfigError, load_config

RATINGS = "user,item,rating,timestamp\n1,10,4.0,100\n1,11,2.5,101\n2,10,5.0,99\n"


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and mtime: a failed load must not change it."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def fails(folder: Path, load, *args, **kwargs) -> str:
    """The message of the ``ValueError`` that ``load`` raises; asserts nothing under ``folder`` changed."""
    before = listing(folder)
    with pytest.raises(ValueError) as err:
        load(*args, **kwargs)
    assert listing(folder) == before, "a failed load wrote or changed files"
    return str(err.value)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def log_of(users, items, times=None, ratings=None, name="tiny") -> Interactions:
    return Interactions(
        user=np.asarray(users),
        item=np.asarray(items),
        rating=np.asarray(np.ones(len(users)) if ratings is None else ratings, dtype=np.float32),
        timestamp=np.asarray(np.arange(len(users)) if times is None else times, dtype=np.int64),
        name=name,
    )


# ---- 1. malformed or truncated data files --------------------------------------------------------------------
# test_data_movielens/test_data_s3rec cover field counts and bad tokens; added here: the csv loader, files cut
# off mid-write (an empty file, a trailing separator) and undecodable S3-Rec bytes.


NUMERIC = {"rating": "rating", "timestamp": "timestamp"}


@pytest.mark.parametrize(
    ("text", "columns", "line", "problem"),
    [
        (RATINGS + "2,11,3.0\n", NUMERIC, 5, "expected 4 fields separated by ',', found 3"),  # a dropped field
        (RATINGS + "2,11,3.0,102,x\n", NUMERIC, 5, "expected 4 fields separated by ',', found 5"),
        (RATINGS + "2,1", NUMERIC, 5, "expected 4 fields"),  # cut off mid-write, no final newline
        (RATINGS + "2,11,3.0,", NUMERIC, 5, "timestamp '' is not an integer"),  # cut off after a separator
        (RATINGS + "2,11,3.0", {}, 5, "expected 4 fields separated by ',', found 3"),  # ... of unused columns
        (RATINGS.replace("2.5", "2.5\x00"), NUMERIC, 3, "rating '2.5\\x00' is not a number"),
        (RATINGS.encode() + b"2,1\xff1,3.0,102\n", NUMERIC, 5, "not valid utf-8 text"),
        (RATINGS + "2,,3.0,102\n", NUMERIC, 5, "item is empty"),
    ],
)
def test_malformed_or_truncated_csv_names_file_and_line(tmp_path, text, columns, line, problem):
    path = write(tmp_path / "ratings.csv", text)
    message = fails(tmp_path, csv, str(path), **columns)
    assert message.startswith(f"{path}:{line}: ") and problem in message


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("", None, "no data lines"),  # truncated to nothing
        ("1\t1\t5\t881250949\n2\t1\t3\t", 2, "timestamp '' is not an integer"),
        ("1\t1\t5\t881250949\n2\t1\t", 2, "expected 4 fields"),
    ],
)
def test_truncated_movielens_u_data_names_file_and_line(tmp_path, text, line, problem):
    for name, content in {"u.genre": "unknown|0\n", "u.item": "1|T|||u|0\n", "u.user": "1|2|M|x|1\n"}.items():
        write(tmp_path / name, content)
    write(tmp_path / "u.data", text)
    message = fails(tmp_path, movielens, "100k", str(tmp_path))
    where = f"{tmp_path / 'u.data'}:{line}: " if line else f"{tmp_path / 'u.data'}: "
    assert message.startswith(where) and problem in message


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (b"1 5 3\n2 3 5\n3", 3, "user 3 has no items"),  # cut off after the user id
        (b"1 5 3\n2 3 5\n3 4 \xe2\x82", 3, "not valid utf-8 text"),  # cut inside a multi-byte character
        (b"1 5 3\n2 3 5\x00\n", 2, "'5\\x00' is not a non-negative integer id"),
    ],
)
def test_truncated_s3rec_names_file_and_line(tmp_path, text, line, problem):
    path = write(tmp_path / "MyData.txt", text)
    message = fails(tmp_path, s3rec, "MyData", str(tmp_path))
    assert message.startswith(f"{path}:{line}: ") and problem in message


# ---- 2. wrong delimiter --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kwargs", "found"),
    [
        ("user\titem\trating\n1\t10\t4\n", {}, "'\\t'"),  # a TSV read as CSV
        ("user;item\n1;10\n", {}, "';'"),
        ("user,item\n1,10\n", {"sep": "\t"}, "','"),
        ("1|10|4\n2|11|5\n", {"user": "0", "item": "1", "header": False}, "'|'"),
    ],
)
def test_wrong_delimiter_names_the_likely_one(tmp_path, text, kwargs, found):
    path = write(tmp_path / "ratings.csv", text)
    message = fails(tmp_path, csv, str(path), **kwargs)
    assert message.startswith(f"{path}:1: ") and f"seems to use {found} as its delimiter: set sep={found}" in message


# ---- 3. missing columns --------------------------------------------------------------------------------------


def test_missing_columns_list_found_and_asked(tmp_path):
    path = write(tmp_path / "ratings.csv", RATINGS)
    message = fails(tmp_path, csv, str(path), item="movie", rating="stars")
    assert f"{path}:1: no column ['movie', 'stars']" in message
    assert "asked for ['user', 'movie', 'stars']" in message
    assert "the header has ['user', 'item', 'rating', 'timestamp']" in message
    message = fails(tmp_path, csv, str(path), user="0", item="7", header=False)
    assert "no column ['7']" in message and "positions 0..3" in message
    message = fails(tmp_path, csv, str(path), header=False)
    assert "with header=false columns are named by 0-based position" in message


# ---- 4. NaN / inf ratings ------------------------------------------------------------------------------------
# test_data_movielens covers u.data and ratings.csv; test_data_core covers Interactions built in code.


@pytest.mark.parametrize(("value", "problem"), [("nan", "is 'nan'"), ("inf", "is 'inf'"), ("-Infinity", "is '-Inf")])
def test_non_finite_rating_names_line(tmp_path, value, problem):
    path = write(tmp_path / "ratings.csv", RATINGS.replace("2.5", value))
    message = fails(tmp_path, csv, str(path), rating="rating")
    assert message.startswith(f"{path}:3: rating ") and problem in message and "finite number" in message


def test_rating_too_large_for_float32_is_not_turned_into_inf(tmp_path):
    path = write(tmp_path / "ratings.csv", RATINGS.replace("2.5", "1e39"))
    message = fails(tmp_path, csv, str(path), rating="rating")
    assert f"{path}: rating 1e+39 of data row 2 (user 1, item 11) is too large for a float32 rating" in message


# ---- 5. negative or non-integer ids --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "line", "problem"),
    [
        ("2,10,5.0", "-2,10,5.0", 4, "user '-2' is negative"),
        ("1,11,2.5", "1,11.5,2.5", 3, "item '11.5' is not an integer"),
        ("1,11,2.5", "1,1e3,2.5", 3, "item '1e3' is not an integer"),
        ("1,10,4.0", "1.0,10,4.0", 2, "user '1.0' is not an integer"),  # a float export of integer ids
    ],
)
def test_negative_or_non_integer_numeric_ids_name_line(tmp_path, old, new, line, problem):
    path = write(tmp_path / "ratings.csv", RATINGS.replace(old, new))
    message = fails(tmp_path, csv, str(path), rating="rating")
    assert message.startswith(f"{path}:{line}: {problem}") and "must be plain non-negative integers" in message


def test_string_ids_are_kept_as_written(tmp_path):
    path = write(tmp_path / "ratings.csv", "user,item\nu1,007\nu2,7\nu1,B-12\n2,7\n")
    log = csv(str(path))
    assert log.user.tolist() == ["u1", "u2", "u1", "2"] and log.item.tolist() == ["007", "7", "B-12", "7"]
    assert log.timestamp.tolist() == [0, 0, 1, 0]  # no timestamp column: order within each user's lines
    ints = csv(str(write(tmp_path / "ints.csv", "user,item\n3,0\n12,7\n")))
    assert ints.user.dtype == np.int64 and ints.item.tolist() == [0, 7]


def test_side_table_ids_must_match_the_log(tmp_path):
    path = write(tmp_path / "ratings.csv", RATINGS)
    items = write(tmp_path / "items.csv", 'item,title,year\n10,Heat,1995\n11,"Up, Up",2009\n12,Unrated,\n')
    log = csv(str(path), items_path=str(items))
    assert log.items.loc[11, "title"] == "Up, Up" and log.items.loc[10, "year"] == "1995"  # a blank: stays text
    bad = write(tmp_path / "bad_items.csv", "item,title\n10,Heat\nx11,Up\n")
    assert "item ids like" in fails(tmp_path, csv, str(path), items_path=str(bad))
    bad.write_text("item,title\n10,Heat\n-11,Up\n")
    assert fails(tmp_path, csv, str(path), items_path=str(bad)).startswith(f"{bad}:3: item '-11' is negative")
    bad.write_text("item,title\n10,Heat\n10,Heat again\n")
    assert f"{bad}: item 10 appears on more than one line" in fails(tmp_path, csv, str(path), items_path=str(bad))


# ---- 6. empty and header-only files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [("", ": the file is empty"), ("\n\n", ": the file is empty"), ("user,item\n", ":1: only a header line")],
)
def test_empty_and_header_only_files(tmp_path, text, problem):
    path = write(tmp_path / "ratings.csv", text)
    assert fails(tmp_path, csv, str(path)).startswith(f"{path}{problem}")


# ---- 7. Parquet without pyarrow -----------------------------------------------------------------------------


def test_parquet_without_pyarrow_says_what_to_install(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    path = write(tmp_path / "ratings.parquet", b"PAR1")
    message = fails(tmp_path, csv, str(path))
    assert message.startswith(f"{path}: reading Parquet needs the pyarrow package") and "pip install pyarrow" in message


# ---- 8. duplicate interactions ------------------------------------------------------------------------------
# test_data_core checks the duplicates() filter itself; here the csv -> DataModule path and its reports.

DUPLICATED = "user,item,timestamp\nana,x,1\nana,y,2\nana,x,3\nana,z,4\nbo,y,1\nbo,x,2\nbo,y,3\nbo,z,4\nbo,w,5\n"


@pytest.mark.parametrize(("policy", "kept"), [("keep", 9), ("first", 7), ("last", 7)])
def test_duplicates_are_counted_in_the_filter_report(tmp_path, policy, kept):
    log = csv(str(write(tmp_path / "r.csv", DUPLICATED)), timestamp="timestamp")
    dm = RecDataModule(log, sequential=True, duplicates=policy)
    report = dm.log_.reports[0]
    assert report.filter == f"duplicates={policy}" and report.detail == "2 repeated (user, item) pairs"
    assert report.interactions_removed == 9 - kept and len(dm.log_) == kept
    assert f"filter duplicates={policy}: removed {9 - kept} interactions" in dm.summary()


def test_duplicates_error_names_an_example(tmp_path):
    log = csv(str(write(tmp_path / "r.csv", DUPLICATED)), timestamp="timestamp", label="mine")
    with pytest.raises(ValueError, match=r"mine: 2 duplicate \(user, item\) interactions, e.g. user 'ana' item 'x'"):
        RecDataModule(log, sequential=True, duplicates="error")


# ---- 9. users or items with no interactions after filtering --------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"min_rating": 6.0}, "filter min_rating=6 removed all 3 interactions"), ({"k_core": 3}, "filter k_core")],
)
def test_filter_that_removes_everything_names_itself(tmp_path, kwargs, name):
    log = csv(str(write(tmp_path / "r.csv", RATINGS)), rating="rating", timestamp="timestamp")
    with pytest.raises(ValueError, match=name) as err:
        RecDataModule(log, sequential=True, **kwargs)
    assert "loosen it" in str(err.value)


def test_users_and_items_emptied_by_a_filter_get_no_id():
    # user 3 rated only item 9, below the threshold: both disappear with a count, and get no dense id
    log = log_of([1] * 4 + [2] * 4 + [3], [1, 2, 3, 4, 1, 2, 3, 4, 9], ratings=[5] * 8 + [1])
    dm = RecDataModule(log, sequential=True, min_rating=3)
    report = dm.log_.reports[1]
    assert (report.users_removed, report.items_removed, report.interactions_removed) == (1, 1, 1)
    assert dm.log_.users.raw.tolist() == [1, 2] and dm.log_.items.raw.tolist() == [1, 2, 3, 4]
    assert (np.bincount(dm.log_.user)[1:] > 0).all() and (np.bincount(dm.log_.item)[1:] > 0).all()


# ---- 10. an empty split --------------------------------------------------------------------------------------
# test_data_core covers an empty split without filters; here the filters that caused it are named.


def test_empty_split_names_stage_and_filters():
    log = log_of([1, 1, 1, 2, 2, 2], [1, 2, 3, 1, 2, 3], ratings=[5, 1, 5, 5, 1, 5])
    with pytest.raises(ValueError) as err:
        RecDataModule(log, sequential=True, min_rating=4)  # 2 events per user left: leave_one_out needs 3
    message = str(err.value)
    assert "split 'leave_one_out' left the val set of tiny empty (4 interactions after:" in message
    assert "duplicates=keep: removed 0 interactions" in message and "min_rating=4: removed 2 interactions" in message
    with pytest.raises(ValueError, match=r"split 'temporal' left the test set of tiny empty"):
        RecDataModule(log_of([1, 2], [1, 2]), sequential=True, split="temporal", split_args={"ratios": [0.5, 0.5, 0]})


# ---- 11. unknown config key, wrong type ------------------------------------------------------------------------
# test_config covers backbone.dimm and backbone.dim=abc; added: the data and dataset sections.


def test_unknown_config_key_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown key data.batchsize; known keys of 'data': \['split', ") as err:
        load_config("default", ["data.batchsize=3"])
    assert "'batch_size'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_config("default", ["dataset.name=csv", "dataset.path=r.csv", "dataset.usr=uid"])
    assert "unknown key dataset.usr; known keys of 'dataset': ['name', 'path', 'user', 'item'," in str(err.value)


@pytest.mark.parametrize(
    ("override", "key", "value"),
    [("data.max_len=abc", "max_len", "'abc'"), ("dataset.header=maybe", "header", "'maybe'")],
)
def test_wrong_type_names_key_and_value(override, key, value):
    with pytest.raises(ConfigError) as err:
        load_config("default", ["dataset.name=csv", "dataset.path=r.csv", override])
    assert f"full_key: {key}" in str(err.value) and value in str(err.value)


# ---- 12. a cache file whose checksum does not match -----------------------------------------------------------
# test_download covers: a corrupt cached file re-fetched online and refused offline, and a zip member with a wrong
# checksum. Added: the source is corrupt too; an optional file; an archive-based dataset; a real loader.

GOOD = b"1 5 3\n2 3 5\n"


def serve(tmp_path: Path, name: str, data: bytes) -> str:
    return write(tmp_path / "remote" / name, data).as_uri()


@pytest.fixture
def online(data_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RECFRAME_OFFLINE", "0")
    return data_env


def test_corrupt_cache_and_corrupt_source_are_both_refused(tmp_path, online, monkeypatch):
    spec = DatasetFiles(
        "toy", (RemoteFile("a.txt", serve(tmp_path, "a.txt", b"tampered"), hashlib.sha256(GOOD).hexdigest()),)
    )
    write(online / "toy" / "a.txt", b"1 5 3\n2 3")  # a truncated earlier download
    with pytest.raises(ValueError, match=r"checksum mismatch for .*a\.txt: expected sha256 .*download discarded"):
        dataset_folder(spec)
    assert (online / "toy" / "a.txt").read_bytes() == b"1 5 3\n2 3"  # neither replaced by the bad copy ...
    assert sorted(p.name for p in (online / "toy").iterdir()) == ["a.txt"]  # ... nor a temporary left behind
    monkeypatch.setenv("RECFRAME_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=r"a\.txt checksum mismatch"):  # ... nor used later
        dataset_folder(spec)


def test_corrupt_optional_cache_file_is_refused_offline(tmp_path, data_env):
    b_md5 = hashlib.md5(b"{}").hexdigest()
    spec = DatasetFiles("toy", (RemoteFile("a.txt"), RemoteFile("b.json", "file:///nowhere", md5=b_md5, optional=True)))
    write(data_env / "toy" / "a.txt", GOOD)
    write(data_env / "toy" / "b.json", b'{"3": [1')
    with pytest.raises(FileNotFoundError, match=r"b.json checksum mismatch \(expected md5"):
        dataset_folder(spec)


def test_corrupt_member_of_an_archive_is_refetched(tmp_path, online):
    remote = tmp_path / "remote"
    remote.mkdir()
    with zipfile.ZipFile(remote / "toy.zip", "w") as zf:
        zf.writestr("toy/a.txt", GOOD)
    spec = DatasetFiles(
        "toy",
        (RemoteFile("a.txt", sha256=hashlib.sha256(GOOD).hexdigest()),),
        Archive((remote / "toy.zip").as_uri(), subdir="toy"),
    )
    write(online / "toy" / "a.txt", b"1 5 3\n2 3 5 999\n")  # edited by hand, same length class of damage
    assert (dataset_folder(spec) / "a.txt").read_bytes() == GOOD
    assert sorted(p.name for p in online.iterdir()) == ["toy"]  # the zip and the old folder are gone


@pytest.mark.data
def test_movielens_never_loads_a_corrupt_cached_file(real_data, tmp_path, online):
    source = real_data("ml-100k", "u.data", "u.item", "u.user", "u.genre")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with zipfile.ZipFile(mirror / "ml-100k.zip", "w") as zf:
        for name in ("u.data", "u.item", "u.user", "u.genre"):
            zf.write(source / name, f"ml-100k/{name}")
    digest = hashlib.md5((mirror / "ml-100k.zip").read_bytes()).hexdigest()
    (mirror / "ml-100k.zip.md5").write_text(f"MD5 (ml-100k.zip) = {digest}\n")
    cache = online / "ml-100k"
    for name in ("u.item", "u.user", "u.genre"):
        write(cache / name, (source / name).read_bytes())
    write(cache / "u.data", (source / "u.data").read_bytes()[:5000])  # a truncated copy that still parses
    assert len(movielens("100k", mirror=mirror.as_uri())) == 100_000
    assert (cache / "u.data").read_bytes() == (source / "u.data").read_bytes()


# ---- 13. disk full while writing a run record ----------------------------------------------------------------


def full_disk(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """Make ``recframe.experiments.runs``' own ``os`` fail with ENOSPC at ``where`` (write, flush or fsync)."""
    shim = types.ModuleType("os")
    shim.__dict__.update(vars(os))

    def enospc(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    class HalfWritten:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, text):
            self.f.write(text[: len(text) // 2])
            self.f.flush()
            if where == "write":
                enospc()

        def flush(self):
            self.f.flush()
            if where == "flush":
                enospc()

        def fileno(self):
            return self.f.fileno()

    shim.fdopen = lambda fd, *a, **k: HalfWritten(os.fdopen(fd, *a, **k))
    if where == "fsync":
        shim.fsync = enospc
    monkeypatch.setattr(runs, "os", shim)


@pytest.mark.parametrize("where", ["write", "flush", "fsync"])
def test_disk_full_keeps_the_old_run_record(tmp_path, monkeypatch, where):
    run = runs.Run(tmp_path / "run")
    run.dir.mkdir()
    run.update(status="running", seed=1)
    old = (run.dir / "run.json").read_text()
    full_disk(monkeypatch, where)
    with pytest.raises(OSError) as err:
        run.update(status="finished")
    assert err.value.errno == errno.ENOSPC
    assert (run.dir / "run.json").read_text() == old and run.record()["status"] == "running"
    assert sorted(p.name for p in run.dir.iterdir()) == ["run.json"]  # no temporary file left behind


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_disk_full_creates_no_new_record(tmp_path, monkeypatch, where):
    run = runs.Run(tmp_path / "run")
    run.dir.mkdir()
    full_disk(monkeypatch, where)
    with pytest.raises(OSError, match="No space left on device"):
        run.write_metrics({"test/ndcg@10": 0.5})
    with pytest.raises(OSError, match="No space left on device"):
        runs.atomic_write(run.dir / "config.yaml", "data: {}\n" * 100)
    assert list(run.dir.iterdir()) == [] and run.metrics() == {}
