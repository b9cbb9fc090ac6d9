"""Composition: build data, backbone, loss, module, trainer and run record from a resolved config.

The CLI calls :func:`fit`, :func:`evaluate` and :func:`predict`; nothing here parses arguments.
"""

from __future__ import annotations

import functools
import time
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, RichProgressBar

from recframe import results
from recframe.backbones import BACKBONES
from recframe.config import ConfigError, apply_overrides, load_config, to_yaml, validate
from recframe.data import DATASETS
from recframe.data.datamodule import RecDataModule
from recframe.logging import build_logger, finish
from recframe.losses import LOSSES
from recframe.metrics import ranking_metrics
from recframe.metrics.suite import EvaluationMetrics
from recframe.module import RecModule
from recframe.runs import Run, atomic_write, now

warnings.filterwarnings("ignore", message=".*does not have many workers.*")
warnings.filterwarnings("ignore", message=".*litlogger.*")
warnings.filterwarnings("ignore", message=".*Checkpoint directory.*exists and is not empty.*")
warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def build_data(cfg: dict[str, Any]) -> RecDataModule:
    """Load the dataset named in ``cfg['dataset']`` and wrap it in the DataModule of ``cfg['data']``."""
    kwargs = dict(cfg["dataset"])
    log = DATASETS.get(kwargs.pop("name"))(**kwargs)
    sequential = BACKBONES.get(cfg["backbone"]["name"]).sequential
    return RecDataModule(log, sequential=sequential, seed=cfg["run"]["seed"], **cfg["data"])


def build_module(cfg: dict[str, Any], data: RecDataModule, experiment: str) -> RecModule:
    """Backbone + loss + RecModule; the resolved config and data fingerprint go into ``meta``."""
    kwargs = dict(cfg["backbone"])
    backbone = BACKBONES.get(kwargs.pop("name"))(data.spec, **kwargs)
    loss_kwargs = dict(cfg["loss"])
    loss = functools.partial(LOSSES.get(loss_kwargs.pop("name")), **loss_kwargs)
    meta = {"experiment": experiment, "config": cfg, "fingerprint": data.fingerprint}
    val_metrics = EvaluationMetrics(data.spec, ks=cfg["metrics"]["ks"])  # accuracy only: runs every epoch
    test_metrics = EvaluationMetrics(data.spec, **cfg["metrics"])
    return RecModule(backbone, loss, val_metrics=val_metrics, test_metrics=test_metrics, meta=meta, **cfg["module"])


def build_trainer(cfg: dict[str, Any], run: Run | None, logger: Any = False) -> pl.Trainer:
    """A Lightning Trainer from ``cfg['trainer']``; checkpointing and early stopping when ``run``."""
    settings = cfg["run"]
    show_progress = cfg["trainer"].get("enable_progress_bar", True) is not False
    callbacks: list[pl.Callback] = [RichProgressBar(leave=True)] if show_progress else []
    if run is not None:
        callbacks.append(
            ModelCheckpoint(
                dirpath=run.checkpoints,
                filename="best",
                monitor=settings["monitor"],
                mode=settings["mode"],
                save_top_k=1,
                save_last=True,
                auto_insert_metric_name=False,
            )
        )
        if settings["patience"] is not None:
            callbacks.append(
                EarlyStopping(monitor=settings["monitor"], mode=settings["mode"], patience=settings["patience"])
            )
    return pl.Trainer(
        **cfg["trainer"],
        logger=logger,
        callbacks=callbacks,
        enable_checkpointing=run is not None,
        default_root_dir=str(run.dir) if run else None,
        use_distributed_sampler=False,  # the DataModule's sampler shards by rank itself, without padding
    )


def _float_metrics(results: list[dict[str, Any]]) -> dict[str, float]:
    return {k: float(v) for d in results for k, v in d.items()}


