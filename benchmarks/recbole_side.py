"""recframe against RecBole 1.2.1, side by side: same data, split, hyper-parameters and epochs.

For each row (a recframe experiment and the RecBole model that matches it) this module loads the
experiment's data through recframe (so filters and id order are recframe's), writes it as RecBole
atomic files, translates the experiment's hyper-parameters into a RecBole config, and runs both
frameworks in their own processes: ``recbole_worker.py`` under RecBole's virtual environment and
``recframe_worker.py`` under recframe's. Each reports median seconds per training epoch, seconds of
a full-catalogue test pass, peak RSS, test metrics and the work of one epoch.

RecBole gets a virtual environment of its own (:func:`ensure_venv`, default
``benchmarks/.recbole-venv``): it pins numpy < 2, scipy < 1.13 and pandas 2.2, which recframe's
environment does not, and it is installed with ``--no-deps`` because its declared dependencies
include ray (used only for hyper-parameter tuning).

The protocol differences that remain are listed by :func:`protocol_notes`; the report prints them.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers import python_command, run_worker

HERE = Path(__file__).resolve().parent
DEFAULT_VENV = HERE / ".recbole-venv"
TORCH = "torch==2.13.0"  # exactly the version with a local CPU wheel here; any other pulls a CUDA build
RECBOLE = "recbole==1.2.1"
# What importing recbole.{config,data,trainer,utils} and running BPR / GRU4Rec / SASRec with full-ranking
# evaluation needs (found by installing recbole --no-deps and adding until it ran). Not needed: ray and
# hyperopt (tuning), thop (FLOPs count in run_recbole), plotly (tuning plots), psutil and tabulate.
PINS = (
    "numpy<2",
    "scipy<1.13",
    "pandas>=2.2,<2.3",
    "scikit-learn",  # recbole.evaluator imports sklearn.metrics at module level
    "colorlog==4.7.2",
    "colorama==0.4.4",
    "pyyaml",
    "tqdm",
    "texttable",
    "tensorboard",  # recbole.utils imports torch.utils.tensorboard.SummaryWriter at module level
)
METRICS = ("ndcg@10", "recall@10", "hit@10")
RECFRAME_METRIC = {"ndcg@10": "test/ndcg@10", "recall@10": "test/recall@10", "hit@10": "test/hr@10"}


@dataclass(frozen=True)
class Row:
    """One comparison: a recframe experiment (with overrides) and the RecBole model that matches it."""

    label: str
    experiment: str
    model: str  # RecBole model class name
    overrides: tuple[str, ...] = ()


def ensure_venv(path: Path = DEFAULT_VENV, echo=print) -> Path:
    """RecBole's virtual environment at ``path``, created or completed if needed; returns its python.

    A stamp file records the requirements installed; an environment with the same stamp is reused.
    """
    python = path / "bin" / "python"
    stamp = path / ".benchmark-requirements"
    wanted = "\n".join([TORCH, RECBOLE, *PINS]) + "\n"
    if python.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return python
    echo(f"creating RecBole environment in {path} (torch, recbole --no-deps, {len(PINS)} pins; about 2 minutes)")
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, TORCH], check=True)  # first and pinned, so nothing below can pull another build
    subprocess.run([*pip, "--no-deps", RECBOLE], check=True)
    subprocess.run([*pip, TORCH, *PINS], check=True)
    stamp.write_text(wanted)
    return python


def recbole_versions(python: Path) -> dict[str, str]:
    """Package versions of RecBole's environment."""
    out = subprocess.run(python_command(python, "recbole_worker.py", "--versions"), capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr.strip()[-500:]}


def export_atomic(data, folder: Path, name: str) -> Path:
    """Write a recframe DataModule's log as RecBole atomic files ``folder/name/name[.train|.valid|.test].inter``.

    Ids are recframe's dense ids (as tokens). The timestamp is the event's position in its user's
    history in recframe's order (time, ties by file order): RecBole keeps float fields as float32,
    which would blur ML-100K's Unix times to 64 s and break ties its own way, while positions keep
    both frameworks' leave-one-out splits identical. The ``.train/.valid/.test`` files hold
    recframe's own split, for RecBole's ``benchmark_filename`` (used for non-sequential models).
    """
    import pandas as pd

    from recframe.data.splits import TEST, TRAIN, VALID, position_in_user

    log = data.log_
    position, _ = position_in_user(log.user)
    table = pd.DataFrame(
        {
            "user_id:token": log.user,
            "item_id:token": log.item,
            "rating:float": log.rating,
            "timestamp:float": position.astype("float64"),
        }
    )
    out = folder / name
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"{name}.inter", sep="\t", index=False)
    for code, suffix in ((TRAIN, "train"), (VALID, "valid"), (TEST, "test")):
        table[data.stage == code].to_csv(out / f"{name}.{suffix}.inter", sep="\t", index=False)
    return out


