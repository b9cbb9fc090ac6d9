"""Config loading: every experiment builds; unknown keys, bad types and names fail clearly."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from recframe import engine
from recframe.config import ConfigError, find_experiment, list_experiments, load_config, read_experiment, validate
from recframe.data import CONVERSATIONAL

TINY_DATA = {"name": "synthetic", "n_users": 40, "n_items": 30, "min_length": 5, "max_length": 12}
TINY_DIALOGUES = {"name": "synthetic_dialogues", "n_train": 30, "n_test": 10, "n_items": 12}


def test_experiments_exist():
    names = list_experiments()
    assert "default" in names
    assert not any(n.split("/")[-1].startswith("_") for n in names)


@pytest.mark.parametrize("name", list_experiments())
def test_every_experiment_builds_and_steps_on_synthetic_data(name, tmp_path, data_env):
    raw = read_experiment(find_experiment(name))
    assert raw.get("description"), f"{name} has no description"
    header = find_experiment(name).read_text().splitlines()[0]
    assert header.startswith("#"), f"{name} must start with a header comment"
    conversational = raw.dataset.name in CONVERSATIONAL
    raw.dataset = OmegaConf.create(TINY_DIALOGUES if conversational else TINY_DATA)
    raw.run = OmegaConf.merge(raw.get("run", {}), {"dir": str(tmp_path)})
    if "data" in raw:
        for key in ("k_core", "min_rating", "fingerprint", "like_train_samples"):  # facts of the real dataset
            raw.data.pop(key, None)
    if raw.get("metrics", {}).get("user_groups"):  # the synthetic world's user attributes
        raw.metrics.user_groups = ["gender", "activity"]
    if raw.get("backbone", {}).get("name") in ("text_rating", "majority"):  # rating classifiers need 1-5 ratings
        raw.dataset.rated = True
        if raw.backbone.name == "text_rating":
            raw.backbone.merge_with({"lm_dim": 8, "layers": 1, "user_tokens": 8, "item_tokens": 4})
            raw.backbone.user_template, raw.backbone.item_template = "{gender}", "{title} {genre}"
    if raw.get("backbone", {}).get("name") == "lm":  # a smaller language model and tokenizer for speed
        raw.backbone.merge_with({"lm_dim": 8, "layers": 1, "item_tokens": 4})
        raw.backbone.template = "{title}"
    if raw.get("backbone", {}).get("text"):  # the zero-shot text backbones
        raw.backbone.text.template = "{title} ({genres})" if conversational else "{title} ({genre})"
        raw.backbone.text.progress = False
    items = raw.get("backbone", {}).get("items")
    if items:  # the synthetic world's item columns
        if items.get("attributes"):
            items.attributes = ["genre"]
        if items.get("text"):
            items.text.template = "{title} ({genres})" if conversational else "{title} ({genre})"
        if items.get("vectors"):  # precomputed vectors of the synthetic catalogue, written here
            import numpy as np

            n = TINY_DIALOGUES["n_items"] if conversational else TINY_DATA["n_items"]
            ids = np.array([str(k) for k in range(1, n + 1)]) if conversational else np.arange(n)
            np.savez(tmp_path / "vectors.npz", ids=ids, vectors=np.random.default_rng(0).normal(size=(n, 4)))
            items.vectors.path = str(tmp_path / "vectors.npz")
            items.text.progress = False
    cfg = validate(raw)
    data = engine.build_data(cfg)
    module = engine.build_module(cfg, data, name)
    batch = next(iter(data.train_dataloader()))
    loss = module.training_step(batch, 0)
    assert torch.isfinite(loss)
    eval_batch = next(iter(data.test_dataloader()))
    module.test_step(eval_batch, 0)
    values = module.metrics["test"].compute()
    key = {"rating": "rmse", "like": "auc"}.get(data.feedback, "ndcg@10")
    assert float(values[key]) >= 0.0 and (key == "rmse" or float(values[key]) <= 1.0)


def test_unknown_key_lists_known_keys():
    with pytest.raises(ConfigError, match=r"unknown key backbone.dimm; known keys of 'backbone': \['name', 'dim'"):
        load_config("default", ["backbone.dimm=3"])


def test_wrong_type_names_key():
    with pytest.raises(ConfigError, match="dim"):
        load_config("default", ["backbone.dim=abc"])


def test_unknown_backbone_lists_known():
    known = (
        "'bm25', 'cooccurrence', 'dialogue', 'gpt2', 'lm', 'majority', 'mf', 'pop', 'preference', 'repeat', "
        "'rnn', 'sasrec', 'text_rating', 'textmatch', 'zeroshot'"
    )
    with pytest.raises(ConfigError, match=rf"unknown backbone 'gtp2'; known: \[{known}\]"):
        load_config("default", ["backbone.name=gtp2"])


def test_unknown_section_and_experiment():
    with pytest.raises(ConfigError, match="unknown config section 'optimizer'"):
        load_config("default", ["optimizer.lr=1"])
    with pytest.raises(ConfigError, match=r"unknown experiment 'nope'.*default"):
        load_config("nope")


def test_override_syntax_and_delete():
    with pytest.raises(ConfigError, match="key=value"):
        load_config("default", ["backbone.layers"])
    cfg = load_config("default", ["backbone.name=mf", "~backbone.layers", "~backbone.heads", "~backbone.dropout"])
    assert cfg["backbone"] == {"name": "mf", "dim": 64, "biased": False, "items": None}
    with pytest.raises(ConfigError, match="cannot delete"):
        load_config("default", ["~backbone.nothing"])


def test_defaults_are_filled_and_trainer_keeps_only_given_keys():
    cfg = load_config("default")
    assert cfg["module"]["exclude_seen"] is True and cfg["run"]["monitor"] == "val/ndcg@10"
    assert set(cfg["trainer"]) == {"max_epochs", "accelerator", "devices", "log_every_n_steps"}
    with pytest.raises(ConfigError, match=r"trainer\.max_epoch"):
        load_config("default", ["trainer.max_epoch=3"])


def test_one_level_of_extends(tmp_path):
    (tmp_path / "_a.yaml").write_text("backbone: {name: mf}\n")
    (tmp_path / "_b.yaml").write_text("extends: _a\nbackbone: {dim: 8}\n")
    (tmp_path / "c.yaml").write_text("# c\nextends: _b\n")
    (tmp_path / "d.yaml").write_text("# d\nextends: _a\nbackbone: {dim: 8}\n")
    assert OmegaConf.to_container(read_experiment(tmp_path / "d.yaml"))["backbone"] == {"name": "mf", "dim": 8}
    with pytest.raises(ConfigError, match="only one level"):
        read_experiment(tmp_path / "c.yaml")


def test_required_loader_argument_is_reported_missing():
    with pytest.raises(ConfigError, match=r"missing required value dataset\.path"):
        load_config("default", ["dataset={name: csv}"])
    cfg = load_config("default", ["dataset={name: csv, path: /x.csv}"])
    assert cfg["dataset"]["path"] == "/x.csv"


def test_a_name_parameter_clashes_with_the_registry_key():
    from recframe.config import schema_of

    def loader(name: str = "a") -> None: ...

    with pytest.raises(ValueError, match="clashes with the registry key"):
        schema_of(loader, (), "x")
