"""Config loading: every experiment builds; unknown keys, bad types and names fail clearly."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from recframe.data import CONVERSATIONAL
from recframe.experiments.config import (
    ConfigError,
    find_experiment,
    list_experiments,
    load_config,
    read_experiment,
    validate,
)
from recframe.training import engine

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
    if module.trainable:  # one optimiser step moves every parameter the loss reached
        optimiser = module.configure_optimizers()
        before = {n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad}
        optimiser.zero_grad()
        loss.backward()
        reached = [n for n, p in module.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0]
        assert reached, f"{name}: the training loss reaches no parameter"
        optimiser.step()
        params = dict(module.named_parameters())
        assert [n for n in reached if torch.equal(params[n].detach(), before[n])] == []
    else:
        assert not loss.requires_grad
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
    from recframe.experiments.config import schema_of

    def loader(name: str = "a") -> None: ...

    with pytest.raises(ValueError, match="clashes with the registry key"):
        schema_of(loader, (), "x")


def test_constructor_hints_become_the_types_omegaconf_checks():
    import collections.abc
    import typing
    from typing import Any

    from recframe.experiments.config import _omegaconf_type

    expected = {
        int: int,
        bool: bool,
        int | None: typing.Optional[int],  # noqa: UP045 (what OmegaConf is given)
        float | str: Any,
        list[int]: list[int],
        tuple[float, ...]: list[float],
        collections.abc.Sequence[str]: list[str],
        tuple[float, float]: Any,  # fixed length: OmegaConf has no such type
        tuple[float, float] | None: Any,
        list[Any] | None: Any,
        dict[str, float]: dict[str, Any],
        Any: Any,
    }
    assert {hint: _omegaconf_type(hint) for hint in expected} == expected


def test_overrides_delete_nested_keys_and_bad_ones_say_so_on_one_line():
    from recframe.experiments.config import apply_overrides

    cfg = OmegaConf.create({"a": {"b": {"c": 1, "d": 2}, "e": 3}, "f": 4})
    assert OmegaConf.to_container(apply_overrides(cfg, ["~a.b.c", "~f", "a.e=5"])) == {"a": {"b": {"d": 2}, "e": 5}}
    assert OmegaConf.to_container(cfg) == {"a": {"b": {"c": 1, "d": 2}, "e": 3}, "f": 4}  # the input is untouched
    with pytest.raises(ConfigError, match=r"cannot delete 'a\.b\.x': no such key"):
        apply_overrides(cfg, ["~a.b.x"])
    with pytest.raises(ConfigError, match="neither key=value"):
        apply_overrides(cfg, ["a.e"])
    with pytest.raises(ConfigError, match=r"^bad override: while parsing a flow sequence") as err:
        apply_overrides(cfg, ["a.e=[1, 2"])  # not YAML: a ConfigError, not a traceback from the YAML parser
    assert "\n" not in str(err.value)


def test_experiments_from_the_environment_folder_by_path_and_extends_with_suffix(tmp_path, monkeypatch):
    from recframe.experiments.config import experiments_dir

    (tmp_path / "_base.yaml").write_text("backbone:\n  name: mf\n  dim: 8\n")
    (tmp_path / "mine.yaml").write_text("extends: _base.yaml\nbackbone:\n  dim: 4\n")
    (tmp_path / "other.yml").write_text("description: a .yml file\n")
    (tmp_path / "notes.txt").write_text("backbone: {}\n")
    monkeypatch.setenv("RECFRAME_EXPERIMENTS", str(tmp_path))
    assert experiments_dir() == tmp_path and list_experiments() == ["mine"]
    cfg = load_config("mine", ["logger.name=none"])
    assert (cfg["backbone"]["name"], cfg["backbone"]["dim"]) == ("mf", 4) and cfg["description"] == ""
    assert find_experiment(str(tmp_path / "other.yml")) == tmp_path / "other.yml"
    assert find_experiment(str(tmp_path / "mine.yaml")) == tmp_path / "mine.yaml"  # a path, not a name
    assert load_config(str(tmp_path / "other.yml"))["description"] == "a .yml file"
    with pytest.raises(ConfigError, match="unknown experiment"):
        find_experiment(str(tmp_path / "notes.txt"))


def test_interpolations_are_resolved_within_and_across_sections():
    over = ["module.weight_decay=0.25", "module.lr=${.weight_decay}", "data.max_len=${backbone.dim}"]
    cfg = load_config("default", ["logger.name=none", *over])
    assert cfg["module"]["lr"] == 0.25 and cfg["data"]["max_len"] == cfg["backbone"]["dim"] == 64
    from recframe.experiments.config import apply_overrides

    raw = apply_overrides(read_experiment(find_experiment("default")), over)
    validate(raw)
    assert OmegaConf.to_container(raw)["data"]["max_len"] == "${backbone.dim}"  # the caller's config is untouched
    with pytest.raises(ConfigError, match=r"bad interpolation: Interpolation key 'nope\.lr' not found"):
        load_config("default", ["logger.name=none", "module.lr=${nope.lr}"])
