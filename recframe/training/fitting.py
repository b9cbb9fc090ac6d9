"""``fit``: train an experiment as a recorded run — fresh, resumed, or as a DDP worker process.

A run directory is created once, by the main process; Lightning's DDP launcher re-executes the
command for the other ranks, which find the directory through ``RECFRAME_RUN_DIR`` and write no
records. ``--resume`` continues a run from ``checkpoints/last.ckpt`` (written at every epoch end and
on SIGINT/SIGTERM) and, with the same config and seed, ends with the metrics an uninterrupted run
would have reached (see :mod:`recframe.training.callbacks`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pandas as pd
import torch

from recframe.data.datamodule import RecDataModule
from recframe.experiments import results
from recframe.experiments.config import ConfigError, load_config, to_yaml, validate
from recframe.experiments.runs import Run, now
from recframe.metrics import ranking_metrics
from recframe.module import RecModule
from recframe.text.items import item_reports
from recframe.training.callbacks import GracefulStop, TrainingStopped
from recframe.training.engine import _float_metrics, build_data, build_module, build_trainer
from recframe.training.logging import build_logger, finish

RUN_DIR_ENV = "RECFRAME_RUN_DIR"
LAST = "last.ckpt"


class Interrupted(Exception):
    """Training stopped on a signal after saving a resumable checkpoint."""


def is_ddp_worker() -> bool:
    """True in a process Lightning's DDP launcher started for a rank other than 0."""
    return os.environ.get("LOCAL_RANK", "0") != "0" and RUN_DIR_ENV in os.environ


def saved_config(run_dir: Path) -> tuple[str, dict[str, Any]]:
    """The experiment name and resolved config a run was started with."""
    from omegaconf import OmegaConf

    record = Run(run_dir).record()
    if not (run_dir / "config.yaml").is_file() or not record:
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.yaml / run.json)")
    return record["experiment"], validate(OmegaConf.load(run_dir / "config.yaml"))


def _open_run(cfg: dict[str, Any], name: str, resume: str | None) -> Run:
    if resume is None:
        run = Run.create(Path(cfg["run"]["dir"]), name)
        run.start(name, to_yaml(cfg), cfg["run"]["seed"])
        return run
    run = Run(Path(resume).resolve())
    _, before = saved_config(run.dir)
    status = run.record().get("status")
    if status == "finished":
        raise ConfigError(f"run {run.dir} already finished; nothing to resume")
    ignored = {("run", "dir"), ("trainer", "enable_progress_bar")}  # where records go, how progress shows
    differ = sorted(
        f"{section}.{key}"
        for section in set(before) | set(cfg)
        if section not in ("logger", "description")
        for key in set(before.get(section) or {}) | set(cfg.get(section) or {})
        if (section, key) not in ignored and (before.get(section) or {}).get(key) != (cfg.get(section) or {}).get(key)
    )
    if differ:
        raise ConfigError(f"cannot resume {run.dir}: the config differs from the saved one in {differ}")
    if not (run.checkpoints / LAST).is_file():
        raise FileNotFoundError(f"run {run.dir} has no checkpoints/{LAST} to resume from (status {status!r})")
    run.update(status="running", resumed=[*run.record().get("resumed", []), now()])
    return run


def write_per_user(run: Run, module: RecModule, data: RecDataModule) -> None:
    """Save each test user's metric values (for paired significance tests between runs)."""
    if not module.per_user:
        return
    width = max(r.shape[1] for _, r in module.per_user)
    users = torch.cat([u for u, _ in module.per_user]).numpy()
    ranks = torch.cat([torch.nn.functional.pad(r, (0, width - r.shape[1])) for _, r in module.per_user])
    ks = module.metrics["test"].ranking.ks
    table = pd.DataFrame({"user": data.log_.users.decode(users)})
    for name, values in ranking_metrics(ranks, ks).items():
        for j, k in enumerate(ks):
            table[f"{name}@{k}"] = values[:, j].numpy()
    tmp = run.dir / f".{results.PER_USER}.tmp"
    table.sort_values("user").to_csv(tmp, index=False, compression="gzip", float_format="%.6g")
    tmp.replace(run.dir / results.PER_USER)
    module.per_user.clear()


def write_exposure(run: Run, module: RecModule, data: RecDataModule) -> None:
    """Save how often each item was recommended in the test top-k lists (Lorenz curves, reports)."""
    if module.test_exposure is None:
        return
    table = pd.DataFrame(
        {
            "item": data.log_.items.raw,
            "exposure": module.test_exposure.cpu().numpy()[1:],
            "train_popularity": data.spec.item_popularity[1:],
        }
    )
    tmp = run.dir / f".{results.EXPOSURE}.tmp"
    table.to_csv(tmp, index=False, compression="gzip")
    tmp.replace(run.dir / results.EXPOSURE)


