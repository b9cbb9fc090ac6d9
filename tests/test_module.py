"""RecModule end to end through Lightning's loops: chunked catalogue scoring equals whole-catalogue scoring."""

from __future__ import annotations

import math
import os

import lightning.pytorch as pl
import pytest
import torch

from recframe.experiments.config import load_config
from recframe.training import engine

WORLD = [
    "logger.name=none",
    "dataset.n_users=70",
    "dataset.n_items=45",
    "dataset.max_length=15",
    "backbone.dim=8",
    "data.eval_batch_size=16",
]


def trainer() -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )


@pytest.mark.parametrize("extra", [[], ["module.exclude_seen=false"], ["data.eval_negatives=5", "metrics.k=5"]])
def test_score_chunk_evaluates_and_predicts_as_whole_catalogue_scoring(extra):
    """Every test metric (fairness, exposure, beyond-accuracy included), every rank and the top-K lists
    are the same with the catalogue scored 7 items at a time (45 is not a multiple: a short last chunk)."""
    cfg = load_config("default", [*WORLD, *extra])
    data = engine.build_data(cfg)
    whole = engine.build_module(cfg, data, "whole").eval()
    chunked = engine.build_module(load_config("default", [*WORLD, *extra, "module.score_chunk=7"]), data, "chunked")
    chunked.load_state_dict(whole.state_dict())
    chunked.eval()
    assert (whole.score_chunk, chunked.score_chunk) == (None, 7)
    results = []
    for module in (whole, chunked):
        module.record_per_user = True
        (metrics,) = trainer().test(module, datamodule=data, verbose=False)
        predicted = trainer().predict(module, datamodule=data)
        results.append((metrics, module.per_user, predicted, module.test_exposure))
    (m_whole, users_whole, p_whole, e_whole), (m_chunk, users_chunk, p_chunk, e_chunk) = results
    assert len(m_whole) > 20 and m_whole.keys() == m_chunk.keys()
    assert all(m_chunk[k] == v or (math.isnan(v) and math.isnan(m_chunk[k])) for k, v in m_whole.items())
    assert 0.0 < m_whole["test/hr@20"] < 1.0  # a model that ranks something right and something wrong
    # whole-catalogue ranks stop at max(ks) + 1 = 21 (target_ranks' max_rank); chunked ranks are exact
    ranks_whole, ranks_chunk = (torch.cat([r for _, r in per_user]) for per_user in (users_whole, users_chunk))
    assert torch.equal(ranks_whole, ranks_chunk.clamp(max=21)) and ranks_chunk.max() > 21
    assert torch.equal(e_whole, e_chunk)
    for a, b in zip(p_whole, p_chunk, strict=True):
        assert torch.equal(a["user"], b["user"]) and torch.allclose(a["scores"], b["scores"], atol=1e-6)
        # the same rankable items in the same order; past them (fewer than 10 candidates) both pad with -inf
        rankable = torch.isfinite(a["scores"])
        assert torch.equal(a["items"][rankable], b["items"][rankable]) and (a["items"][rankable] != 0).all()
    items = torch.cat([p["items"] for p in p_whole])
    assert items.shape[1] == whole.predict_k


@pytest.mark.skipif(
    "MUTANT_UNDER_TEST" in os.environ, reason="mutmut's trampoline hides __init__'s arguments from save_hyperparameters"
)
def test_hyperparameters_leave_out_the_built_parts_and_the_logger():
    cfg = load_config("default", WORLD)
    module = engine.build_module(cfg, engine.build_data(cfg), "hparams")
    built = {"backbone", "loss", "val_metrics", "test_metrics", "train_keys", "train_items"}
    assert not built & set(module.hparams)  # a checkpoint holds settings, not one tensor entry per interaction
    assert module.hparams["lr"] == cfg["module"]["lr"] and module.hparams["meta"]["experiment"] == "hparams"
    assert module._log_hyperparams is False  # the logger is sent the resolved config instead


def test_cold_item_tables_stay_out_of_checkpoints_and_per_user_ranks_only_when_asked(data_env):
    over = [*WORLD, "data.cold_items=0.2"]
    cfg = load_config("default", over)
    data = engine.build_data(cfg)
    module = engine.build_module(cfg, data, "cold")
    cold = torch.as_tensor(data.spec.cold_items)
    assert cold[1:].any() and not cold[0]
    assert (module.train_remap[cold] == -1).all()  # a cold item has no row in the training softmax
    assert module.train_remap[module.train_index].tolist() == list(range(len(module.train_index)))
    assert not {"train_index", "train_remap"} & set(module.state_dict())  # checkpoints match the warm protocol's
    trainer().test(module, datamodule=data, verbose=False)
    assert module.per_user == [] and module.test_exposure is not None  # per-user ranks: the engine's final pass only


@pytest.mark.parametrize(("every", "steps"), [(5, [0, 4, 9]), (1, list(range(12))), (0, list(range(12)))])
def test_train_loss_is_logged_on_the_first_step_and_every_n_steps(every, steps):
    """``train/loss`` is logged on step 0 (the progress bar) and on the steps Lightning writes."""
    from types import SimpleNamespace

    cfg = load_config("default", WORLD)
    module = engine.build_module(cfg, engine.build_data(cfg), "log")
    assert module._logger_writes_this_step()  # no trainer: log (Lightning warns and ignores it)
    written = []
    for step in range(12):
        module._trainer = SimpleNamespace(log_every_n_steps=every, global_step=step)
        if module._logger_writes_this_step():
            written.append(step)
    assert written == steps
