"""recframe's side of the benchmarks, one process per measurement; prints one JSON line.

``side``: the recframe half of a row of the RecBole comparison: train an experiment for a fixed
number of epochs (no validation, no early stopping, no logger, no checkpoint), time each epoch
with ``floor.EpochTimer``, then time full-catalogue test passes and read their metrics.
``budget``: train from scratch for a wall-time budget (RecBole's training time), then test once.
``floor``: ``floor.measure`` for each given experiment (times only, so the rows share a process).

Run by ``run.py``: ``python benchmarks/recframe_worker.py side|budget|floor SPEC.json``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from floor import ACCURACY_ONLY, EpochTimer, measure, quiet
from workers import peak_rss_mib

from recframe.experiments.config import load_config
from recframe.training import engine


class CudaSync(pl.Callback):
    """Waits for the GPU at epoch edges, so the EpochTimer after it times finished work."""

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        torch.cuda.synchronize()

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        torch.cuda.synchronize()


def workload(data) -> dict[str, int]:
    """What one training epoch processes: examples, batches, loss terms, sequence positions encoded."""
    dataset = data.train_dataset()
    # A window of L items has L - 1 labelled inputs; a (user, item) pair is one.
    positions = int((dataset.lengths - 1).sum()) if data.sequential else len(dataset)
    return {
        "examples": len(dataset),
        "batches": len(data.train_dataloader()),
        "labelled_positions": positions,
        "encoded_positions": positions,
    }


def _setup(spec: dict[str, Any], *overrides: str) -> tuple[dict[str, Any], Any, Any, float]:
    """Config (accuracy metrics only, no logger, no early stopping), seeded data and module of a
    spec, and the seconds the data took to prepare; the backbone compiled when ``spec['compile']``."""
    cfg = load_config(
        spec["experiment"],
        [*spec["overrides"], *ACCURACY_ONLY, "logger.name=none", "run.patience=null", *overrides],
    )
    pl.seed_everything(cfg["run"]["seed"], workers=True, verbose=False)
    start = time.perf_counter()
    data = engine.build_data(cfg)
    prepare_s = time.perf_counter() - start
    module = engine.build_module(cfg, data, spec["experiment"])
    if spec.get("compile"):
        module.backbone.compile()  # in place: forward, and score's call of it, run compiled
    return cfg, data, module, prepare_s


def _tester(cfg: dict[str, Any]) -> pl.Trainer:
    """A quiet Trainer for test passes (no logger, no checkpoints)."""
    return pl.Trainer(**quiet(cfg)["trainer"], logger=False, enable_checkpointing=False, use_distributed_sampler=False)


def side(spec: dict[str, Any]) -> dict[str, Any]:
    """Train ``spec['experiment']`` for ``spec['epochs']`` epochs, then time ``spec['eval_repeats']`` test passes.

    The test passes rank the whole catalogue with ``exclude_seen = spec['exclude_seen']`` (the
    protocol matched to RecBole), then once more with the experiment's own setting when it differs.
    """
    epochs = spec["epochs"]
    cfg, data, module, prepare_s = _setup(spec, f"trainer.max_epochs={epochs}")
    cuda = cfg["trainer"].get("accelerator") in ("gpu", "cuda")
    timer = EpochTimer()
    trainer = pl.Trainer(
        **quiet(cfg, max_epochs=epochs, limit_val_batches=0)["trainer"],
        logger=False,
        enable_checkpointing=False,
        callbacks=[CudaSync(), timer] if cuda else [timer],
        use_distributed_sampler=False,
    )
    trainer.fit(module, datamodule=data)

    tester = _tester(cfg)

    def test_passes(exclude_seen: bool, repeats: int) -> tuple[list[float], dict[str, float]]:
        module.exclude_seen = exclude_seen
        seconds, metrics = [], {}
        for _ in range(repeats):
            begin = time.perf_counter()
            metrics = tester.test(module, datamodule=data, verbose=False)[0]
            if cuda:
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - begin)
        return seconds, {k: float(v) for k, v in metrics.items()}

    own_exclude = cfg["module"]["exclude_seen"]
    eval_s, metrics = test_passes(spec["exclude_seen"], spec["eval_repeats"])
    out = {
        "framework": "recframe",
        "epoch_s": timer.seconds,
        "epoch_s_median": statistics.median(timer.seconds),
        "eval_s": eval_s,
        "eval_s_median": statistics.median(eval_s),
        "exclude_seen": spec["exclude_seen"],
        "prepare_s": prepare_s,
        "metrics": metrics,
        "work": workload(data),
        "data": data.fingerprint,
        "eval_users": len(data.eval_sets["test"].users),
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "precision": str(cfg["trainer"].get("precision", "32-true")),
        "compiled": bool(spec.get("compile")),
        "torch_threads": torch.get_num_threads(),
    }
    if own_exclude != spec["exclude_seen"]:
        own_s, own_metrics = test_passes(own_exclude, 1)
        out["own_protocol"] = {"exclude_seen": own_exclude, "eval_s": own_s[0], "metrics": own_metrics}
    return out | peak_rss_mib()


def budget(spec: dict[str, Any]) -> dict[str, Any]:
    """Train ``spec['experiment']`` from scratch for ``spec['budget_s']`` seconds of wall time (no
    validation, no early stopping), then one test pass under the protocol matched to RecBole.

    The same-time comparison: what recframe reaches in the time RecBole spent on its epochs.
    """
    start = time.perf_counter()
    cfg, data, module, _ = _setup(spec)
    trainer = pl.Trainer(
        **quiet(cfg, max_epochs=-1, max_time={"seconds": spec["budget_s"]}, limit_val_batches=0)["trainer"],
        logger=False,
        enable_checkpointing=False,
        use_distributed_sampler=False,
    )
    trainer.fit(module, datamodule=data)
    trained_s = time.perf_counter() - start
    module.exclude_seen = spec["exclude_seen"]
    metrics = _tester(cfg).test(module, datamodule=data, verbose=False)[0]
    return {
        "framework": "recframe",
        "budget_s": spec["budget_s"],
        "trained_s": trained_s,
        "steps": trainer.global_step,
        "epochs": trainer.global_step / max(len(data.train_dataloader()), 1),
        "metrics": {k: float(v) for k, v in metrics.items()},
    } | peak_rss_mib()


def floor_rows(spec: dict[str, Any]) -> dict[str, Any]:
    """``floor.measure`` of each ``{experiment, overrides}`` in ``spec['rows']``."""
    rows = []
    for row in spec["rows"]:
        result = measure(row["experiment"], row["overrides"], epochs=spec["epochs"], repeats=spec["repeats"])
        rows.append({**row, **result})
    return {"rows": rows, "torch_threads": torch.get_num_threads()} | peak_rss_mib()


def main() -> None:
    modes = {"side": side, "budget": budget, "floor": floor_rows}
    if len(sys.argv) != 3 or sys.argv[1] not in modes:
        raise SystemExit(f"usage: {sys.argv[0]} {{{'|'.join(modes)}}} SPEC.json")
    spec = json.loads(Path(sys.argv[2]).read_text())
    print(json.dumps(modes[sys.argv[1]](spec)))


if __name__ == "__main__":
    main()
