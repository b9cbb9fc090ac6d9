"""The benchmark harness (``benchmarks/``): its pure parts in-process, the tiny suite end to end.

No test creates RecBole's virtual environment or runs RecBole: the RecBole side is checked through the
config it would be given and the atomic files it would read.
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

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch):
    """Import benchmark modules by name (they are scripts in a folder, not a package)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import importlib

    return importlib.import_module


def test_fast_log_is_exact_and_covers_the_catalogue(bench) -> None:
    log = bench("scaling").fast_log(5_000, 300, seed=1)
    assert len(log) == 5_000
    assert set(np.unique(log.item)) == set(range(1, 301))
    starts = np.r_[True, log.user[1:] != log.user[:-1]]
    assert (log.timestamp[starts] == 0).all() and (np.diff(log.timestamp)[~starts[1:]] == 1).all()


def test_fit_slope(bench) -> None:
    fit_slope = bench("scaling").fit_slope
    x = [1e3, 1e4, 1e5]
    assert fit_slope(x, [3 * v**1.5 for v in x]) == pytest.approx(1.5)
    assert fit_slope([1e3], [2.0]) is None
    assert fit_slope(x, [None, 1.0, None]) is None


def test_recbole_config_translates_each_experiment(bench, tmp_path: Path) -> None:
    from recframe.experiments.config import load_config

    side = bench("recbole_side")
    kw = {"epochs": 3, "data_path": tmp_path, "checkpoint_dir": tmp_path, "gpu": False}

    sasrec = side.recbole_config(load_config("ml-100k/sasrec"), "SASRec", 1683, **kw)
    assert (sasrec["hidden_size"], sasrec["n_layers"], sasrec["n_heads"], sasrec["inner_size"]) == (64, 2, 1, 64)
    assert sasrec["hidden_dropout_prob"] == sasrec["attn_dropout_prob"] == 0.2
    assert sasrec["loss_type"] == "BPR" and sasrec["train_neg_sample_args"]["sample_num"] == 1  # BCE's nearest
    assert sasrec["eval_args"]["split"] == {"LS": "valid_and_test"} and sasrec["eval_args"]["order"] == "TO"
    assert (sasrec["MAX_ITEM_LIST_LENGTH"], sasrec["train_batch_size"], sasrec["eval_batch_size"]) == (50, 256, 1024)

    gru = side.recbole_config(load_config("beauty/gru4rec"), "GRU4Rec", 12102, **kw)
    assert (gru["embedding_size"], gru["hidden_size"], gru["dropout_prob"]) == (64, 128, 0.3)
    assert gru["loss_type"] == "CE" and gru["train_neg_sample_args"] is None

    bpr = side.recbole_config(load_config("ml-100k/mf"), "BPR", 1683, **kw)
    assert bpr["benchmark_filename"] == ["train", "valid", "test"]  # recframe's own 8:1:1 draw
    assert bpr["eval_batch_size"] == 1024 * 1683 and bpr["train_batch_size"] == 2048

    with pytest.raises(ValueError, match="no RecBole counterpart"):
        side.recbole_config(load_config("ml-100k/gpt2"), "SASRec", 1683, **kw)


def test_export_atomic_keeps_recframe_split(bench, tmp_path: Path) -> None:
    from recframe.data import synthetic
    from recframe.data.datamodule import RecDataModule
    from recframe.data.splits import TEST

    data = RecDataModule(synthetic(n_users=30, n_items=20, seed=3), sequential=True, max_len=8)
    folder = bench("recbole_side").export_atomic(data, tmp_path, "tiny")
    inter = pd.read_csv(folder / "tiny.inter", sep="\t")
    assert list(inter.columns) == ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]
    assert len(inter) == len(data.log_)
    last = inter.groupby("user_id:token")["timestamp:float"].transform("max") == inter["timestamp:float"]
    assert (last.to_numpy() == (data.stage == TEST)).all()  # RecBole's LS split by position = recframe's LOO
    parts = [pd.read_csv(folder / f"tiny.{s}.inter", sep="\t") for s in ("train", "valid", "test")]
    assert [len(p) for p in parts] == [int((data.stage == code).sum()) for code in (0, 1, 2)]


@pytest.mark.slow
def test_tiny_suite_writes_results(tmp_path: Path) -> None:
    """``run.py --suite tiny --only floor,scaling`` end to end (two scaling points: about 30 s idle)."""
    command = [sys.executable, str(BENCHMARKS / "run.py"), "--suite", "tiny", "--only", "floor,scaling"]
    command += ["--items", "100", "--out", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]

    [path] = tmp_path.glob("tiny-*.json")
    result = json.loads(path.read_text())
    assert {"header", "settings", "floor", "scaling"} <= set(result) and "recbole" not in result
    header = result["header"]
    assert header["cpu"] and header["cores"] >= 1 and header["torch_threads"] == [1]
    assert header["recframe_env"]["torch"] and header["recbole_env"] is None

    [row] = result["floor"]["rows"]
    for key in ("train_overhead_ratio", "eval_over_floor_with_forward", "eval_over_matmul_mask_topk"):
        assert row[key] > 0

    scaling = result["scaling"]
    assert [(p["interactions"], p["requested_items"]) for p in scaling["points"]] == [(2_000, 100), (6_000, 100)]
    for point in scaling["points"]:
        assert "error" not in point, point
        for key in ("prepare_s", "train_epoch_s", "eval_s", "peak_rss_mib", "eval_scores_block_mib"):
            assert point[key] > 0
    assert isinstance(scaling["slopes"]["interactions"]["train_epoch_s"], float)
    assert scaling["slopes"]["items"]["eval_s"] is None  # one catalogue size: no slope
    assert all(Path(p).is_file() and Path(p).suffix == ".png" for p in scaling["plots"])

    md = path.with_suffix(".md").read_text()
    assert "hardware floor" in md and "## Scaling" in md and "| interactions |" in md


