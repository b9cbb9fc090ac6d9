"""The cold-start protocols: cold items never reach training, are scored through side information alone,
and are reported apart from warm ones; the cold-user slice."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import wandb_summary

from recframe.data.datamodule import DataSpec, RecDataModule
from recframe.data.synthetic import synthetic
from recframe.experiments.config import load_config
from recframe.losses import softmax_ce
from recframe.metrics.suite import EvaluationMetrics
from recframe.training import engine

SMALL_WORLD = {"n_users": 150, "n_items": 60, "min_length": 5, "max_length": 15}
TINY = [f"dataset.{k}={v}" for k, v in SMALL_WORLD.items()] + ["data.eval_batch_size=64"]


def _data(sequential: bool, **kwargs) -> RecDataModule:
    return RecDataModule(synthetic(**SMALL_WORLD), sequential=sequential, cold_items=0.2, cold_seed=3, **kwargs)


@pytest.mark.parametrize("sequential", [True, False])
def test_no_cold_item_appears_in_any_training_batch(sequential):
    dm = _data(sequential, train_windows="all", batch_size=16)
    cold = torch.as_tensor(dm.spec.cold_items)
    assert cold.sum() == 12 and not cold[0]
    batches = 0
    for batch in dm.train_dataloader():
        for key in ("history", "labels", "items"):
            if key in batch:
                assert not cold[batch[key]].any(), f"a cold item reached a training batch's {key}"
        batches += 1
    assert batches > 3
    val, test = dm.eval_sets["val"], dm.eval_sets["test"]
    assert not cold[val.targets.items].any() and not cold[val.seen.items].any()
    assert not cold[test.seen.items].any(), "a cold item is in a history the model reads"
    assert cold[test.targets.items].any(), "no cold test target: the protocol measures nothing"


def test_cold_split_reports_and_rejects_bad_settings():
    dm = _data(True)
    assert "cold items: 12 of 60 items (share 0.2, seed 3) held out of training" in dm.summary()
    with pytest.raises(ValueError, match=r"cold_items must be a share in \(0, 1\), got 1.5"):
        RecDataModule(synthetic(**SMALL_WORLD), sequential=True, cold_items=1.5)
    with pytest.raises(ValueError, match="needs feedback 'implicit'"):
        RecDataModule(synthetic(**SMALL_WORLD), sequential=False, feedback="rating", cold_items=0.2)


def test_cold_draw_depends_on_cold_seed_only():
    a, b = _data(True).spec.cold_items, _data(True, seed=9).spec.cold_items
    assert np.array_equal(a, b)
    other = RecDataModule(synthetic(**SMALL_WORLD), sequential=True, cold_items=0.2, cold_seed=4).spec.cold_items
    assert not np.array_equal(a, other)


def test_cold_items_are_left_out_of_the_training_softmax_and_scored_by_side_information(data_env):
    cfg = load_config(
        "default", [*TINY, "data.cold_items=0.2", "data.cold_seed=3", "backbone.items={attributes: [genre]}"]
    )
    data = engine.build_data(cfg)
    module = engine.build_module(cfg, data, "default")
    cold = torch.as_tensor(data.spec.cold_items)
    batch = next(iter(data.train_dataloader()))
    module.eval()  # no dropout: the loss written out below sees the same queries
    loss = module.training_step(batch, 0)
    # the same loss written out: softmax CE over the warm items only
    queries = module.backbone(batch)
    keep = batch["labels"] != 0
    warm = torch.nonzero(~cold).squeeze(1)  # PAD (0) is "warm": it keeps row 0
    remap = torch.full((len(cold),), -1)
    remap[warm] = torch.arange(len(warm))
    expected = softmax_ce(queries[keep], module.backbone.item_embeddings()[warm], remap[batch["labels"][keep]])
    assert torch.allclose(loss, expected, atol=1e-5)
    loss.backward()
    id_grad = module.backbone.items.id.weight.grad
    assert id_grad[cold].abs().sum() == 0 and id_grad[~cold].abs().sum() > 0
    table = module.backbone.item_embeddings()
    attribute_only = module.backbone.items.attributes["genre"](torch.nonzero(cold).squeeze(1))
    assert torch.allclose(table[cold], attribute_only), "a cold item's vector must come from its attributes alone"


def test_cold_protocol_refuses_losses_that_sample_the_whole_catalogue(data_env):
    cfg = load_config("default", [*TINY, "data.cold_items=0.2", "loss.name=bpr"])
    data = engine.build_data(cfg)
    with pytest.raises(ValueError, match="needs a full-softmax loss"):
        engine.build_module(cfg, data, "default")


def test_cold_and_warm_slices_follow_their_targets():
    n_items = 6
    cold = np.array([False, True, True, False, False, False])
    spec = DataSpec(
        4,
        n_items,
        3,
        np.ones(n_items),
        user_activity=np.array([0, 1, 5, 2.0]),
        item_users=np.ones(n_items),
        cold_items=cold,
    )
    suite = EvaluationMetrics(spec, ks=(1, 5), cold_users=2)
    batch = {"user": torch.tensor([1, 2, 3]), "targets": torch.tensor([[1, 3], [4, 0], [2, 0]])}
    ranks = torch.tensor([[1, 4], [2, 0], [7, 0]])
    suite.update(batch, ranks, None)
    out = suite.compute()
    # cold targets: user 1's item 1 (rank 1), user 3's item 2 (rank 7); warm: user 1's item 3 (4), user 2's item 4 (2)
    assert out["cold/users"] == 2 and out["warm/users"] == 2
    assert out["cold/hr@1"] == pytest.approx(0.5) and out["cold/hr@5"] == pytest.approx(0.5)
    assert out["warm/hr@1"] == 0 and out["warm/hr@5"] == pytest.approx(1.0)
    assert out["warm/ndcg@5"] == pytest.approx((1 / np.log2(5) + 1 / np.log2(3)) / 2)
    # cold users: users 1 and 3 have at most 2 training interactions
    assert out["cold_users/users"] == 2 and out["cold_users/recall@5"] == pytest.approx((1.0 + 0.0) / 2)
    assert out["hr@1"] == pytest.approx(1 / 3)


def test_slices_with_no_users_report_a_zero_count_only():
    cold = np.array([False, True, False, False])
    spec = DataSpec(3, 4, 3, np.ones(4), user_activity=np.ones(3), item_users=np.ones(4), cold_items=cold)
    suite = EvaluationMetrics(spec, ks=(1,))
    suite.update({"user": torch.tensor([1]), "targets": torch.tensor([[2]])}, torch.tensor([[1]]), None)
    out = suite.compute()
    assert out["cold/users"] == 0 and "cold/hr@1" not in out and out["warm/hr@1"] == 1


@pytest.mark.slow
def test_fit_reports_cold_and_warm_metrics_in_metrics_json_and_wandb(tmp_path, tiny_bert, data_env, monkeypatch):
    from recframe.training.fitting import fit

    monkeypatch.setenv("WANDB_MODE", "offline")
    items = (
        f"backbone.items={{id: true, text: {{model: '{tiny_bert}', template: '{{title}} {{genre}}', progress: false}}}}"
    )
    overrides = [
        *TINY,
        "data.cold_items=0.2",
        items,
        "trainer.max_epochs=2",
        f"run.dir={tmp_path}",
        "metrics.cold_users=6",
    ]
    run, _ = fit("default", overrides, echo=lambda *a, **k: None)
    saved = json.loads((run.dir / "metrics.json").read_text())
    for key in ("test/cold/ndcg@10", "test/warm/ndcg@10", "test/cold/users", "test/cold_users/ndcg@10"):
        assert key in saved, key
    # leave-one-out: each test user has one target, cold or warm, so the two slices split the users
    per_user = pd.read_csv(run.dir / "test_per_user.csv.gz")
    assert saved["test/cold/users"] + saved["test/warm/users"] == len(per_user) and saved["test/cold/users"] > 0
    record = json.loads((run.dir / "run.json").read_text())
    assert any(line.startswith("text '{title} {genre}'") for line in record["item_encoder"])
    assert "cold items: 12 of 60 items" in record["data_summary"]
    summary = wandb_summary(record["wandb_dir"])
    for key in ("test/cold/ndcg@10", "test/warm/hr@10"):
        assert summary[key] == pytest.approx(saved[key], abs=1e-6), key