def write_per_user(run: Run, module: RecModule, data: RecDataModule) -> None:
    """Save each test user's metric values (for paired significance tests between runs)."""
    import pandas as pd

    if not module.per_user:
        return
    users = torch.cat([u for u, _ in module.per_user]).numpy()
    ranks = torch.cat([_pad_cols(r, max(x.shape[1] for _, x in module.per_user)) for _, r in module.per_user])
    ks = module.metrics["test"].ranking.ks
    values = ranking_metrics(ranks, ks)
    table = pd.DataFrame({"user": data.log_.users.decode(users)})
    for name, v in values.items():
        for j, k in enumerate(ks):
            table[f"{name}@{k}"] = v[:, j].numpy()
    tmp = run.dir / f".{results.PER_USER}.tmp"
    table.sort_values("user").to_csv(tmp, index=False, compression="gzip", float_format="%.6g")
    tmp.replace(run.dir / results.PER_USER)
    module.per_user.clear()


def write_exposure(run: Run, module: RecModule, data: RecDataModule) -> None:
    """Save how often each item was recommended in the test top-k lists (Lorenz curves, reports)."""
    import pandas as pd

    if module.test_exposure is None:
        return
    counts = module.test_exposure.cpu().numpy()[1:]
    table = pd.DataFrame(
        {"item": data.log_.items.raw, "exposure": counts, "train_popularity": data.spec.item_popularity[1:]}
    )
    tmp = run.dir / f".{results.EXPOSURE}.tmp"
    table.to_csv(tmp, index=False, compression="gzip")
    tmp.replace(run.dir / results.EXPOSURE)


def _pad_cols(x: torch.Tensor, width: int) -> torch.Tensor:
    return torch.nn.functional.pad(x, (0, width - x.shape[1]))


def fit(experiment: str, overrides: list[str] = (), *, echo=print) -> tuple[Run, dict[str, float]]:
    """Train ``experiment`` with ``overrides``, then validate and test the best checkpoint.

    Returns the run and its metrics (``val/...`` and ``test/...`` of the best checkpoint). The run
    is recorded in its directory and appended to the results index of ``run.dir``.
    """
    cfg = load_config(experiment, overrides)
    name = Path(experiment).stem if experiment.endswith((".yaml", ".yml")) else experiment
    echo(to_yaml(cfg))
    pl.seed_everything(cfg["run"]["seed"], workers=True, verbose=False)
    data = build_data(cfg)
    echo(data.summary())
    card = results.protocol(cfg, data.fingerprint)
    run = Run.create(Path(cfg["run"]["dir"]), name)
    run.start(name, to_yaml(cfg), cfg["run"]["seed"])
    run.update(
        fingerprint=data.fingerprint,
        data_summary=data.summary(),
        protocol=card,
        protocol_label=results.protocol_label(card),
        config_hash=results.config_hash(cfg),
        backbone=cfg["backbone"]["name"],
        loss=cfg["loss"]["name"],
    )
    logger = build_logger(cfg["logger"], run.dir, f"{name}/{run.id}", cfg)
    started = time.perf_counter()
    try:
        module = build_module(cfg, data, name)
        trainer = build_trainer(cfg, run, logger)
        best = None
        if module.trainable:
            trainer.fit(module, datamodule=data)
            if trainer.interrupted:
                run.update(status="interrupted", ended=now())
                raise KeyboardInterrupt
            best = trainer.checkpoint_callback.best_model_path or None
        else:
            echo(f"{cfg['backbone']['name']} has no trainable parameters: evaluating without training")
        fit_seconds = time.perf_counter() - started
        metrics = _float_metrics(
            trainer.validate(module, datamodule=data, ckpt_path=best, verbose=False, weights_only=True)
        )
        module.record_per_user = True
        metrics |= _float_metrics(
            trainer.test(module, datamodule=data, ckpt_path=best, verbose=False, weights_only=True)
        )
        if best is None and run.checkpoints is not None:
            trainer.save_checkpoint(run.checkpoints / "best.ckpt")
            best = str(run.checkpoints / "best.ckpt")
        write_per_user(run, module, data)
        write_exposure(run, module, data)
    except BaseException as err:
        if run.record().get("status") == "running":
            run.update(status="failed", ended=now(), error=f"{type(err).__name__}: {err}")
        finish(logger)
        raise
    run.write_metrics(metrics)
    wandb_dir = finish(logger)
    run.update(
        status="finished",
        ended=now(),
        fit_seconds=round(fit_seconds, 2),
        wall_seconds=round(time.perf_counter() - started, 2),
        epochs=trainer.current_epoch,
        best_checkpoint=str(Path(best).relative_to(run.dir)) if best else None,
        wandb_dir=wandb_dir,
    )
    results.append(Path(cfg["run"]["dir"]), results.summary(run.dir))
    return run, metrics


