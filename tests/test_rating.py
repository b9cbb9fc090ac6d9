"""The rating-prediction protocol: k-fold split, biased MF in ψ·W form, the mse loss, RMSE/MAE."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recframe.backbones.mf import MF
from recframe.data import interactions as ix
from recframe.data.datamodule import DataSpec, RecDataModule
from recframe.data.splits import SPLITS, TEST, VALID
from recframe.experiments.config import validate
from recframe.losses import mse
from recframe.training import engine


def rated_log(n_users=40, n_items=25, per_user=12, seed=0) -> ix.Interactions:
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(1, n_users + 1), per_user)
    items = np.concatenate([rng.choice(np.arange(1, n_items + 1), per_user, replace=False) for _ in range(n_users)])
    taste = rng.normal(size=n_users + 1)[users] + rng.normal(size=n_items + 1)[items]
    ratings = np.clip(np.round(3 + taste), 1, 5).astype(np.float32)
    return ix.Interactions(user=users, item=items, rating=ratings, timestamp=np.arange(len(users)), name="rated")


def test_kfold_partitions_and_folds_are_disjoint():
    enc = ix.encode(rated_log())
    tests = [SPLITS.get("kfold")(enc, folds=5, fold=f, seed=3) == TEST for f in range(5)]
    assert (np.sum(tests, axis=0) == 1).all()  # every rating is test in exactly one fold
    sizes = [t.sum() for t in tests]
    assert max(sizes) - min(sizes) <= 1
    stage = SPLITS.get("kfold")(enc, folds=5, fold=0, seed=3, val_ratio=0.1)
    assert (stage[tests[0]] == TEST).all()
    assert abs((stage == VALID).sum() - round(0.1 * (~tests[0]).sum())) <= 1
    with pytest.raises(ValueError, match="fold"):
        SPLITS.get("kfold")(enc, folds=5, fold=5)


def test_biased_mf_is_mu_plus_biases_plus_dot():
    spec = DataSpec(n_users=5, n_items=7, max_len=1, item_popularity=np.ones(7), rating_mean=3.5)
    model = MF(spec, dim=4, biased=True)
    with torch.no_grad():
        model.user_bias.weight.normal_()
        model.item_bias.weight.normal_()
    users = torch.tensor([1, 4])
    scores = model.score({"user": users})
    expected = (
        3.5
        + model.user_bias.weight[users]
        + model.item_bias.weight[:, 0][None, :]
        + model.users(users) @ model.items.weight.T
    )
    assert torch.allclose(scores[:, 1:], expected[:, 1:], atol=1e-5)
    assert torch.isneginf(scores[:, 0]).all()


def test_mse_definition():
    q, w = torch.randn(3, 4), torch.randn(6, 4)
    labels, ratings = torch.tensor([1, 5, 2]), torch.tensor([4.0, 2.0, 5.0])
    pred = [float(q[n] @ w[labels[n]]) for n in range(3)]
    reg = [float(q[n] @ q[n] + w[labels[n]] @ w[labels[n]]) for n in range(3)]
    expected = sum((p - r) ** 2 + 0.1 * g for p, r, g in zip(pred, ratings.tolist(), reg, strict=True)) / 3
    assert mse(q, w, labels, ratings, reg=0.1).item() == pytest.approx(expected, rel=1e-5)


def test_rating_protocol_end_to_end_reports_the_rmse_of_its_predictions():
    from omegaconf import OmegaConf

    cfg = validate(
        OmegaConf.create(
            {
                "dataset": {"name": "synthetic"},
                "data": {"feedback": "rating", "split": "kfold", "split_args": {"folds": 5, "fold": 1}},
                "backbone": {"name": "mf", "dim": 8, "biased": True},
                "loss": {"name": "mse", "reg": 0.05},
                "module": {"lr": 0.01, "exclude_seen": False},
                "trainer": {"max_epochs": 2, "enable_progress_bar": False, "enable_model_summary": False},
                "run": {"monitor": None, "patience": None},
                "logger": {"name": "none"},
            }
        )
    )
    log = rated_log(seed=1)
    data = RecDataModule(log, sequential=False, seed=0, **cfg["data"])
    assert data.val_dataloader() == []  # no validation share: fixed epochs, like Surprise
    module = engine.build_module(cfg, data, "rating")
    trainer = engine.build_trainer(cfg, run=None)
    trainer.fit(module, datamodule=data)
    got = trainer.test(module, datamodule=data, verbose=False)[0]
    rows = data.stage == TEST
    with torch.no_grad():
        users, items = torch.as_tensor(data.log_.user[rows]), torch.as_tensor(data.log_.item[rows])
        pred = (module.backbone({"user": users})[:, 0] * module.backbone.item_embeddings()[items]).sum(-1)
    true = torch.as_tensor(data.log_.rating[rows])
    assert got["test/rmse"] == pytest.approx(math.sqrt(float(((pred - true) ** 2).mean())), rel=1e-5)
    assert got["test/mae"] == pytest.approx(float((pred - true).abs().mean()), rel=1e-5)


def test_rating_feedback_needs_a_rating_loss_and_a_non_sequential_backbone():
    from recframe.experiments.config import ConfigError, load_config

    with pytest.raises(ValueError, match="non-sequential"):
        RecDataModule(rated_log(), sequential=True, feedback="rating", split="kfold")
    cfg = load_config("ml-100k/mf-rating", ["loss.name=bpr", "~loss.reg", "dataset.name=synthetic", "~dataset.variant"])
    data = RecDataModule(rated_log(), sequential=False, seed=0, **cfg["data"])
    with pytest.raises(ConfigError, match="rating loss"):
        engine.build_module(cfg, data, "x")


def test_rating_unfairness_between_two_groups_is_reported():
    import pandas as pd

    from recframe.metrics.rating import RatingMetrics

    spec = DataSpec(
        n_users=5,
        n_items=4,
        max_len=1,
        item_popularity=np.ones(4),
        user_activity=np.ones(5),
        user_info=pd.DataFrame({"gender": [None, "F", "M", "F", "M"]}),
    )
    metrics = RatingMetrics(spec, ["gender", "activity"])
    assert list(metrics.unfairness) == ["gender", "activity"]
    users, items = torch.tensor([1, 2, 3, 4]), torch.tensor([1, 1, 2, 2])
    metrics.update(torch.tensor([4.0, 3.0, 2.0, 2.0]), torch.tensor([5.0, 3.0, 2.0, 1.0]), users, items)
    out = metrics.compute()
    # item 1: d_F = 4 - 5 = -1, d_M = 0; item 2: d_F = 0, d_M = 2 - 1 = 1 -> value unfairness (1 + 1) / 2
    assert float(out["fair/gender/value_unfairness"]) == pytest.approx(1.0)
    assert {"rmse", "mae", "fair/gender/non_parity_unfairness"} <= set(out)
