"""Experiment-tracker loggers: Weights & Biases (offline unless an account is configured), CSV, none."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any

from recframe.experiments.config import ConfigError

LOGGERS = ("wandb", "csv", "none")


def wandb_mode(requested: str) -> str:
    """``online``/``offline``/``disabled``; ``auto`` is online only when an account is configured.

    An account means ``WANDB_API_KEY`` is set or ``~/.netrc`` has an entry for ``api.wandb.ai``.
    ``WANDB_MODE`` in the environment wins over ``auto``.
    """
    if requested not in ("auto", "online", "offline", "disabled"):
        raise ConfigError(f"unknown logger.mode {requested!r}; known: ['auto', 'online', 'offline', 'disabled']")
    if requested != "auto":
        return requested
    env = os.environ.get("WANDB_MODE")
    if env in ("online", "offline", "disabled"):
        return env
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        has_login = netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        has_login = False
    return "online" if has_login else "offline"


def build_logger(settings: dict[str, Any], save_dir: Path, run_name: str, config: dict[str, Any]):
    """The Lightning logger named by the ``logger`` section, or ``False`` for none."""
    name = settings["name"]
    if name == "none":
        return False
    if name == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(save_dir=str(save_dir), name="", version="csv")
    if name == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        mode = wandb_mode(settings["mode"])
        os.environ.setdefault("WANDB_SILENT", "true")
        return WandbLogger(
            project=settings["project"],
            entity=settings["entity"],
            name=run_name,
            save_dir=str(save_dir),
            offline=mode == "offline",
            mode=mode,
            config=config,
            log_model=False,
        )
    raise ConfigError(f"unknown logger.name {name!r}; known: {list(LOGGERS)}")


def finish(logger: Any) -> str | None:
    """Close the logger's run (flushes W&B's offline file); returns the W&B run folder if any."""
    if logger is False or logger is None:
        return None
    from lightning.pytorch.loggers import WandbLogger

    if isinstance(logger, WandbLogger):
        run = logger.experiment
        folder = getattr(run, "dir", None)
        run.finish()
        return str(Path(folder).parent) if folder else None
    logger.finalize("success")
    return None