def resolve_checkpoint(target: str) -> Path:
    """A checkpoint path from a run directory (its best checkpoint) or a ``.ckpt`` file."""
    path = Path(target)
    if path.is_dir():
        for candidate in (path / "checkpoints" / "best.ckpt", path / "checkpoints" / "last.ckpt"):
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f"run {path} has no checkpoints/best.ckpt or checkpoints/last.ckpt")
    if path.is_file():
        return path
    raise FileNotFoundError(f"{target!r} is neither a run directory nor a checkpoint file")


def load_checkpoint_meta(path: Path) -> dict[str, Any]:
    """The ``meta`` (config, fingerprint, experiment) stored in a recframe checkpoint."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"cannot read checkpoint {path}: {type(err).__name__}: {err}") from err
    meta = ckpt.get("hyper_parameters", {}).get("meta") if isinstance(ckpt, dict) else None
    if not meta or "config" not in meta:
        raise ValueError(f"{path} is not a recframe checkpoint (no config inside)")
    return meta


def _restore(target: str, overrides: list[str]) -> tuple[Path, dict[str, Any], RecDataModule, RecModule]:
    path = resolve_checkpoint(target)
    meta = load_checkpoint_meta(path)
    from omegaconf import OmegaConf

    saved = {k: v for k, v in meta["config"].items()}
    cfg = validate(apply_overrides(OmegaConf.create(saved), overrides))
    pl.seed_everything(cfg["run"]["seed"], workers=True, verbose=False)
    data = build_data(cfg)
    if (
        data.fingerprint["items"] != meta["fingerprint"]["items"]
        or data.fingerprint["users"] != meta["fingerprint"]["users"]
    ):
        raise ConfigError(
            f"checkpoint {path} was trained on {meta['fingerprint']} but the data now gives {data.fingerprint}; "
            "evaluate it on the dataset and filters it was trained with"
        )
    module = build_module(cfg, data, meta["experiment"])
    return path, cfg, data, module


def evaluate(target: str, stage: str, overrides: list[str] = ()) -> dict[str, float]:
    """Validate or test a checkpoint (or a run's best checkpoint) on its own dataset and protocol."""
    if stage not in ("val", "test"):
        raise ValueError(f"stage must be 'val' or 'test', got {stage!r}")
    path, cfg, data, module = _restore(target, overrides)
    trainer = build_trainer(cfg, run=None)
    run_eval = trainer.validate if stage == "val" else trainer.test
    return _float_metrics(run_eval(module, datamodule=data, ckpt_path=str(path), verbose=False, weights_only=True))


def predict(target: str, top_k: int, output: Path, overrides: list[str] = ()) -> int:
    """Write each test user's top-``top_k`` items as CSV ``user,rank,item,score`` in original ids.

    The ranking is the one the test metrics see: the same history, the same seen-item mask.
    Returns the number of users written.
    """
    if top_k < 1:
        raise ValueError(f"--top-k must be >= 1, got {top_k}")
    path, cfg, data, module = _restore(target, overrides)
    if top_k >= data.spec.n_items:
        raise ValueError(f"--top-k {top_k} exceeds the catalogue of {data.spec.n_items - 1} items")
    module.predict_k = top_k
    trainer = build_trainer(cfg, run=None)
    batches = trainer.predict(module, datamodule=data, ckpt_path=str(path), weights_only=True)
    users = torch.cat([b["user"] for b in batches]).numpy()
    items = torch.cat([b["items"] for b in batches]).numpy()
    scores = torch.cat([b["scores"] for b in batches]).numpy()
    raw_users = data.log_.users.decode(users)
    raw_items = data.log_.items.decode(items.reshape(-1)).reshape(items.shape)
    lines = ["user,rank,item,score"]
    for u, row_items, row_scores in zip(raw_users, raw_items, scores, strict=True):
        lines += [f"{u},{r},{i},{s:.6g}" for r, (i, s) in enumerate(zip(row_items, row_scores, strict=True), 1)]
    atomic_write(output, "\n".join(lines) + "\n")
    return len(np.unique(users))
