"""Experiment configs: find, load (one level of ``extends``), override, validate, resolve.

Each top-level section feeds one constructor and its keys are that constructor's parameter names,
so the schema is read from the signatures themselves: an unknown key fails at start-up with the
known names listed, and a value of the wrong type fails with the key's full path. OmegaConf stops
here: :func:`load_config` returns plain dicts.
"""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import inspect
import os
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from omegaconf import MISSING, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

TOP_LEVEL = (
    "description",
    "dataset",
    "data",
    "backbone",
    "loss",
    "module",
    "metrics",
    "trainer",
    "run",
    "logger",
    "reference",
    "update",
)


class ConfigError(ValueError):
    """A config problem the user must fix: bad key, bad type, unknown name, missing file."""


@dataclasses.dataclass
class RunSettings:
    """The ``run`` section: what the run itself needs beyond the constructors."""

    seed: int = 0
    monitor: str | None = "val/ndcg@10"
    mode: str = "max"
    patience: int | None = 10
    dir: str = "runs"


@dataclasses.dataclass
class LoggerSettings:
    """The ``logger`` section: ``wandb`` (offline unless an account is configured), ``csv`` or ``none``."""

    name: str = "wandb"
    project: str = "recframe"
    mode: str = "auto"
    entity: str | None = None


@dataclasses.dataclass
class UpdateSettings:
    """The ``update`` section (set by ``python -m recframe update``): a parent run and the feedback it folds in.

    ``feedback`` (a CSV or chat transcript) is appended to the dataset before the split; ``parent``
    (a run directory) warm-starts the model (:mod:`recframe.training.feedback`). Both empty: a plain run.
    """

    parent: str | None = None
    feedback: str | None = None


@dataclasses.dataclass
class ReferenceSettings:
    """The ``reference`` section: the published numbers an experiment reproduces.

    ``metrics`` maps recframe metric keys (``test/hr@10``) to the published values; a result is
    within tolerance when it reaches the published value up to ``tolerance`` (relative); beating
    it never fails (:func:`recframe.experiments.results.meets_reference`).
    """

    paper: str = ""
    venue: str = ""
    table: str = ""
    url: str = ""
    protocol: str = ""
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    tolerance: float = 0.1
    note: str = ""


def experiments_dir() -> Path:
    """``$RECFRAME_EXPERIMENTS``, else ``./experiments``, else the ``experiments/`` beside the package."""
    env = os.environ.get("RECFRAME_EXPERIMENTS")
    if env:
        return Path(env)
    local = Path.cwd() / "experiments"
    return local if local.is_dir() else Path(__file__).resolve().parents[2] / "experiments"


def list_experiments(root: Path | None = None) -> list[str]:
    """Experiment names (paths under the experiments folder, no suffix); ``_*.yaml`` are bases."""
    root = root or experiments_dir()
    return sorted(
        p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.yaml") if not p.name.startswith("_")
    )


def find_experiment(name: str, root: Path | None = None) -> Path:
    """Path of experiment ``name`` (or ``name`` itself if it is a YAML file)."""
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        return Path(name)
    root = root or experiments_dir()
    path = root / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown experiment {name!r} (looked in {root}); known: {list_experiments(root)}")
    return path


def read_experiment(path: Path) -> Any:
    """Load one YAML file and merge it over its ``extends`` base (at most one level)."""
    cfg = OmegaConf.load(path)
    base_name = cfg.pop("extends", None)
    if base_name is None:
        return cfg
    base_path = path.parent / f"{base_name}.yaml" if not str(base_name).endswith(".yaml") else path.parent / base_name
    if not base_path.is_file():
        base_path = find_experiment(str(base_name))
    base = OmegaConf.load(base_path)
    if "extends" in base:
        raise ConfigError(f"{base_path} extends {base.extends!r}: only one level of extends is allowed")
    return OmegaConf.merge(base, cfg)


