"""``validate`` / ``test`` write their metrics with ``--output``, and under DDP report them once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recframe.training import engine

SMALL = ["dataset.n_users=120", "dataset.n_items=50", "logger.name=none", "trainer.enable_progress_bar=false"]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    from recframe.training.fitting import fit

    root = tmp_path_factory.mktemp("cli-runs")
    run, _ = fit("default", [*SMALL, "trainer.max_epochs=1", f"run.dir={root}"], echo=lambda *a, **k: None)
    return run.dir


def test_test_writes_the_metrics_it_prints(small_run, tmp_path):
    from recframe.cli import main

    out = tmp_path / "metrics.json"
    assert main(["test", str(small_run), "--output", str(out)]) == 0
    assert json.loads(out.read_text()) == pytest.approx(engine.evaluate(str(small_run), "test"), nan_ok=True)


@pytest.mark.slow
def test_ddp_test_prints_one_table_and_no_sync_dist_advice(small_run, tmp_path):
    out = tmp_path / "ddp.json"
    command = [sys.executable, "-m", "recframe", "test", str(small_run), "--output", str(out),
               "trainer.strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("test metrics of") == 1, done.stdout
    assert "sync_dist" not in done.stdout + done.stderr
    single = engine.evaluate(str(small_run), "test")
    assert json.loads(out.read_text()) == pytest.approx(single, nan_ok=True)
