"""Each backbone learns the synthetic world; sequence backbones learn the successor rule MF cannot.

A world where 80 % of next items are the fixed successor of the last one: a sequence model that
learns the rule reaches HR@10 near 0.8, MF (user taste + popularity only) stays far below, and a
random ranking of ~70 unseen items would score about 0.14.
"""

from __future__ import annotations

import pytest

from recframe.experiments.config import load_config
from recframe.training import engine

pytestmark = pytest.mark.slow

WORLD = [
    "dataset.n_users=400",
    "dataset.n_items=80",
    "dataset.p_follow=0.8",
    "dataset.max_length=20",
    "trainer.max_epochs=8",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "data.batch_size=64",
    "module.lr=0.005",
    "logger.name=none",
]
SWITCH = {
    "sasrec": [],
    "gpt2": ["backbone.heads=2"],
    "rnn": ["~backbone.heads", "~backbone.layers"],
    "mf": ["~backbone.heads", "~backbone.layers", "~backbone.dropout"],
}


def hr10_after_training(name: str) -> float:
    cfg = load_config("default", [f"backbone.name={name}", *SWITCH[name], *WORLD])
    data = engine.build_data(cfg)
    module = engine.build_module(cfg, data, "learnability")
    trainer = engine.build_trainer(cfg, run=None)
    trainer.fit(module, datamodule=data)
    return trainer.test(module, datamodule=data, verbose=False)[0]["test/hr@10"]


@pytest.fixture(scope="module")
def results() -> dict[str, float]:
    return {name: hr10_after_training(name) for name in SWITCH}


@pytest.mark.parametrize("name", ["sasrec", "gpt2", "rnn"])
def test_sequence_backbones_learn_the_successor_rule(results, name):
    assert results[name] >= 0.6, results
    assert results[name] >= results["mf"] + 0.1, results


def test_mf_learns_taste_and_popularity(results):
    assert results["mf"] >= 0.3, results