def reference_sections(experiments: Iterable[str]) -> dict[str, dict]:
    """The ``reference`` section (published numbers) of each named experiment that still exists under experiments/."""
    out = {}
    for name in sorted({e for e in experiments if e}):
        try:
            cfg = read_experiment(find_experiment(name))
        except ConfigError:
            continue
        out[name] = OmegaConf.to_container(cfg.get("reference") or OmegaConf.create({}))
    return out


def _omegaconf_type(hint: Any) -> Any:
    """The closest type OmegaConf can validate, or ``Any``."""
    if hint in (int, float, str, bool):
        return hint
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1 and len(args) == 2:
            t = _omegaconf_type(inner[0])
            return Any if t is Any else typing.Optional[t]  # noqa: UP045 (OmegaConf needs a runtime type)
        return Any
    if origin in (list, tuple, collections.abc.Sequence) and args:
        t = _omegaconf_type(args[0])
        ok = origin is not tuple or (len(args) == 2 and args[1] is Ellipsis)
        return list[t] if ok and t is not Any else Any
    if origin in (dict, collections.abc.Mapping):
        return dict[str, Any]
    return Any


def schema_of(fn: Callable, skip: Iterable[str], name: str | None = None) -> type:
    """A dataclass whose fields are ``fn``'s keyword parameters (minus ``skip``), for validation."""
    target = fn.__init__ if inspect.isclass(fn) else fn
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # third-party signatures may name types we cannot resolve; validate names only
        hints = {}
    fields: list[tuple[str, Any, Any]] = [("name", str, dataclasses.field(default=name))] if name else []
    for p in inspect.signature(target).parameters.values():
        if p.name in skip or p.name == "self" or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        if name and p.name == "name":
            raise ValueError(f"{fn!r} has a parameter 'name', which clashes with the registry key of its section")
        default = MISSING if p.default is inspect.Parameter.empty else p.default
        t = _omegaconf_type(hints.get(p.name, Any))
        if isinstance(default, (list, tuple, dict)):
            spec = dataclasses.field(default_factory=lambda d=default: list(d) if not isinstance(d, dict) else dict(d))
        else:
            spec = dataclasses.field(default=default)
        fields.append((p.name, t, spec))
    return dataclasses.make_dataclass(f"{getattr(fn, '__name__', 'section')}_config", fields)


def _section_schemas(cfg: Any) -> dict[str, type]:
    """Schema of every section; registry sections depend on the chosen ``name``."""
    import lightning.pytorch as pl

    from recframe.backbones import BACKBONES
    from recframe.data import DATASETS, datamodule_class
    from recframe.losses import LOSSES
    from recframe.metrics.suite import EvaluationMetrics
    from recframe.module import RecModule

    def registry_schema(section: str, registry: Any, skip: tuple[str, ...], default: str) -> type:
        name = cfg.get(section, {}).get("name", default)
        try:
            fn = registry.get(name)
        except KeyError as err:
            raise ConfigError(f"{section}.name: {err.args[0]}") from None
        return schema_of(fn, skip, name)

    return {
        "dataset": registry_schema("dataset", DATASETS, (), "synthetic"),
        "data": schema_of(
            datamodule_class(cfg.get("dataset", {}).get("name", "synthetic")),
            ("log", "dialogues", "sequential", "seed"),
        ),
        "backbone": registry_schema("backbone", BACKBONES, ("spec",), "sasrec"),
        "loss": registry_schema("loss", LOSSES, ("query", "items", "labels", "ratings"), "ce"),
        "module": schema_of(
            RecModule, ("backbone", "loss", "meta", "val_metrics", "test_metrics", "train_keys", "train_items")
        ),
        "metrics": schema_of(EvaluationMetrics, ("spec",)),
        "trainer": schema_of(
            pl.Trainer, ("logger", "callbacks", "default_root_dir", "use_distributed_sampler", "enable_checkpointing")
        ),
        "run": RunSettings,
        "logger": LoggerSettings,
        "reference": ReferenceSettings,
        "update": UpdateSettings,
    }