def _model_config(model: str, backbone: dict[str, Any]) -> dict[str, Any]:
    """RecBole model keys from recframe's backbone section (the one place the names are translated)."""
    name = backbone["name"]
    if model == "BPR" and name == "mf":
        return {"embedding_size": backbone["dim"]}
    if model == "GRU4Rec" and name == "rnn" and backbone["cell"] == "gru":
        return {
            "embedding_size": backbone["dim"],
            "hidden_size": backbone["hidden"] or backbone["dim"],
            "num_layers": backbone["layers"],
            "dropout_prob": backbone["dropout"],
        }
    if model == "SASRec" and name == "sasrec":
        return {
            "hidden_size": backbone["dim"],
            "n_layers": backbone["layers"],
            "n_heads": backbone["heads"],
            "inner_size": backbone["inner"] or backbone["dim"],
            "hidden_dropout_prob": backbone["dropout"],
            "attn_dropout_prob": backbone["dropout"],
            "hidden_act": "relu",
            "layer_norm_eps": 1e-8,
        }
    raise ValueError(f"no RecBole counterpart for backbone {backbone} as {model!r}; known: BPR/mf, GRU4Rec/rnn, SASRec")


def _loss_config(loss: dict[str, Any]) -> dict[str, Any]:
    """RecBole has CE and BPR for sequential models; recframe's BCE maps to BPR (one sampled negative each)."""
    if loss["name"] == "ce":
        return {"loss_type": "CE", "train_neg_sample_args": None}
    if loss["name"] in ("bpr", "bce"):
        negatives = {"distribution": "uniform", "sample_num": loss["negatives"], "alpha": 1.0, "dynamic": False}
        return {"loss_type": "BPR", "train_neg_sample_args": {**negatives, "candidate_num": 0}}
    raise ValueError(f"no RecBole counterpart for loss {loss['name']!r}; known: ['bce', 'bpr', 'ce']")


