"""The ``csv`` dataset (users' own files): the happy paths. Bad input is in ``test_bad_input.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recframe.config import load_config
from recframe.data import DATASETS
from recframe.data.table import csv
from recframe.engine import build_data


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
