"""Lightning callbacks that make runs resumable to the same result.

- :class:`BatchSeeder` makes every training step's randomness (dropout, sampled negatives) a pure
  function of ``(seed, epoch, batch)``, so a resumed run draws exactly what an uninterrupted one
  would, without snapshotting generator states.
- :class:`ResumeBatches` tells the DataModule how many batches of the interrupted epoch were
  already trained on; Lightning restores its loop counters but would otherwise feed the epoch's
  first batches again.
- :class:`GracefulStop` turns SIGINT/SIGTERM into "finish this batch, save a resumable checkpoint,
  stop"; a second signal stops at once.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch


class BatchSeeder(pl.Callback):
    """Reseed torch's generators at every training step from ``(seed, epoch, batch_idx)``."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_batch_start(self, trainer: pl.Trainer, module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        state = np.random.SeedSequence([self.seed, trainer.current_epoch, batch_idx]).generate_state(1)[0]
        torch.manual_seed(int(state))


class ResumeBatches(pl.Callback):
    """On loading a mid-epoch checkpoint, skip the batches of that epoch already trained on."""

    def on_load_checkpoint(self, trainer: pl.Trainer, module: pl.LightningModule, checkpoint: dict[str, Any]) -> None:
        progress = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_loop.batch_progress", {})
        done = progress.get("current", {}).get("processed", 0)
        if done and not progress.get("is_last_batch", False) and trainer.datamodule is not None:
            trainer.datamodule.skip_train_batches = int(done)


class TrainingStopped(Exception):
    """Raised after :class:`GracefulStop` saved its checkpoint; carries the signal number.

    An exception rather than ``trainer.should_stop``: stopping would still close the epoch
    (validation, an epoch-end ``last.ckpt``) and overwrite the mid-epoch state just saved; and not a
    ``KeyboardInterrupt``, which Lightning answers with ``sys.exit``.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"training stopped by signal {signum}")
        self.signum = signum


class GracefulStop(pl.Callback):
    """SIGINT/SIGTERM: save ``path`` after the current batch and stop training (a second signal aborts)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.requested: int | None = None
        self.saved = False
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested is not None:  # second signal: stop now
            raise KeyboardInterrupt
        self.requested = signum

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        for sig in self.SIGNALS:
            try:
                self._previous[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread: leave the defaults
                return

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, *args: Any) -> None:
        if self.requested is not None and not self.saved:
            trainer.save_checkpoint(self.path)  # atomic: Lightning writes through an fsspec transaction
            self.saved = True
            raise TrainingStopped(self.requested)

    def restore_handlers(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.restore_handlers()

    def on_exception(self, trainer: pl.Trainer, module: pl.LightningModule, exception: BaseException) -> None:
        self.restore_handlers()
