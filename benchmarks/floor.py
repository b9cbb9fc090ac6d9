"""recframe against the hardware floor: one training epoch and one full-catalogue evaluation.

Training: a Lightning epoch of recframe (data loading, batching, logging, the optimiser step)
against the bare forward + backward + step of the same backbone on the same, pre-built batches.
Evaluation: recframe's test pass over every user against the bare ``scores = queries @ items.T``
+ seen-item masking + ``topk`` in torch, with and without the backbone's forward pass.

Run: ``OMP_NUM_THREADS=1 python benchmarks/floor.py --experiment beauty/sasrec``
(needs ``RECFRAME_DATA``; ``--experiment default`` runs on synthetic data).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import lightning.pytorch as pl
import torch

from recframe.experiments.config import load_config
from recframe.metrics import mask_items
from recframe.training import engine

# Accuracy metrics only (what RecBole and the bare floor compute): fairness and exposure off.
ACCURACY_ONLY = ("metrics.user_groups=[]", "metrics.item_groups=null", "metrics.exposure=false", "metrics.beyond=false")


class EpochTimer(pl.Callback):
    """Wall time of each training epoch, as Lightning runs it."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def quiet(cfg: dict[str, Any], **trainer: Any) -> dict[str, Any]:
    cfg = {**cfg, "trainer": {**cfg["trainer"], "enable_progress_bar": False, "enable_model_summary": False, **trainer}}
    return cfg


def timed_fit(cfg: dict[str, Any], module, data, **trainer: Any) -> list[float]:
    """Train with Lightning as recframe does (no validation, no logger); seconds of each epoch."""
    timer = EpochTimer()
    fitter = pl.Trainer(
        **quiet(cfg, limit_val_batches=0, **trainer)["trainer"],
        logger=False,
        enable_checkpointing=False,
        callbacks=[timer],
        use_distributed_sampler=False,
    )
    fitter.fit(module, datamodule=data)
    return timer.seconds


def recframe_epochs(cfg: dict[str, Any], data, epochs: int) -> list[float]:
    return timed_fit(cfg, engine.build_module(cfg, data, "benchmark"), data, max_epochs=epochs)


def bare_epochs(cfg: dict[str, Any], data, epochs: int) -> list[float]:
    """Forward + loss (negative sampling included) + backward + AdamW step on batches built beforehand
    (no data pipeline, no Lightning)."""
    module = engine.build_module(cfg, data, "benchmark").train()
    batches = list(data.train_dataloader())
    optimizer = module.configure_optimizers()
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        for batch in batches:
            loss = module.training_loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    return seconds


def recframe_eval(cfg: dict[str, Any], data, module, repeats: int) -> list[float]:
    trainer = pl.Trainer(
        **quiet(cfg)["trainer"], logger=False, enable_checkpointing=False, use_distributed_sampler=False
    )
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        trainer.test(module, datamodule=data, verbose=False)
        seconds.append(time.perf_counter() - start)
    return seconds


@torch.no_grad()
def floor_eval(data, module, repeats: int, with_forward: bool, k: int = 20) -> list[float]:
    """Bare torch: (forward ->) queries @ items.T, mask seen items, top-k, on pre-built batches."""
    module.eval()
    batches = list(data.test_dataloader())
    items = module.backbone.item_embeddings()
    queries = [_last_query(module.backbone, b) for b in batches]
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for batch, q in zip(batches, queries, strict=True):
            q = _last_query(module.backbone, batch) if with_forward else q
            scores = q @ items.T
            mask_items(scores, batch["seen_rows"], batch["seen_items"])
            scores.topk(k, dim=1)
        seconds.append(time.perf_counter() - start)
    return seconds


def _last_query(backbone, batch) -> torch.Tensor:
    from recframe.backbones.contract import last_query

    queries = backbone(batch)
    return last_query(queries, batch) if backbone.sequential else queries[:, 0]


def measure(experiment: str, overrides: list[str], epochs: int = 3, repeats: int = 3) -> dict[str, float]:
    """Median seconds of each measurement and the ratios recframe / floor."""
    cfg = load_config(experiment, [*overrides, *ACCURACY_ONLY, "logger.name=none"])
    pl.seed_everything(0, verbose=False)
    data = engine.build_data(cfg)
    ours = recframe_epochs(cfg, data, epochs)
    bare = bare_epochs(cfg, data, epochs)
    module = engine.build_module(cfg, data, "benchmark")
    ev = recframe_eval(cfg, data, module, repeats)
    floor_fwd = floor_eval(data, module, repeats, with_forward=True)
    floor_mm = floor_eval(data, module, repeats, with_forward=False)
    med = statistics.median
    return {
        "train_epoch_s": med(ours),
        "bare_train_epoch_s": med(bare),
        "train_overhead_ratio": med(ours) / med(bare),
        "eval_s": med(ev),
        "floor_eval_with_forward_s": med(floor_fwd),
        "floor_eval_matmul_mask_topk_s": med(floor_mm),
        "eval_over_floor_with_forward": med(ev) / med(floor_fwd),
        "eval_users": float(len(data.eval_sets["test"].users)),
        "items": float(data.spec.n_items - 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment", default="beauty/sasrec")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("overrides", nargs="*")
    args = p.parse_args()
    result = measure(args.experiment, args.overrides, args.epochs, args.repeats)
    print(f"{args.experiment}: torch threads {torch.get_num_threads()}")
    for key, value in result.items():
        print(f"  {key:32s} {value:10.3f}")


if __name__ == "__main__":
    main()
