"""End to end through the CLI: fit in a subprocess, then test/validate/predict that run in-process.

One small fit (synthetic data, one epoch) is shared by the tests of this module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import wandb_summary

from recframe import cli
from recframe.training import engine

pytestmark = pytest.mark.slow
TINY = ["dataset.n_users=150", "dataset.n_items=60", "trainer.max_epochs=2", "data.eval_batch_size=64"]
ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path = ROOT, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "recframe", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    out = run_cli("fit", *TINY, f"run.dir={runs}")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "test metrics of default" in out.stdout and "ndcg" in out.stdout
    (run_dir,) = (runs / "default").iterdir()
    return run_dir


def test_fit_writes_a_complete_run_directory(fitted):
    for name in ("config.yaml", "run.json", "metrics.json", "checkpoints/best.ckpt"):
        assert (fitted / name).is_file(), name
    record = json.loads((fitted / "run.json").read_text())
    assert record["status"] == "finished" and record["experiment"] == "default"
    assert record["command"].startswith("python -m recframe fit")
    assert record["environment"]["packages"]["torch"] and "commit" in record["git"]
    metrics = json.loads((fitted / "metrics.json").read_text())
    assert {"val/ndcg@10", "test/ndcg@10", "test/hr@10", "test/mrr@10", "test/acc@1"} <= set(metrics)
    assert 0 <= metrics["test/ndcg@10"] <= metrics["test/hr@10"] <= 1


def test_metrics_read_back_from_offline_wandb_run(fitted):
    record = json.loads((fitted / "run.json").read_text())
    summary = wandb_summary(record["wandb_dir"])
    metrics = json.loads((fitted / "metrics.json").read_text())
    for key in ("test/ndcg@10", "test/hr@10", "val/ndcg@10"):
        assert summary[key] == pytest.approx(metrics[key], abs=1e-6), key


def test_test_and_validate_commands_reproduce_the_run(fitted, capsys):
    metrics = json.loads((fitted / "metrics.json").read_text())
    for stage in ("test", "val"):
        for batch in ("7", "1024"):
            got = engine.evaluate(str(fitted), stage, [f"data.eval_batch_size={batch}"])
            assert got[f"{stage}/ndcg@10"] == pytest.approx(metrics[f"{stage}/ndcg@10"], abs=1e-6), (stage, batch)
    assert cli.main(["test", str(fitted / "checkpoints" / "best.ckpt")]) == 0
    assert "ndcg" in capsys.readouterr().out


def test_predict_writes_rankings_the_metrics_saw(fitted, tmp_path):
    out = tmp_path / "recs.csv"
    assert cli.main(["predict", str(fitted), "--top-k", "10", "--output", str(out)]) == 0
    recs = pd.read_csv(out)
    assert list(recs.columns) == ["user", "rank", "item", "score"]
    assert all(ranks == list(range(1, 11)) for ranks in recs.groupby("user")["rank"].apply(list))
    assert (recs.groupby("user")["score"].apply(lambda s: (np.diff(s.to_numpy()) <= 0).all())).all()
    # HR@10 recomputed from the CSV and the raw test targets equals the logged test/hr@10.
    _, _, data, _ = engine._restore(str(fitted), [])
    test = data.eval_sets["test"]
    raw_users = data.log_.users.decode(test.users)
    target_items = data.log_.items.decode(test.targets.padded(test.users)[:, 0])  # LOO: one target per user
    targets = dict(zip(raw_users.tolist(), target_items.tolist(), strict=True))
    hits = recs.groupby("user")["item"].apply(lambda items: targets[items.name] in set(items))
    metrics = json.loads((fitted / "metrics.json").read_text())
    assert len(hits) == len(test.users)
    assert hits.mean() == pytest.approx(metrics["test/hr@10"], abs=1e-6)


def test_list_and_help_are_fast_and_complete():
    out = run_cli("list")
    assert out.returncode == 0 and "default" in out.stdout and "synthetic" in out.stdout
    for command in ("fit", "validate", "test", "predict", "list"):
        assert run_cli(command, "--help").returncode == 0


def test_user_errors_exit_2_with_a_clear_line(capsys, tmp_path):
    assert cli.main(["fit", "no/such/experiment"]) == 2
    assert "unknown experiment 'no/such/experiment'" in capsys.readouterr().err
    assert cli.main(["fit", "backbone.dimm=3"]) == 2
    assert "known keys of 'backbone'" in capsys.readouterr().err
    assert cli.main(["test", str(tmp_path / "missing")]) == 2
    assert "neither a run directory nor a checkpoint" in capsys.readouterr().err
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    assert cli.main(["test", str(bad)]) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err


def test_checkpoint_from_another_dataset_is_refused(fitted, capsys):
    assert cli.main(["test", str(fitted), "dataset.n_items=80"]) == 2
    assert "was trained on" in capsys.readouterr().err


def test_predict_for_chosen_users_and_unknown_ids(fitted, tmp_path, capsys):
    out = tmp_path / "some.csv"
    assert cli.main(["predict", str(fitted), "--top-k", "3", "--output", str(out), "--users", "5,17"]) == 0
    recs = pd.read_csv(out)
    assert sorted(recs.user.unique().tolist()) == [5, 17] and len(recs) == 6
    assert cli.main(["predict", str(fitted), "--output", str(tmp_path / "x.csv"), "--users", "5,99999"]) == 2
    assert "unknown user id 99999" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()