def validate_section(schema: type, values: Any, where: str) -> dict[str, Any]:
    """``values`` checked against ``schema`` (from :func:`schema_of`), defaults filled, as a plain dict.

    ``where`` is the section's dotted path for messages (``backbone.items.text``); nested sections
    that feed their own constructor (the item encoder's parts) are validated with this too.
    """
    if not OmegaConf.is_dict(values) and not isinstance(values, dict):
        raise ConfigError(f"config section {where!r} must be a mapping, got {values!r}")
    known = [f.name for f in dataclasses.fields(schema)]
    for key in values:
        if key not in known:
            raise ConfigError(f"unknown key {where}.{key}; known keys of {where!r}: {known}")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), values)
    except OmegaConfBaseException as err:
        raise ConfigError(f"bad value in section {where!r}: {err}".replace("\n", " ")) from None
    try:
        return OmegaConf.to_container(merged, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as err:
        raise ConfigError(f"missing required value {where}.{err.key} (set {where}.{err.key}=...)") from None


def validate(cfg: Any) -> dict[str, Any]:
    """Check every key and type against the constructors; return the resolved config as plain dicts."""
    unknown = [k for k in cfg if k not in TOP_LEVEL]
    if unknown:
        raise ConfigError(f"unknown config section {unknown[0]!r}; known: {list(TOP_LEVEL)}")
    if OmegaConf.is_config(cfg):  # sections are validated one by one: resolve `${other.section}` first
        cfg = copy.deepcopy(cfg)
        try:
            OmegaConf.resolve(cfg)
        except OmegaConfBaseException as err:
            raise ConfigError(f"bad interpolation: {err}".replace("\n", " ")) from None
    out: dict[str, Any] = {"description": str(cfg.get("description", ""))}
    for section, schema in _section_schemas(cfg).items():
        user = cfg.get(section) or OmegaConf.create({})
        resolved = validate_section(schema, user, section)
        # Trainer defaults belong to Lightning: keep only what the experiment sets, so the saved
        # config stays readable and a Lightning upgrade's new defaults are not frozen into it.
        out[section] = {k: resolved[k] for k in user} if section == "trainer" else resolved
    return out


def apply_overrides(cfg: Any, overrides: Iterable[str]) -> Any:
    """Merge dotlist ``key=value`` overrides; ``~key`` deletes a key (e.g. when switching backbone)."""
    sets, deletes = [], []
    for o in overrides:
        if o.startswith("~"):
            deletes.append(o[1:])
        elif "=" in o:
            sets.append(o)
        else:
            raise ConfigError(f"override {o!r} is neither key=value (e.g. backbone.layers=1) nor ~key (delete a key)")
    cfg = copy.deepcopy(cfg)
    for key in deletes:
        *parents, leaf = key.split(".")
        node = OmegaConf.select(cfg, ".".join(parents)) if parents else cfg
        if node is None or not OmegaConf.is_dict(node) or leaf not in node:
            raise ConfigError(f"cannot delete {key!r}: no such key")
        node.pop(leaf)
    try:
        return OmegaConf.merge(cfg, OmegaConf.from_dotlist(sets))
    except (OmegaConfBaseException, yaml.YAMLError) as err:  # a value that is no YAML: `ks=[1, 2`
        raise ConfigError(f"bad override: {err}".replace("\n", " ")) from None


def load_config(experiment: str, overrides: Iterable[str] = ()) -> dict[str, Any]:
    """Experiment ``experiment`` with overrides (``backbone.layers=1``, ``~backbone.heads``), validated."""
    return validate(apply_overrides(read_experiment(find_experiment(experiment)), overrides))


def to_yaml(cfg: dict[str, Any]) -> str:
    """A resolved config as YAML (what ``config.yaml`` of a run holds)."""
    return OmegaConf.to_yaml(OmegaConf.create(cfg))
