"""Composition: build data, backbone, loss, module and trainer from a resolved config.

:func:`evaluate` and :func:`predict` restore a checkpoint onto these parts; training as a
recorded run is :func:`recframe.training.fitting.fit`. Nothing here parses arguments.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, RichProgressBar

from recframe.backbones import BACKBONES
from recframe.backbones.contract import RatingClassifier
from recframe.data import DATASETS, datamodule_class
from recframe.data.datamodule import RecDataModule
from recframe.experiments.config import ConfigError, apply_overrides, validate
from recframe.experiments.runs import Run, atomic_write
from recframe.losses import LOSSES
from recframe.metrics.like import LikeMetrics
from recframe.metrics.rating import RatingMetrics
from recframe.metrics.suite import EvaluationMetrics
from recframe.module import RecModule
from recframe.training.callbacks import BatchSeeder, ResumeBatches

warnings.filterwarnings("ignore", message=".*does not have many workers.*")
warnings.filterwarnings("ignore", message=".*litlogger.*")
warnings.filterwarnings("ignore", message=".*Checkpoint directory.*exists and is not empty.*")
warnings.filterwarnings("ignore", message=".*LeafSpec.*")
warnings.filterwarnings("ignore", message=".*Be aware that when using `ckpt_path`.*")
# recframe's metrics are torchmetrics with sum states, reduced across processes before they are logged:
# Lightning's advice to log them with sync_dist=True (a second, wrong reduction) does not apply
warnings.filterwarnings("ignore", message=".*when logging on epoch level in distributed setting.*")


LIKE_MONITORS = ("val/auc", "val/accuracy", "val/logloss")


def build_data(cfg: dict[str, Any]) -> RecDataModule:
    """Load the dataset named in ``cfg['dataset']`` and wrap it in its DataModule with ``cfg['data']``."""
    kwargs = dict(cfg["dataset"])
    name = kwargs.pop("name")
    log = DATASETS.get(name)(**kwargs)
    feedback = cfg.get("update", {}).get("feedback")
    if feedback:
        from recframe.data.interactions import Interactions
        from recframe.training.feedback import with_feedback

        if not isinstance(log, Interactions):
            raise ConfigError(f"update.feedback folds interactions into an interaction dataset; {name!r} is not one")
        log = with_feedback(log, feedback)
    sequential = BACKBONES.get(cfg["backbone"]["name"]).sequential
    return datamodule_class(name)(log, sequential=sequential, seed=cfg["run"]["seed"], **cfg["data"])


def build_module(cfg: dict[str, Any], data: RecDataModule, experiment: str) -> RecModule:
    """Backbone + loss + RecModule; the resolved config and data fingerprint go into ``meta``."""
    kwargs = dict(cfg["backbone"])
    backbone = BACKBONES.get(kwargs.pop("name"))(data.spec, **kwargs)
    loss_kwargs = dict(cfg["loss"])
    loss = functools.partial(LOSSES.get(loss_kwargs.pop("name")), **loss_kwargs)
    meta = {"experiment": experiment, "config": cfg, "fingerprint": data.fingerprint}
    classifier = isinstance(backbone, RatingClassifier)
    if classifier and (data.feedback != "rating" or cfg["loss"]["name"] != "ce"):
        raise ConfigError(
            f"backbone {cfg['backbone']['name']!r} classifies (user, item) pairs into rating classes: it needs "
            f"data.feedback=rating and loss.name=ce (cross-entropy over the classes), got "
            f"{data.feedback!r} and {cfg['loss']['name']!r}"
        )
    if data.feedback == "rating":
        if not classifier and "ratings" not in inspect.signature(LOSSES.get(cfg["loss"]["name"])).parameters:
            raise ConfigError(f"data.feedback=rating needs a rating loss (mse), not {cfg['loss']['name']!r}")
        val_metrics, test_metrics = RatingMetrics(data.spec), RatingMetrics(data.spec, cfg["metrics"]["user_groups"])
    elif data.feedback == "like":
        if cfg["run"]["monitor"] not in (None, *LIKE_MONITORS):
            raise ConfigError(
                f"data.feedback=like reports {list(LIKE_MONITORS)}; run.monitor is {cfg['run']['monitor']!r}"
            )
        val_metrics, test_metrics = LikeMetrics(), LikeMetrics()
    else:
        val_metrics = EvaluationMetrics(data.spec, ks=cfg["metrics"]["ks"])  # accuracy only: runs every epoch
        test_metrics = EvaluationMetrics(data.spec, **cfg["metrics"])
    train_keys = torch.as_tensor(data.train_keys())
    train_items = None if data.spec.cold_items is None else torch.as_tensor(~data.spec.cold_items)
    return RecModule(
        backbone,
        loss,
        val_metrics=val_metrics,
        test_metrics=test_metrics,
        train_keys=train_keys,
        train_items=train_items,
        meta=meta,
        **cfg["module"],
    )


def build_trainer(
    cfg: dict[str, Any], run: Run | None, logger: Any = False, extra_callbacks: list[pl.Callback] = ()
) -> pl.Trainer:
    """A Lightning Trainer from ``cfg['trainer']``; checkpointing, early stopping and resumability when ``run``."""
    settings = cfg["run"]
    show_progress = cfg["trainer"].get("enable_progress_bar", True) is not False
    callbacks: list[pl.Callback] = [RichProgressBar(leave=True)] if show_progress else []
    callbacks += [BatchSeeder(settings["seed"]), ResumeBatches(), *extra_callbacks]
    if run is not None:
        monitored = settings["monitor"] is not None
        callbacks.append(
            ModelCheckpoint(
                dirpath=run.checkpoints,
                filename="best",
                monitor=settings["monitor"],  # None: no validation, the last epoch is the best
                mode=settings["mode"],
                save_top_k=1,
                save_last=not monitored,
                auto_insert_metric_name=False,
            )
        )
        if monitored:
            # Lightning copies save_last's last.ckpt only when a top-k checkpoint was saved, i.e. when
            # the monitored metric improved; --resume needs every epoch's end state, so a second,
            # unmonitored checkpoint (it runs after "best", so it holds that callback's updated state).
            callbacks.append(
                ModelCheckpoint(
                    dirpath=run.checkpoints,
                    filename="last",  # checkpoints/last.ckpt, what --resume reads
                    monitor=None,
                    save_top_k=1,
                    enable_version_counter=False,
                    auto_insert_metric_name=False,
                )
            )
        if settings["patience"] is not None and settings["monitor"] is not None:
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

    cfg = validate(apply_overrides(OmegaConf.create(meta["config"]), overrides))
    pl.seed_everything(cfg["run"]["seed"], workers=True, verbose=False)
    data = build_data(cfg)
    # what a model's shapes depend on: users and items (conversational data: items and training events)
    shape_keys = [k for k in ("users", "items", "train_events") if k in meta["fingerprint"]]
    if any(data.fingerprint.get(k) != meta["fingerprint"][k] for k in shape_keys):
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


def _requested_users(data: RecDataModule, users: list[str]) -> np.ndarray:
    """Dense ids of raw user ids given as text; unknown ids or users without history raise."""
    raw = data.log_.users.raw
    if np.issubdtype(raw.dtype, np.integer):
        bad = [u for u in users if not u.lstrip("-").isdigit()]
        if bad:
            raise KeyError(f"user ids of {data.log_.name} are integers; got {bad[:3]}")
        wanted = np.array([int(u) for u in users], dtype=raw.dtype)
    else:
        wanted = np.array(users, dtype=object)
    dense = data.log_.users.encode(wanted)
    no_history = dense[data.eval_sets["test"].seen.lengths(dense) == 0]
    if len(no_history):
        raise KeyError(f"user {data.log_.users.decode(no_history[:1])[0]!r} has no interaction to recommend from")
    return dense


def predict(target: str, top_k: int, output: Path, overrides: list[str] = (), users: list[str] | None = None) -> int:
    """Write top-``top_k`` items as CSV ``user,rank,item,score`` in original ids.

    For every test user, or for ``users`` (raw ids) only. The ranking is the one the test metrics
    see: the same history, the same seen-item mask. Returns the number of users written.
    """
    if top_k < 1:
        raise ValueError(f"--top-k must be >= 1, got {top_k}")
    path, cfg, data, module = _restore(target, overrides)
    if data.feedback == "like":
        raise ConfigError("predict ranks items for users; a like-protocol run answers yes/no questions (use test)")
    if top_k >= data.spec.n_items:
        raise ValueError(f"--top-k {top_k} exceeds the catalogue of {data.spec.n_items - 1} items")
    if users:
        data.predict_users = _requested_users(data, users)
    module.predict_k = top_k
    trainer = build_trainer(cfg, run=None)
    batches = trainer.predict(module, datamodule=data, ckpt_path=str(path), weights_only=True)
    dense = torch.cat([b["user"] for b in batches]).numpy()
    items = torch.cat([b["items"] for b in batches]).numpy()
    scores = torch.cat([b["scores"] for b in batches]).numpy()
    table = pd.DataFrame(
        {
            "user": np.repeat(data.log_.users.decode(dense), top_k),
            "rank": np.tile(np.arange(1, top_k + 1), len(dense)),
            "item": data.log_.items.decode(items.reshape(-1)),
            "score": scores.reshape(-1),
        }
    )
    atomic_write(output, table.to_csv(index=False, float_format="%.6g"))
    return len(np.unique(dense))