def recbole_config(
    cfg: dict[str, Any], model: str, n_items: int, *, epochs: int, data_path: Path, checkpoint_dir: Path, gpu: bool
) -> dict[str, Any]:
    """RecBole's config dict for recframe config ``cfg`` (resolved), model ``model`` and ``epochs`` epochs."""
    data, module = cfg["data"], cfg["module"]
    sequential = model != "BPR"
    if sequential and data["split"] != "leave_one_out":
        raise ValueError(f"sequential rows need split leave_one_out, got {data['split']!r}")
    users_per_eval_batch = data["eval_batch_size"]
    config = {
        "data_path": str(data_path),
        "checkpoint_dir": str(checkpoint_dir),
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp",
        "MAX_ITEM_LIST_LENGTH": data["max_len"],
        "epochs": epochs,
        "eval_step": epochs,  # no effect: fit() gets no validation data
        "stopping_step": epochs + 1,
        "train_batch_size": data["batch_size"],
        # Sequential eval batches count users; general ones count user-item pairs (users x items).
        "eval_batch_size": users_per_eval_batch if sequential else users_per_eval_batch * n_items,
        "learner": "adam",  # recframe's AdamW with weight_decay 0 is Adam
        "learning_rate": module["lr"],
        "weight_decay": module["weight_decay"],
        "metrics": ["Recall", "NDCG", "Hit"],
        "topk": [10],
        "valid_metric": "NDCG@10",
        "show_progress": False,
        "seed": cfg["run"]["seed"],
        "reproducibility": True,
        "worker": 0,
        "use_gpu": gpu,
        "state": "WARNING",
        "shuffle": True,
    }
    if sequential:
        config["eval_args"] = {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": "full"}
    else:  # recframe's own split, whatever its protocol (ratio or leave-one-out)
        config["eval_args"] = {"split": {"RS": [0.8, 0.1, 0.1]}, "order": "RO", "group_by": "user", "mode": "full"}
        config["benchmark_filename"] = ["train", "valid", "test"]
    return config | _model_config(model, cfg["backbone"]) | _loss_config(cfg["loss"])


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _median(results: list[dict], key: str) -> float | None:
    values = [r[key] for r in results if key in r]
    return statistics.median(values) if values else None


def compare_row(
    row: Row,
    *,
    python: Path,
    scratch: Path,
    epochs: int,
    eval_repeats: int,
    runs: int,
    gpu: bool,
    compile: bool,
    as_shipped: bool = False,
    timeout: float | None = None,
    same_time_cap: float = 0.0,
    same_time_overrides: tuple[str, ...] = (),
    echo=print,
) -> dict[str, Any]:
    """Both frameworks on one row, ``runs`` processes each; medians, ratios recframe / RecBole, metrics.

    With ``same_time_cap > 0`` recframe also trains from scratch for as long as RecBole's training
    took (its epochs summed, capped at ``same_time_cap`` seconds) and reports the test metrics it
    reaches: the comparison that shows a faster epoch is not bought with worse models.
    ``same_time_overrides`` change recframe's config for that run only (e.g. a smaller batch, since
    RecBole's sequential batch counts prefixes and recframe's counts users); they are recorded.

    ``as_shipped`` leaves on the autograd anomaly detection that importing RecBole's models turns on
    (see ``recbole_worker.py``); by default the RecBole worker turns it off.
    """
    from recframe.experiments.config import load_config
    from recframe.training import engine

    cfg = load_config(row.experiment, list(row.overrides))
    data = engine.build_data(cfg)
    sequential = data.sequential
    tag = hashlib.sha1(json.dumps(row.overrides).encode()).hexdigest()[:6]
    name = f"{row.experiment.replace('/', '-')}-{tag}"  # one folder per row, reused across runs
    export_atomic(data, scratch / "atomic", name)
    config = recbole_config(
        cfg,
        row.model,
        data.spec.n_items,
        epochs=epochs,
        data_path=scratch / "atomic",
        checkpoint_dir=scratch / "saved",
        gpu=gpu,
    )
    work_dir = scratch / "recbole-cwd"
    work_dir.mkdir(parents=True, exist_ok=True)
    rb_spec = scratch / f"{name}.recbole.json"
    rb_spec.write_text(
        json.dumps(
            {
                "model": row.model,
                "dataset": name,
                "config": config,
                "eval_repeats": eval_repeats,
                "anomaly_detection": as_shipped,
            }
        )
    )
    rf_spec = scratch / f"{name}.recframe.json"
    rf_spec.write_text(
        json.dumps(
            {
                "experiment": row.experiment,
                "overrides": list(row.overrides),
                "epochs": epochs,
                "eval_repeats": eval_repeats,
                # RecBole's full ranking masks seen items for general models only; match it.
                "exclude_seen": (not sequential) and cfg["module"]["exclude_seen"],
                "compile": compile,
            }
        )
    )
    recbole, recframe = [], []
    for run in range(runs):
        echo(f"  {row.label}: RecBole {row.model} (run {run + 1}/{runs})")
        recbole.append(
            run_worker(python_command(python, "recbole_worker.py", str(rb_spec)), cwd=work_dir, timeout=timeout)
        )
        echo(f"  {row.label}: recframe {row.experiment} (run {run + 1}/{runs})")
        recframe.append(
            run_worker(python_command(sys.executable, "recframe_worker.py", "side", str(rf_spec)), timeout=timeout)
        )
    ok_rb = [r for r in recbole if "error" not in r]
    ok_rf = [r for r in recframe if "error" not in r]
    same_time = None
    recbole_train_s = sum(ok_rb[-1]["epoch_s"]) if ok_rb else None
    if same_time_cap > 0 and recbole_train_s is not None:
        budget_s = min(same_time_cap, recbole_train_s)
        spec = json.loads(rf_spec.read_text())
        spec |= {"budget_s": budget_s, "overrides": [*spec["overrides"], *same_time_overrides]}
        budget_spec = scratch / f"{name}.recframe-budget.json"
        budget_spec.write_text(json.dumps(spec))
        echo(f"  {row.label}: recframe {row.experiment} for RecBole's training time ({budget_s:.3g} s)")
        same_time = run_worker(
            python_command(sys.executable, "recframe_worker.py", "budget", str(budget_spec)), timeout=timeout
        )
    summary: dict[str, Any] = {"label": row.label, "experiment": row.experiment, "model": row.model}
    for key in ("epoch_s_median", "eval_s_median", "peak_rss_mib", "prepare_s"):
        short = key.removesuffix("_median")
        summary[f"recframe_{short}"] = _median(ok_rf, key)
        summary[f"recbole_{short}"] = _median(ok_rb, key)
        summary[f"ratio_{short}"] = _ratio(summary[f"recframe_{short}"], summary[f"recbole_{short}"])
    for metric in METRICS:
        summary[f"recframe_{metric}"] = ok_rf[-1]["metrics"].get(RECFRAME_METRIC[metric]) if ok_rf else None
        summary[f"recbole_{metric}"] = ok_rb[-1]["metrics"].get(metric) if ok_rb else None
    if ok_rf and "own_protocol" in ok_rf[-1]:
        own = ok_rf[-1]["own_protocol"]
        summary["recframe_own_protocol"] = {
            "exclude_seen": own["exclude_seen"],
            "eval_s": own["eval_s"],
            **{m: own["metrics"].get(RECFRAME_METRIC[m]) for m in METRICS},
        }
    if same_time is not None:
        summary["recframe_same_time"] = {
            "budget_s": same_time.get("budget_s"),
            "recbole_train_s": recbole_train_s,
            "epochs": same_time.get("epochs"),
            "steps": same_time.get("steps"),
            "overrides": list(same_time_overrides),
            "error": same_time.get("error"),
            **{m: (same_time.get("metrics") or {}).get(RECFRAME_METRIC[m]) for m in METRICS},
        }
    summary["recframe_work"] = ok_rf[-1]["work"] if ok_rf else None
    summary["recbole_work"] = ok_rb[-1]["work"] if ok_rb else None
    summary["data"] = {
        "recframe": ok_rf[-1]["data"] if ok_rf else None,
        "recbole": ok_rb[-1]["data"] if ok_rb else None,
    }
    summary["eval_users"] = {
        "recframe": ok_rf[-1]["eval_users"] if ok_rf else None,
        "recbole": ok_rb[-1]["eval_users"] if ok_rb else None,
    }
    summary["exclude_seen_compared"] = (not sequential) and cfg["module"]["exclude_seen"]
    summary["recbole_config"] = config
    summary["runs"] = {"recframe": recframe, "recbole": recbole}
    return summary


def protocol_notes(gpu: bool, as_shipped: bool) -> list[str]:
    """What differs between the two sides even when configured alike; the report prints these."""
    notes = [
        (
            "RecBole as shipped: importing recbole.model (its sine.py) turns on torch.autograd anomaly detection "
            "for the whole process, and it stayed on for these RecBole runs."
            if as_shipped
            else "RecBole's autograd anomaly detection, which importing recbole.model (its sine.py) turns on for the "
            "whole process, was switched off in the RecBole worker after the import (GRU4Rec on ML-100K: 80 s "
            "instead of 185 s per epoch, same metrics); run.py --recbole-as-shipped keeps it on."
        ),
        "Same data and split: recframe loads and filters the data and exports it to RecBole atomic files; "
        "leave-one-out rows use RecBole's LS/TO split on per-user positions (identical to recframe's), "
        "non-sequential rows use RecBole's benchmark_filename with recframe's own train/valid/test files "
        "(so the random 8:1:1 split of ML-100K BPR-MF is the same draw on both sides).",
        "Work per epoch differs for sequential models: RecBole trains one example per prefix of every "
        "training sequence (each training interaction after a user's first is a target; the encoder re-reads "
        "up to max_len items for each, and the loss is taken at the last position only), while recframe "
        "trains one window per user (train_windows: last) or windows tiling the history (train_windows: all) "
        "with a loss at every position. The tables give examples, optimiser steps, loss terms and encoded "
        "positions per epoch for both.",
        "Seen items: RecBole's full ranking masks a user's earlier items for general models (BPR) but not "
        "for sequential ones. recframe masks them (exclude_seen: true); the compared eval time and metrics of "
        "sequential rows use exclude_seen=false to match RecBole, and recframe's own (masked) protocol is "
        "reported beside them.",
        "SASRec loss: recframe's experiments use BCE with one sampled negative per position; RecBole's SASRec "
        "offers only CE or BPR, so those rows run RecBole with BPR and one uniform negative per example.",
        "SASRec layers: recframe follows the authors' SASRec (normalised-query residuals, no attention output "
        "projection, feed-forward width = dim, ReLU); RecBole's SASRec is a post-norm BERT-style block with an "
        "output projection. Width, layers, heads, inner size (= dim), dropout, ReLU and LayerNorm eps are "
        "set equal.",
        "Evaluation batches: RecBole's general-model full ranking batches eval_batch_size // n_items users, so "
        "its eval_batch_size is set to recframe's users per batch x n_items; sequential rows use the same "
        "users per batch directly.",
        "Optimiser: recframe AdamW and RecBole Adam, both with weight_decay 0 (identical updates).",
        "Metrics after a few epochs are far from converged and differ between the frameworks; they are "
        "reported to show both sides did comparable work, not as results.",
    ]
    if gpu:
        notes.append("GPU suite: recframe runs bf16-mixed autocast; RecBole runs fp32 (enable_amp off).")
    return notes
