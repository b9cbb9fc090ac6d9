"""Runs are reproducible: same seed same metrics; evaluation independent of batch size, workers and
process count; killed or interrupted runs resume to the metrics of an uninterrupted run.

Kill/interrupt tests drive the real CLI in subprocesses (the way a user's run dies) on a small
synthetic world with many short batches, so the signal lands mid-epoch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from recframe.experiments.config import load_config
from recframe.training import engine, fitting

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
WORLD = [
    "dataset.n_users=500",
    "dataset.n_items=60",
    "data.batch_size=8",
    "trainer.max_epochs=3",
    "run.patience=null",
    "logger.name=csv",
    "trainer.enable_progress_bar=false",
]


def cli(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "recframe", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def only_run(root: Path) -> Path:
    (run,) = (root / "default").iterdir()
    return run


def final_test_metrics(run: Path) -> dict[str, float]:
    return {k: v for k, v in json.loads((run / "metrics.json").read_text()).items() if k.startswith("test/")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted run of the world."""
    root = tmp_path_factory.mktemp("reference")
    proc = cli("fit", *WORLD, f"run.dir={root}")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out.decode()[-3000:]
    return only_run(root)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, f"run ended before {path} appeared: {proc.stdout.read().decode()[-2000:]}"
        assert time.time() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def test_same_seed_same_metrics(reference, tmp_path):
    proc = cli("fit", *WORLD, f"run.dir={tmp_path}")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out.decode()[-2000:]
    assert final_test_metrics(only_run(tmp_path)) == final_test_metrics(reference)


def test_sigkill_mid_epoch_then_resume_matches(reference, tmp_path):
    proc = cli("fit", *WORLD, f"run.dir={tmp_path}")
    run = None
    while run is None:
        runs = list((tmp_path / "default").glob("*")) if (tmp_path / "default").exists() else []
        run = runs[0] if runs else None
        assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
        time.sleep(0.05)
    wait_for(run / "checkpoints" / "last.ckpt", proc)  # epoch 0 done
    time.sleep(0.5)  # well inside epoch 1
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert json.loads((run / "run.json").read_text())["status"] == "running"  # nothing claims it finished
    assert not (run / "metrics.json").exists()
    resumed = cli("fit", "default", *WORLD, f"run.dir={tmp_path}", "--resume", str(run))
    out, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, out.decode()[-3000:]
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "finished" and len(record["resumed"]) == 1
    assert final_test_metrics(run) == final_test_metrics(reference)


def test_sigint_saves_a_resumable_checkpoint_mid_epoch(reference, tmp_path):
    proc = cli("fit", *WORLD, f"run.dir={tmp_path}")
    while not (tmp_path / "default").exists() or not any((tmp_path / "default").iterdir()):
        assert proc.poll() is None
        time.sleep(0.05)
    run = only_run(tmp_path)
    wait_for(run / "checkpoints" / "last.ckpt", proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out.decode()[-2000:]
    assert "resume with: python -m recframe fit --resume" in out.decode()
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "interrupted" and record["checkpoint"] == "checkpoints/last.ckpt"
    # the checkpoint holds a state strictly inside epoch 1 or later, not an epoch boundary
    saved = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    progress = saved["loops"]["fit_loop"]["epoch_loop.batch_progress"]
    per_epoch = len(engine.build_data(load_config("default", WORLD)).train_dataloader())
    assert saved["epoch"] >= 1 and 0 < progress["current"]["processed"] < per_epoch, (saved["epoch"], progress)
    assert not progress["is_last_batch"]
    resumed = cli("fit", "--resume", str(run))  # the run's own config, no experiment needed
    out, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, out.decode()[-3000:]
    assert final_test_metrics(run) == final_test_metrics(reference)


def test_last_checkpoint_is_the_latest_epoch_even_without_improvement(tmp_path):
    """last.ckpt (what --resume reads) follows every epoch, not only the improving ones.

    With lr 0 the validation metric never improves after epoch 0, so Lightning's own save_last
    copy would stay at epoch 0 and a resumed run would redo every epoch since.
    """
    run, _ = fitting.fit("default", [*WORLD, "module.lr=0.0", f"run.dir={tmp_path}"], echo=lambda *a: None)
    last = torch.load(run.checkpoints / "last.ckpt", map_location="cpu", weights_only=False)
    best = torch.load(run.checkpoints / "best.ckpt", map_location="cpu", weights_only=False)
    assert (last["epoch"], best["epoch"]) == (2, 0)


def test_resume_refuses_a_different_config_or_a_finished_run(reference, tmp_path):
    with pytest.raises(ValueError, match="already finished"):
        fitting.fit("default", WORLD, resume=str(reference))
    record = json.loads((reference / "run.json").read_text())
    (reference / "run.json").write_text(json.dumps({**record, "status": "interrupted"}))
    try:
        with pytest.raises(ValueError, match=r"config differs .*backbone\.dim"):
            fitting.fit("default", [*WORLD, "backbone.dim=32"], resume=str(reference))
    finally:
        (reference / "run.json").write_text(json.dumps(record))


@pytest.mark.parametrize("override", ["data.eval_batch_size=1", "data.eval_batch_size=7", "data.num_workers=2"])
def test_evaluation_independent_of_batch_size_and_workers(reference, override):
    got = engine.evaluate(str(reference), "test", [override])
    assert {k: got[k] for k in final_test_metrics(reference)} == final_test_metrics(reference)


def test_ddp_two_processes_equal_one(tmp_path):
    """2-process DDP training; its test metrics (all keys, fairness included) equal one process's."""
    proc = cli(
        "fit",
        "dataset.n_users=151",  # odd: ranks get 76 and 75 users, nothing padded or dropped
        "dataset.n_items=60",
        "trainer.max_epochs=1",
        "trainer.strategy=ddp",
        "trainer.devices=2",
        "trainer.accelerator=cpu",
        "logger.name=none",
        "trainer.enable_progress_bar=false",
        f"run.dir={tmp_path}",
    )
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out.decode()[-3000:]
    run = only_run(tmp_path)
    assert json.loads((run / "run.json").read_text())["world_size"] == 2
    ddp = final_test_metrics(run)
    single = engine.evaluate(str(run), "test", ["trainer.strategy=auto", "trainer.devices=1"])
    assert len(ddp) > 100 and any(k.startswith("test/fair/") for k in ddp)
    assert all(single[k] == v or (v != v and single[k] != single[k]) for k, v in ddp.items())
    per_user = pd.read_csv(run / "test_per_user.csv.gz")
    assert len(per_user) == per_user.user.nunique() == 151
