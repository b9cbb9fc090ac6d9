"""The results index: append/load/rescan round trip, filtering runs and the runs table."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from recframe.experiments import results


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Overrides the conftest seed, which imports Lightning (seconds); nothing here is random."""
    random.seed(0)


def card(negatives: int | None = None, dataset: str = "ml-100k") -> dict[str, Any]:
    cfg = {
        "data": {"split": "leave_one_out", "max_len": 50, "eval_negatives": negatives},
        "dataset": {"name": dataset},
        "module": {"exclude_seen": True},
    }
    return results.protocol(cfg, {"users": 10, "items": 20, "interactions": 30})


def fake_run(root: Path, experiment: str, name: str, status: str, ndcg: float = 0.1) -> Path:
    """A run directory as the engine leaves it: run.json (and metrics.json once finished)."""
    run = root / experiment / name
    run.mkdir(parents=True)
    record = {
        "id": name,
        "experiment": experiment,
        "status": status,
        "seed": 1,
        "started": "2025-03-01T10:00:00",
        "protocol": card(),
        "backbone": "mf",
        "loss": "bpr",
        "config_hash": "abc",
        "git": {"commit": "f" * 40, "dirty": True},
        "wall_seconds": 12.5,
    }
    (run / "run.json").write_text(json.dumps(record), encoding="utf-8")
    if status == "finished":
        (run / "metrics.json").write_text(json.dumps({"test/ndcg@10": ndcg}), encoding="utf-8")
    return run


def test_append_load_rescan_round_trip(tmp_path: Path):
    done = fake_run(tmp_path, "ml-100k/mf", "20250301-100000-aaaaaa", "finished", 0.25)
    fake_run(tmp_path, "ml-100k/mf", "20250301-110000-bbbbbb", "failed")
    fake_run(tmp_path, "beauty/sasrec", "20250301-120000-cccccc", "running")
    assert results.load(tmp_path) == []
    assert results.summary(tmp_path / "beauty/sasrec/20250301-120000-cccccc") is None

    record = results.summary(done)
    assert record["metrics"] == {"test/ndcg@10": 0.25} and record["dataset"] == "ml-100k"
    assert (record["git_commit"], record["git_dirty"], record["per_user"]) == ("f" * 40, True, False)
    results.append(tmp_path, record)
    results.append(tmp_path, {**record, "id": "second"})
    assert [r["id"] for r in results.load(tmp_path)] == ["20250301-100000-aaaaaa", "second"]

    # a kill in the middle of a write leaves a truncated last line: load skips it
    with (tmp_path / results.INDEX).open("a", encoding="utf-8") as f:
        f.write('{"id": "half-writ')
    assert [r["id"] for r in results.load(tmp_path)] == ["20250301-100000-aaaaaa", "second"]

    rebuilt = results.rescan(tmp_path)  # only the finished run; the stale "second" line is gone
    assert [r["id"] for r in rebuilt] == ["20250301-100000-aaaaaa"]
    assert results.load(tmp_path) == json.loads(json.dumps(rebuilt))


def records() -> list[dict[str, Any]]:
    def rec(i: int, experiment: str, backbone: str, started: str | None, **extra) -> dict[str, Any]:
        protocol = extra.pop("protocol", card())
        return {
            "id": f"run{i}",
            "experiment": experiment,
            "dataset": protocol["dataset"],
            "backbone": backbone,
            "protocol": protocol,
            "seed": i,
            "started": started,
            "wall_seconds": 61.4,
            "git_commit": "0123456789abcdef",
            "git_dirty": False,
            "metrics": {"test/ndcg@10": 0.1 * i, "test/hr@10": 0.2 * i},
            **extra,
        }

    return [
        rec(1, "beauty/sasrec", "sasrec", "2025-01-10T09:00:00", protocol=card(dataset="s3rec")),
        rec(2, "beauty/gru4rec", "rnn", "2025-02-10T09:00:00", protocol=card(dataset="s3rec")),
        rec(3, "ml-100k/sasrec", "sasrec", "2025-03-10T09:00:00"),
        rec(4, "ml-100k/sasrec-s100", "sasrec", None, protocol=card(negatives=100)),
    ]


def ids(rs: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in rs]


def test_filter_runs():
    rs = records()
    assert ids(results.filter_runs(rs)) == ["run1", "run2", "run3", "run4"]
    assert ids(results.filter_runs(rs, experiment="beauty/*")) == ["run1", "run2"]
    assert ids(results.filter_runs(rs, experiment="ml-100k/sasrec")) == ["run3"]
    assert ids(results.filter_runs(rs, dataset="ml-100k")) == ["run3", "run4"]
    assert ids(results.filter_runs(rs, backbone="sasrec")) == ["run1", "run3", "run4"]
    assert ids(results.filter_runs(rs, since="2025-02-10")) == ["run2", "run3"]  # run4 has no start time
    assert ids(results.filter_runs(rs, since=dt.date(2025, 3, 1), backbone="sasrec")) == ["run3"]
    assert ids(results.filter_runs(rs, experiment="beauty/*", backbone="sasrec", since="2025-02-01")) == []
    with pytest.raises(ValueError, match="not an ISO date or datetime: 'last week'"):
        results.filter_runs(rs, since="last week")


def test_runs_table():
    table = results.runs_table(records())
    columns = [c.header for c in table.columns]
    assert columns == ["id", "experiment", "seed", "protocol", "test/ndcg@10", "test/hr@10", "wall s", "commit", "date"]
    console = Console(width=250, record=True)
    console.print(table)
    text = console.export_text()
    assert "run3" in text and "full, leave_one_out, seen masked" in text
    assert "⚠ sampled-100-uniform, leave_one_out, seen masked" in text
    assert "0.3000" in text and "0.6000" in text and "0123456" in text and "2025-03-10 09:00" in text
    assert [c.header for c in results.runs_table([], metrics=("val/hr@5",)).columns][4] == "val/hr@5"


def test_config_hash_ignores_speed_settings_but_not_the_computation():
    from recframe.experiments.config import load_config
    from recframe.experiments.results import config_hash

    base = config_hash(load_config("default", ["loss.name=ce"]))
    for same in ("module.fused_optimizer=false", "loss.block=64", "data.eval_batch_size=3", "run.seed=7"):
        assert config_hash(load_config("default", ["loss.name=ce", same])) == base, same
    for other in ("module.lr=0.01", "backbone.dim=16", "loss.name=bce"):
        assert config_hash(load_config("default", ["loss.name=ce", other])) != base, other
