"""DDP training splits each epoch between the processes: a real 2-process gloo run on CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run as a script: Lightning's DDP launcher starts rank 1 by running this same file again.
SCRIPT = """
import json, sys
import lightning.pytorch as pl
import torch
from recframe.training import engine
from recframe.experiments.config import load_config

out = sys.argv[1]
overrides = ["dataset.n_users=151", "dataset.n_items=40", "data.batch_size=16", "backbone.dim=8",
             "trainer.max_epochs=2", "trainer.strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu",
             "trainer.enable_progress_bar=false", "trainer.limit_val_batches=0", "trainer.enable_model_summary=false",
             "logger.name=none", "run.patience=null"]

class Record(pl.Callback):
    def __init__(self):
        self.epochs = {}

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.epochs.setdefault(trainer.current_epoch, []).append(batch["user"].tolist())

    def on_train_end(self, trainer, module):
        params = torch.cat([p.detach().flatten() for p in module.parameters()])
        record = {"world": trainer.world_size, "epochs": self.epochs, "params": params.tolist()}
        with open(f"{out}/rank{trainer.global_rank}.json", "w") as f:
            json.dump(record, f)

cfg = load_config("default", overrides)
data = engine.build_data(cfg)
module = engine.build_module(cfg, data, "ddp")
engine.build_trainer(cfg, None, extra_callbacks=[Record()]).fit(module, datamodule=data)
"""


def test_ddp_ranks_split_each_training_epoch(tmp_path):
    """Each epoch, the two ranks train on disjoint halves of the training users (one wrap-around repeat:
    151 users make shards of 76), together every user; a new order each epoch; one model at the end."""
    script = tmp_path / "ddp_train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["world"] for r in ranks] == [2, 2]
    orders = []
    for epoch in ("0", "1"):
        shards = [[u for batch in r["epochs"][epoch] for u in batch] for r in ranks]
        assert [len(s) for s in shards] == [76, 76] and [len(r["epochs"][epoch]) for r in ranks] == [5, 5]
        assert all(len(set(s)) == len(s) for s in shards)  # no rank trains on a user twice in an epoch
        assert sorted(set(shards[0]) | set(shards[1])) == list(range(1, 152))  # the epoch is covered
        assert len(set(shards[0]) & set(shards[1])) <= 1  # disjoint apart from the one wrap-around repeat
        orders.append(shards)
    assert orders[0] != orders[1]  # reshuffled per epoch
    assert ranks[0]["params"] == ranks[1]["params"]  # gradients were averaged: the ranks hold one model