def test_same_time_worker_trains_for_its_budget_and_reports_test_metrics(tmp_path: Path) -> None:
    """``recframe_worker.py budget``: the recframe half of the same-training-time comparison."""
    spec = {
        "experiment": "default",
        "overrides": ["dataset.n_users=80", "dataset.n_items=40", "trainer.enable_progress_bar=false"],
        "exclude_seen": False,
        "budget_s": 3.0,
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "recframe_worker.py"), "budget", str(path)],
        env=env,
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["budget_s"] == 3.0 and out["trained_s"] >= 3.0
    assert out["steps"] > 0 and out["epochs"] > 1  # epochs of this tiny world take well under a second
    assert 0 <= out["metrics"]["test/ndcg@10"] <= out["metrics"]["test/hr@10"] <= 1


def test_report_shows_the_same_time_comparison(bench) -> None:
    report = bench("report")
    METRICS = ("ndcg@10", "recall@10", "hit@10")
    row = {
        "label": "SASRec · X",
        "runs": {"recframe": [], "recbole": []},
        "exclude_seen_compared": False,
        "eval_users": {"recframe": 9, "recbole": 9},
        "recframe_work": None,
        "recbole_work": None,
        "recframe_same_time": {"recbole_train_s": 300.0, "budget_s": 120.0, "epochs": 25.0},
        **{f"{side}_{m}": v for side, v in (("recframe", 0.2), ("recbole", 0.1)) for m in METRICS},
        **{f"{side}_{k}": 1.0 for side in ("recframe", "recbole", "ratio") for k in report.COMPARED},
    }
    row["recframe_same_time"].update({m: 0.3 for m in METRICS})
    header = {
        "suite": "cpu", "date": "d", "cpu": "c", "cores": 2, "memory_gib": 1, "platform": "p",
        "OMP_NUM_THREADS": "1", "torch_threads": [1], "recframe_env": {}, "recbole_env": {},
    }  # fmt: skip
    settings = {"command": "run.py", "epochs": 3, "repeats": 1, "runs": 1, "notes": []}
    result = {
        "header": header,
        "settings": settings,
        "recbole": {"rows": [row], "notes": [], "epochs": 3, "same_time_cap": 120.0},
    }
    md = report.markdown(result)
    assert "Same training time" in md
    assert "| SASRec · X | 300 | 120 | 25 | – / – | 0.3 / 0.1 | 0.3 / 0.1 | 0.3 / 0.1 |" in md

    # Steps on both sides: recframe's from its run, RecBole's from its batches per epoch × epochs.
    row["recframe_same_time"]["steps"] = 1504
    row["recbole_work"] = {"examples": 97171, "batches": 380, "labelled_positions": 97171, "encoded_positions": 1}
    md = report.markdown(result)
    assert "| SASRec · X | 300 | 120 | 25 | 1,504 / 1,140 | 0.3 / 0.1 |" in md

    # A same-time run with its own overrides names them in its row.
    row["recframe_same_time"]["overrides"] = ["data.batch_size=64"]
    md = report.markdown(result)
    assert "| SASRec · X (recframe `data.batch_size=64`) | 300 | 120 | 25 |" in md


def test_kernel_microbenchmarks_time_each_alternative(bench) -> None:
    kernels = bench("kernels")
    adamw = kernels.adamw()
    assert set(adamw) == {"default (per tensor)", "foreach", "fused"} and min(adamw.values()) > 0
    ce = kernels.softmax_ce(positions=40, items=300, dim=8)
    assert all(v > 0 for v in ce.values()) and len(ce) == 4


def test_a_bad_same_time_override_fails_before_recbole_is_set_up(bench, monkeypatch) -> None:
    """``--same-time-set`` keys are validated against each row's config before any work starts."""
    import argparse

    from recframe.experiments.config import ConfigError

    run = bench("run")

    def no_venv(*_args, **_kwargs):
        raise AssertionError("RecBole's environment was set up before the overrides were checked")

    monkeypatch.setattr(run.recbole_side, "ensure_venv", no_venv)
    args = argparse.Namespace(same_time_set=["data.batchsize=64"], recbole_venv=None)
    suite = run.SUITES["tiny"]
    with pytest.raises(ConfigError, match="batchsize"):
        run.run_recbole(suite, suite.rows[:1], args)
    args.same_time_set = ["data.batch_size=64"]  # a valid key gets as far as setting up RecBole
    with pytest.raises(AssertionError, match="environment was set up"):
        run.run_recbole(suite, suite.rows[:1], args)
