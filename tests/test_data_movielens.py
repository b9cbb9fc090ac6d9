"""MovieLens loader: real-file fingerprints, hand-written files for every format, and bad-input errors."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recframe.data import DATASETS
from recframe.data.movielens import movielens

GENRE = "unknown|0\nAction|1\nComedy|2\n\n"
ITEM = "1|Toy Story (1995)|01-Jan-1995||http://x/1|0|0|1\n2|Misérables, Les (1995)|||http://x/2|0|1|1\n"
USER = "1|24|M|technician|85711\n2|53|F|other|T8H1N\n"
DATA = "1\t1\t5\t881250949\n2\t1\t3\t891717742\n2\t2\t1\t878887116\n"
MOVIES_DAT = "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Café Society (1995)::Drama\n"
USERS_DAT = "1::F::1::10::48067\n2::M::56::16::70072\n"
RATINGS_DAT = "1::1::5::978300760\n2::2::3::978302109\n1::2::4::978301968\n"
MOVIES_CSV = (
    "movieId,title,genres\n"
    '1,"American President, The (1995)",Comedy|Drama\n'
    '2,"""Great"" Escape (1963)",(no genres listed)\n'
)
RATINGS_CSV = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,0.5,964981247\n7,1,3.5,964982224\n"


def write(folder: Path, files: dict[str, str], encoding: str = "utf-8", newline: str = "\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text.replace("\n", newline).encode(encoding))
    return folder


def ml100k(folder: Path, **override: str) -> Path:
    files = {"u.data": DATA, "u.item": ITEM, "u.user": USER, "u.genre": GENRE} | override
    return write(folder, files, encoding="latin-1")


def ml1m(folder: Path, **override: str) -> Path:
    files = {"ratings.dat": RATINGS_DAT, "movies.dat": MOVIES_DAT, "users.dat": USERS_DAT} | override
    return write(folder, files, encoding="latin-1")


def mlcsv(folder: Path, newline: str = "\n", **override: str) -> Path:
    return write(folder, {"ratings.csv": RATINGS_CSV, "movies.csv": MOVIES_CSV} | override, newline=newline)


def test_registered_and_rejects_unknown_variant(tmp_path):
    assert DATASETS.get("movielens") is movielens
    with pytest.raises(ValueError, match=r"unknown MovieLens variant '10m'; known: \['100k', '1m', '20m'"):
        movielens("10m", tmp_path)


# --- hand-written files, one per format ------------------------------------------------------------------


def test_100k_format(tmp_path):
    log = movielens("100k", ml100k(tmp_path))
    assert log.name == "ml-100k" and len(log) == 3
    assert log.user.tolist() == [1, 2, 2] and log.item.tolist() == [1, 1, 2]
    assert log.rating.dtype == np.float32 and log.rating.tolist() == [5.0, 3.0, 1.0]
    assert log.timestamp.dtype == np.int64 and log.timestamp[0] == 881250949
    assert log.items.loc[2, "title"] == "Misérables, Les (1995)"  # latin-1 decoded
    assert log.items["genres"].tolist() == [["Comedy"], ["Action", "Comedy"]]
    assert log.items.loc[1, "release_date"] == pd.Timestamp("1995-01-01") and pd.isna(log.items.loc[2, "release_date"])
    assert log.users.loc[2].tolist() == [53, "F", "other", "T8H1N"]
    assert list(log.users.columns) == ["age", "gender", "occupation", "zip"]


def test_1m_format(tmp_path):
    log = movielens("1m", ml1m(tmp_path))
    assert log.name == "ml-1m" and log.user.tolist() == [1, 2, 1] and log.rating.tolist() == [5.0, 3.0, 4.0]
    assert log.items.loc[1, "genres"] == ["Animation", "Children's", "Comedy"]
    assert log.items.loc[2, "title"] == "Café Society (1995)"
    users = log.users
    assert users.loc[1, ["gender", "age", "age_band", "occupation"]].tolist() == ["F", 1, "Under 18", "K-12 student"]
    assert users.loc[2, ["age", "age_band", "occupation_code", "occupation", "zip"]].tolist() == [
        56,
        "56+",
        16,
        "self-employed",
        "70072",
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("variant", ["20m", "25m", "latest-small"])
def test_csv_formats_with_either_line_ending(tmp_path, variant, newline):
    log = movielens(variant, mlcsv(tmp_path, newline))
    assert log.name == f"ml-{variant}" and log.users is None
    assert log.user.tolist() == [1, 1, 7] and log.rating.tolist() == [4.0, 0.5, 3.5]
    assert log.items["title"].tolist() == ["American President, The (1995)", '"Great" Escape (1963)']
    assert log.items["genres"].tolist() == [["Comedy", "Drama"], []]  # "(no genres listed)" -> no genres


def test_blank_lines_are_skipped_and_nothing_else(tmp_path):
    log = movielens("100k", ml100k(tmp_path, **{"u.data": "\n" + DATA.replace("\n", "\n\n", 1) + "\n"}))
    assert len(log) == 3


def test_download_from_mirror_with_published_md5(tmp_path, data_env, monkeypatch):
    monkeypatch.setenv("RECFRAME_OFFLINE", "0")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with zipfile.ZipFile(mirror / "ml-latest-small.zip", "w") as zf:
        zf.writestr("ml-latest-small/ratings.csv", RATINGS_CSV)
        zf.writestr("ml-latest-small/movies.csv", MOVIES_CSV)
    digest = hashlib.md5((mirror / "ml-latest-small.zip").read_bytes()).hexdigest()
    (mirror / "ml-latest-small.zip.md5").write_text(f"MD5 (ml-latest-small.zip) = {digest}\n")
    log = movielens("latest-small", mirror=mirror.as_uri())
    assert len(log) == 3 and (data_env / "ml-latest-small" / "ratings.csv").is_file()
    monkeypatch.setenv("RECFRAME_OFFLINE", "1")  # the second load uses the cache
    assert len(movielens("latest-small", mirror=mirror.as_uri())) == 3


# --- bad input: every message names the file and the 1-based line ------------------------------------------

BAD = [
    ("100k", "u.data", "1\t1\t5\t881250949\n2\t1\t3\n", 2, "expected 4 fields separated by '\\t', found 3"),
    ("100k", "u.data", "1\t1\t5\t881250949\n2\t1\t3\t1\t9\n", 2, "expected 4 fields separated by '\\t', found 5"),
    ("100k", "u.data", "1\t1\t5\t881250949\t\n2\t1\t3\t1\n", 1, "expected 4 fields"),
    ("100k", "u.data", "1\t1\t5\t881250949\n\nx\t1\t3\t891717742\n", 3, "user 'x' is not an integer"),
    ("100k", "u.data", "1\t1\t5\t881250949\n2\t1\tfive\t891717742\n", 2, "rating 'five' is not a number"),
    ("100k", "u.data", "1\t1\t5\t881250949\n2\t1\tnan\t891717742\n", 2, "rating is 'nan'; it must be a finite number"),
    ("100k", "u.data", "1\t1\tinf\t881250949\n", 1, "rating is 'inf'; it must be a finite number"),
    ("100k", "u.data", "1\t1\t5\t881250949\n2\t-1\t3\t891717742\n", 2, "item '-1' is negative"),
    ("100k", "u.data", "1\t1\t5\t881250949\n2\t1\t3\t8917.5\n", 2, "timestamp '8917.5' is not an integer"),
    ("100k", "u.data", "1\t1\t5\t881250949\n2\t1\t3\t891717742\n3\t1", 3, "expected 4 fields"),  # truncated
    ("100k", "u.item", "1|Toy Story (1995)|01-Jan-1995||http://x/1|0|0\n", 1, "expected 8 fields"),
    ("100k", "u.user", "1|24|M|technician|85711\n2||F|other|94043\n", 2, "age '' is not an integer"),
    ("1m", "ratings.dat", "1::1::5::978300760\n2::2::3::97830x109\n", 2, "timestamp '97830x109' is not an integer"),
    ("1m", "ratings.dat", "1::1::5::978300760\n2::2::3\n", 2, "expected 4 fields separated by '::', found 3"),
    ("1m", "movies.dat", "1::Toy Story (1995)::Comedy\n2::::Drama\n", 2, "title is empty"),
    ("latest-small", "ratings.csv", "userId,movieId,rating\n1,1,4.0\n", 1, "header is 'userId,movieId,rating'"),
    ("latest-small", "ratings.csv", RATINGS_CSV + "8,1,NaN,964982224\n", 5, "rating is 'NaN'"),
    ("latest-small", "ratings.csv", RATINGS_CSV + "8,1,4.0,964982224,extra\n", 5, "expected 4 fields"),
    ("latest-small", "ratings.csv", RATINGS_CSV + "8,1,4", 5, "expected 4 fields"),  # truncated last line
    ("latest-small", "movies.csv", "movieId,title,genres\n1,Heat (1995),Action\n2,Jumanji (1995)\n", 3, "expected 3"),
]


@pytest.mark.parametrize(("variant", "name", "text", "line", "problem"), BAD)
def test_bad_input_names_file_and_line(tmp_path, variant, name, text, line, problem):
    folder = {"100k": ml100k, "1m": ml1m, "latest-small": mlcsv}[variant](tmp_path, **{name: text})
    with pytest.raises(ValueError) as err:
        movielens(variant, folder)
    assert str(err.value).startswith(f"{folder / name}:{line}: ")
    assert problem in str(err.value)


def test_undecodable_bytes_name_the_line(tmp_path):
    folder = mlcsv(tmp_path)
    (folder / "ratings.csv").write_bytes(RATINGS_CSV.encode() + b"8,1,4.0,96498\xff\n")
    with pytest.raises(ValueError, match=r"ratings.csv:5: not valid utf-8 text"):
        movielens("latest-small", folder)


@pytest.mark.parametrize(
    ("variant", "name", "text", "problem"),
    [
        ("100k", "u.user", USER + "1|30|F|other|12345\n", "u.user: user 1 appears on more than one line"),
        ("1m", "movies.dat", MOVIES_DAT + "2::Again (1995)::Drama\n", "movies.dat: item 2 appears on more than one"),
        ("latest-small", "movies.csv", MOVIES_CSV + "1,Again (1995),Drama\n", "movies.csv: movieId 1 appears on more"),
    ],
)
def test_repeated_side_table_ids_are_named(tmp_path, variant, name, text, problem):
    folder = {"100k": ml100k, "1m": ml1m, "latest-small": mlcsv}[variant](tmp_path, **{name: text})
    with pytest.raises(ValueError, match=problem):
        movielens(variant, folder)


def test_bad_release_date_is_named(tmp_path):
    folder = ml100k(tmp_path, **{"u.item": ITEM.replace("01-Jan-1995", "1995-01-01")})
    with pytest.raises(ValueError, match=r"u.item: item 1 has release date '1995-01-01'; expected like '01-Jan-1995'"):
        movielens("100k", folder)


def test_unknown_1m_codes_are_named(tmp_path):
    folder = ml1m(tmp_path, **{"users.dat": "1::F::1::10::48067\n2::M::57::16::70072\n"})
    with pytest.raises(ValueError, match=r"users.dat: user 2 has age 57; known codes: \[1, 18, 25"):
        movielens("1m", folder)


def test_header_only_file_has_no_data(tmp_path):
    folder = mlcsv(tmp_path, **{"ratings.csv": "userId,movieId,rating,timestamp\n"})
    with pytest.raises(ValueError, match=r"ratings.csv: no data lines"):
        movielens("latest-small", folder)


# --- real files ------------------------------------------------------------------------------------------


@pytest.mark.data
def test_ml100k_fingerprint(real_data):
    log = movielens("100k", real_data("ml-100k", "u.data", "u.item", "u.user", "u.genre"), verify=True)
    assert (log.n_users, log.n_items, len(log)) == (943, 1682, 100_000)
    assert np.bincount(log.rating.astype(int)).tolist() == [0, 6110, 11370, 27145, 34174, 21201]
    assert log.users["gender"].value_counts().to_dict() == {"M": 670, "F": 273}
    assert len({g for genres in log.items["genres"] for g in genres}) == 19
    assert len(log.items) == 1682 and len(log.users) == 943
    assert log.items["title"].str.contains("Misérables").any()
    assert log.items.loc[267, "title"] == "unknown" and log.items.loc[267, "genres"] == ["unknown"]


@pytest.mark.data
def test_ml_latest_small_fingerprint(real_data):
    log = movielens("latest-small", real_data("ml-latest-small", "ratings.csv", "movies.csv"))
    assert (log.n_users, log.n_items, len(log)) == (610, 9724, 100_836)
    assert len(log.items) == 9742 and set(log.item) <= set(log.items.index)
    assert sorted(np.unique(log.rating).tolist()) == [x / 2 for x in range(1, 11)]
    assert log.items.loc[11, "title"] == "American President, The (1995)"


@pytest.mark.data
def test_ml1m_without_ratings_raises_clear_missing_file_error(shared_data, data_env, monkeypatch):
    if not (shared_data / "ml-1m" / "users.dat").is_file():
        pytest.skip(f"{shared_data / 'ml-1m'} not found: set RECFRAME_DATA to a folder with ml-1m/")
    if (shared_data / "ml-1m" / "ratings.dat").is_file():
        pytest.skip("this copy of ml-1m has ratings.dat")
    monkeypatch.setenv("RECFRAME_DATA", str(shared_data))
    with pytest.raises(FileNotFoundError) as err:
        movielens("1m")
    message = str(err.value)
    assert f"{shared_data / 'ml-1m'} ($RECFRAME_DATA/ml-1m): missing ratings.dat" in message
    assert str(data_env / "ml-1m") in message
    assert "RECFRAME_OFFLINE=1" in message and "dataset.root=" in message


@pytest.mark.data
def test_ml1m_side_tables_with_a_tiny_ratings_file(real_data, tmp_path):
    source = real_data("ml-1m", "users.dat", "movies.dat")
    for name in ("users.dat", "movies.dat"):
        (tmp_path / name).symlink_to(source / name)
    (tmp_path / "ratings.dat").write_text(RATINGS_DAT)
    log = movielens("1m", tmp_path)
    assert len(log) == 3 and len(log.users) == 6040 and len(log.items) == 3883
    assert log.users["gender"].value_counts().to_dict() == {"M": 4331, "F": 1709}
    assert sorted(log.users["age"].unique().tolist()) == [1, 18, 25, 35, 45, 50, 56]
    assert log.users["occupation"].nunique() == 21 and log.users["age_band"].notna().all()
    assert len({g for genres in log.items["genres"] for g in genres}) == 18
    with pytest.raises(ValueError, match=r"ratings.dat: checksum mismatch \(expected git-sha1 77a7c4b1"):
        movielens("1m", tmp_path, verify=True)  # users.dat and movies.dat pass; the hand-written ratings do not


@pytest.mark.data
def test_ml100k_download_checks_md5_and_file_digests(real_data, tmp_path, data_env, monkeypatch):
    source = real_data("ml-100k", "u.data", "u.item", "u.user", "u.genre")
    monkeypatch.setenv("RECFRAME_OFFLINE", "0")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with zipfile.ZipFile(mirror / "ml-100k.zip", "w") as zf:
        for name in ("u.data", "u.item", "u.user", "u.genre"):
            zf.write(source / name, f"ml-100k/{name}")
    digest = hashlib.md5((mirror / "ml-100k.zip").read_bytes()).hexdigest()
    (mirror / "ml-100k.zip.md5").write_text(f"MD5 (ml-100k.zip) = {digest}\n")
    assert len(movielens("100k", mirror=mirror.as_uri())) == 100_000
    assert sorted(p.name for p in (data_env / "ml-100k").iterdir()) == ["u.data", "u.genre", "u.item", "u.user"]
