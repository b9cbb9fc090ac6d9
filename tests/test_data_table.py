"""The ``csv`` dataset (users' own files): the happy paths. Bad input is in ``test_bad_input.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recframe.data import DATASETS
from recframe.data.table import csv
from recframe.experiments.config import load_config
from recframe.training.engine import build_data


def test_registered():
    assert DATASETS.get("csv") is csv


def test_tsv_without_header_with_side_tables(tmp_path):
    (tmp_path / "log.tsv").write_text("a7\t10\t1700000002\t5\na7\t11\t1700000001\t3\nb2\t10\t1700000003\t4\n")
    (tmp_path / "items.tsv").write_text("10\tHeat\tAction\n11\tUp\tAnimation\n12\tUnseen\t\n")
    (tmp_path / "users.tsv").write_text("a7\t31\nb2\t45\n")
    log = csv(
        str(tmp_path / "log.tsv"),
        user="0",
        item="1",
        timestamp="2",
        rating="3",
        sep="\\t",  # as typed on a command line
        header=False,
        items_path=str(tmp_path / "items.tsv"),
        users_path=str(tmp_path / "users.tsv"),
        label="mine",
    )
    assert log.name == "mine" and log.user.tolist() == ["a7", "a7", "b2"] and log.item.dtype == np.int64
    assert log.timestamp.tolist() == [1700000002, 1700000001, 1700000003] and log.rating.tolist() == [5, 3, 4]
    assert log.items.loc[11].tolist() == ["Up", "Animation"] and log.items.index.name == "item"
    assert log.users.loc["b2", "1"] == 45  # a column of numbers becomes numeric


def test_loads_through_an_experiment_config(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("uid,iid,stars\n" + "".join(f"u{u},{i},{(u + i) % 5 + 1}\n" for u in range(6) for i in range(5)))
    cfg = load_config("default", ["dataset.name=csv", f"dataset.path={path}", "dataset.user=uid", "dataset.item=iid"])
    dm = build_data(cfg)
    assert dm.fingerprint == {"users": 6, "items": 5, "interactions": 30}
    assert dm.log_.users.raw.tolist() == [f"u{u}" for u in range(6)] and Path(cfg["dataset"]["path"]) == path


def test_parquet_reads_as_the_same_csv(tmp_path):
    """A Parquet log and Parquet side tables give the log the same rows read from CSV give."""
    import pandas as pd

    seconds = [1700000002, 1700000001, 1700000003, 1700000000]
    log = pd.DataFrame({"uid": [7, 7, 2, 2], "iid": ["x", "y", "x", "z"], "stars": [5.0, 3.5, 4.0, 1.0], "t": seconds})
    log.assign(t=pd.to_datetime(seconds, unit="s")).to_parquet(tmp_path / "log.parquet")
    log.to_csv(tmp_path / "log.csv", index=False)
    items = pd.DataFrame({"iid": ["x", "y", "z"], "title": ["Heat", "Up", "Jaws"], "year": [1995, 2009, 1975]})
    items.to_parquet(tmp_path / "items.pq")
    items.to_csv(tmp_path / "items.csv", index=False)
    users = pd.DataFrame({"uid": [2, 7], "age": [31, 45]})
    users.to_parquet(tmp_path / "users.parquet")
    users.to_csv(tmp_path / "users.csv", index=False)
    cols = {"user": "uid", "item": "iid", "rating": "stars", "timestamp": "t"}
    pq = csv(
        str(tmp_path / "log.parquet"),
        **cols,
        items_path=str(tmp_path / "items.pq"),
        users_path=str(tmp_path / "users.parquet"),
    )
    text = csv(
        str(tmp_path / "log.csv"),
        **cols,
        items_path=str(tmp_path / "items.csv"),
        users_path=str(tmp_path / "users.csv"),
    )
    assert pq.user.dtype == np.int64 and pq.user.tolist() == [7, 7, 2, 2] and pq.item.tolist() == ["x", "y", "x", "z"]
    assert pq.timestamp.tolist() == [1700000002, 1700000001, 1700000003, 1700000000]  # datetimes as unix seconds
    assert pq.rating.tolist() == [5.0, 3.5, 4.0, 1.0] and pq.name == "log"
    for column in ("user", "item", "rating", "timestamp"):
        assert getattr(pq, column).tolist() == getattr(text, column).tolist(), column
    assert pq.items.loc["y"].tolist() == ["Up", 2009] and pq.users.loc[2, "age"] == 31
    pd.testing.assert_frame_equal(pq.items, text.items)
    pd.testing.assert_frame_equal(pq.users, text.users)


def test_parquet_bad_columns_name_the_row(tmp_path):
    import pandas as pd
    import pytest

    path = tmp_path / "log.parquet"
    pd.DataFrame({"user": [1, 2], "item": [3, 4], "rating": [1.0, float("nan")]}).to_parquet(path)
    with pytest.raises(ValueError, match=r"no column \['stars'\]; asked for \['user', 'item', 'stars'\]"):
        csv(str(path), rating="stars")
    with pytest.raises(ValueError, match=r"log.parquet: row 1: rating is missing"):
        csv(str(path), rating="rating")
    pd.DataFrame({"user": [1, 2, 3], "item": [3, 4, 5], "rating": [1.0, 2.0, float("inf")]}).to_parquet(path)
    with pytest.raises(ValueError, match=r"log.parquet: row 2: rating is inf; it must be a finite number"):
        csv(str(path), rating="rating")
    pd.DataFrame({"user": [1, 2], "item": [3, 4], "t": [1.5, 2.0]}).to_parquet(path)
    with pytest.raises(ValueError, match="t must hold integers or datetimes, not float64"):
        csv(str(path), timestamp="t")
    pd.DataFrame({"user": [1, -5], "item": [3, 4]}).to_parquet(path)
    with pytest.raises(ValueError, match=r"log.parquet: row 1: user '-5' is not a non-negative integer"):
        csv(str(path))
    pd.DataFrame({"user": ["1", "007"], "item": [3, 4]}).to_parquet(path)
    assert csv(str(path)).user.tolist() == ["1", "007"]  # a zero-padded code: every id is text