def fit(
    experiment: str | None,
    overrides: list[str] = (),
    *,
    resume: str | None = None,
    base_config: dict[str, Any] | None = None,
    echo=print,
) -> tuple[Run, dict[str, float]]:
    """Train ``experiment`` with ``overrides``, then validate and test the best checkpoint.

    With ``resume`` (a run directory), continue that run from its last checkpoint; ``experiment``
    may then be None (the run's own config is used) or must resolve to the same config.
    ``base_config`` (a resolved config, e.g. a parent run's) replaces the registry's YAML of
    ``experiment``; ``overrides`` apply on top of it.

    Returns the run and its metrics (``val/...`` and ``test/...`` of the best checkpoint). The run
    is recorded in its directory and appended to the results index of ``run.dir``.
    """
    worker = is_ddp_worker()
    say = (lambda *a, **k: None) if worker else echo
    if experiment is None:
        if resume is None:
            raise ConfigError("fit needs an experiment or --resume <run>")
        experiment, cfg = saved_config(Path(resume))
        cfg = validate(_as_omegaconf(cfg, overrides))
    elif base_config is not None:
        cfg = validate(_as_omegaconf(base_config, overrides))
    else:
        cfg = load_config(experiment, overrides)
    name = Path(experiment).stem if experiment.endswith((".yaml", ".yml")) else experiment
    say(to_yaml(cfg))
    pl.seed_everything(cfg["run"]["seed"], workers=True, verbose=False)
    data = build_data(cfg)
    say(data.summary())
    run = Run(Path(os.environ[RUN_DIR_ENV])) if worker else _open_run(cfg, name, resume)
    if not worker and resume is None:
        card = results.protocol(cfg, data.fingerprint)
        run.update(
            fingerprint=data.fingerprint,
            data_summary=data.summary(),
            protocol=card,
            protocol_label=results.protocol_label(card),
            config_hash=results.config_hash(cfg),
            backbone=cfg["backbone"]["name"],
            loss=cfg["loss"]["name"],
        )
    logger = False if worker else build_logger(cfg["logger"], run.dir, f"{name}/{run.id}", cfg)
    stop = GracefulStop(run.checkpoints / LAST)
    started = time.perf_counter()
    if not worker:
        os.environ[RUN_DIR_ENV] = str(run.dir)  # inherited by the DDP ranks Lightning launches
    try:
        module = build_module(cfg, data, name)
        if cfg["update"]["parent"] and resume is None:
            from recframe.training.feedback import parent_weights

            lines = parent_weights(module, cfg, data)
            for line in lines:
                say(f"  update: {line}")
            if not worker:
                run.update(parent=cfg["update"]["parent"], warm_start=lines)
        encoders = item_reports(module.backbone)
        for line in encoders:
            say(f"  items: {line}")
        if encoders and not worker and resume is None:
            run.update(item_encoder=encoders)
        trainer = build_trainer(cfg, run, logger, [stop])
        best = None
        if module.trainable:
            ckpt = str(run.checkpoints / LAST) if resume else None
            try:
                trainer.fit(module, datamodule=data, ckpt_path=ckpt, weights_only=True)
            except TrainingStopped as stopped:
                hint = f"python -m recframe fit --resume {run.dir}"
                if not worker:
                    run.update(status="interrupted", ended=now(), checkpoint=f"checkpoints/{LAST}", resume=hint)
                message = f"stopped on signal {stopped.signum}; resumable checkpoint saved; resume with: {hint}"
                raise Interrupted(message) from None
            best = trainer.checkpoint_callback.best_model_path or None
        else:
            say(f"{cfg['backbone']['name']} has no trainable parameters: evaluating without training")
        fit_seconds = time.perf_counter() - started
        metrics = _float_metrics(
            trainer.validate(module, datamodule=data, ckpt_path=best, verbose=False, weights_only=True)
        )
        module.record_per_user = True
        metrics |= _float_metrics(
            trainer.test(module, datamodule=data, ckpt_path=best, verbose=False, weights_only=True)
        )
        if best is None:
            trainer.save_checkpoint(run.checkpoints / "best.ckpt")
            best = str(run.checkpoints / "best.ckpt")
        if not worker:
            write_per_user(run, module, data)
            write_exposure(run, module, data)
    except BaseException as err:
        if not worker and run.record().get("status") == "running":
            status = "interrupted" if isinstance(err, (KeyboardInterrupt, SystemExit)) else "failed"
            run.update(status=status, ended=now(), error=f"{type(err).__name__}: {err}")
        if not worker:
            finish(logger)
        raise
    finally:
        if not worker:
            os.environ.pop(RUN_DIR_ENV, None)
    if worker:
        return run, metrics
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
        world_size=trainer.world_size,
    )
    results.append(Path(cfg["run"]["dir"]), results.summary(run.dir))
    return run, metrics


def _as_omegaconf(cfg: dict[str, Any], overrides: list[str]):
    from omegaconf import OmegaConf

    from recframe.experiments.config import apply_overrides

    return apply_overrides(OmegaConf.create(cfg), overrides)
