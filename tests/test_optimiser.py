"""The training step's cost savers change nothing a user sees: fused AdamW and sparse loss logging."""

from __future__ import annotations

import csv

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from recframe.experiments.config import load_config
from recframe.training import engine

TINY = ["dataset.n_users=60", "dataset.n_items=40", "loss.name=bpr", "logger.name=none", "data.batch_size=16"]


def _trained_parameters(fused: bool) -> dict[str, torch.Tensor]:
    cfg = load_config("default", [*TINY, f"module.fused_optimizer={str(fused).lower()}"])
    pl.seed_everything(0, verbose=False)
    data = engine.build_data(cfg)
    module = engine.build_module(cfg, data, "x")
    trainer = pl.Trainer(
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=data)
    assert trainer.optimizers[0].defaults["fused"] is (True if fused else None)
    return {k: v.clone() for k, v in module.state_dict().items()}


def _drop_key_bias(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The attention key bias has a zero gradient in exact arithmetic (softmax ignores a shift shared
    by all keys); Adam scales its rounding noise up to full-size steps in either kernel, so it is
    compared without that third of ``qkv.bias``."""
    out = dict(state)
    for key, value in state.items():
        if key.endswith("qkv.bias"):
            third = len(value) // 3
            out[key] = torch.cat([value[:third], value[2 * third :]])
    return out


def test_fused_adamw_makes_the_same_updates_as_the_default():
    fused, plain = _drop_key_bias(_trained_parameters(True)), _drop_key_bias(_trained_parameters(False))
    assert fused.keys() == plain.keys()
    for key in fused:
        assert torch.allclose(fused[key], plain[key], atol=1e-6), key


class LossRecorder(pl.Callback):
    """The loss Lightning got back from every training step, by global step."""

    def __init__(self) -> None:
        self.losses: dict[int, float] = {}

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.losses[trainer.global_step - 1] = float(outputs["loss"])


@pytest.mark.parametrize("every", [1, 3])
def test_logged_train_loss_is_each_written_steps_own_loss(tmp_path, every):
    cfg = load_config("default", TINY)
    data = engine.build_data(cfg)
    module = engine.build_module(cfg, data, "x")
    recorder = LossRecorder()
    trainer = pl.Trainer(
        max_epochs=2,
        logger=CSVLogger(tmp_path, name="run"),
        log_every_n_steps=every,
        callbacks=[recorder],
        enable_checkpointing=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=data)
    (metrics_file,) = tmp_path.rglob("metrics.csv")
    written = {int(r["step"]): float(r["train/loss"]) for r in csv.DictReader(metrics_file.open()) if r["train/loss"]}
    steps = len(recorder.losses)
    assert steps > 2 * every
    assert sorted(written) == [s for s in range(steps) if (s + 1) % every == 0]
    for step, value in written.items():
        assert value == pytest.approx(recorder.losses[step], rel=1e-6), step
