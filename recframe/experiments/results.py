"""The results registry: one JSON line per finished run in ``<runs root>/index.jsonl``.

Each run directory is the source of truth (``run.json``, ``metrics.json``, ``config.yaml``); the
index is a cache of their summaries for listing, filtering, comparing and reporting, and
:func:`rescan` rebuilds it from the directories. Lines are appended with a single ``write`` on a
file opened in append mode, so concurrent runs do not interleave records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

INDEX = "index.jsonl"
PER_USER = "test_per_user.csv.gz"
EXPOSURE = "test_exposure.csv.gz"
# Keys that do not change what is computed: where the run is written, how it is logged and shown,
# and evaluation batching/workers (metrics are independent of them: tests/test_reliability.py).
_VOLATILE = {
    ("run", "dir"),
    ("run", "seed"),
    ("logger",),
    ("description",),
    ("reference",),
    ("trainer", "enable_progress_bar"),
    ("trainer", "enable_model_summary"),
    ("data", "num_workers"),
    ("data", "eval_batch_size"),
    # kernels that compute the same updates (up to float rounding), chosen for speed and memory
    ("module", "fused_optimizer"),
    ("loss", "block"),
}


def config_hash(cfg: dict[str, Any]) -> str:
    """Short hash of everything that defines the computation except the seed (and k-fold's fold).

    Runs with the same hash and different seeds or folds are repetitions of one configuration.
    """
    stable = {}
    for section, value in cfg.items():
        if (section,) in _VOLATILE or (section == "update" and not any(value.values())):
            continue  # a plain run (no update) hashes as it did before the update section existed
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if (section, k) not in _VOLATILE}
        stable[section] = value
    if stable.get("data", {}).get("split") == "kfold":  # folds, like seeds, are repetitions of one config
        args = dict(stable["data"].get("split_args") or {})
        args.pop("fold", None)
        stable["data"] = {**stable["data"], "split_args": args}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()[:12]


def dataset_label(dataset: dict[str, Any]) -> str:
    """``name[:variant][:file]``: how run records, reports and the datasets page name a dataset."""
    return ":".join(str(dataset[k]) for k in ("name", "variant", "file") if dataset.get(k) is not None)


def protocol(cfg: dict[str, Any], fingerprint: dict[str, int]) -> dict[str, Any]:
    """The protocol card of a run: what must match before two numbers may be compared."""
    data, dataset = cfg["data"], cfg["dataset"]
    negatives = data.get("eval_negatives")
    ranking = "full" if not negatives else f"sampled-{negatives}-{data.get('eval_sampling', 'uniform')}"
    if data.get("feedback") == "like":  # yes/no questions (TALLRec), no ranking
        ranking = f"like-window{data.get('like_window')}-samples{data.get('like_train_samples')}"
    return {
        "dataset": dataset_label(dataset),
        "fingerprint": fingerprint,
        "split": data["split"] if "split" in data else f"dialogue turns, {data['variant']}, per {data['unit']}",
        "split_args": data.get("split_args"),
        "ranking": ranking,
        "exclude_seen": cfg["module"]["exclude_seen"],
        "filters": {k: data.get(k) for k in ("min_rating", "k_core", "duplicates")},
        "max_len": data["max_len"],
    }


LOWER_IS_BETTER = ("rmse", "mae", "mse")


def meets_reference(metric: str, ours: float, published: float, tolerance: float) -> bool:
    """Whether ``ours`` reaches the published value within ``tolerance`` (relative), one-sided.

    Beating the paper never fails: for accuracy metrics ``ours >= published * (1 - tolerance)``;
    for errors (RMSE, MAE) ``ours <= published * (1 + tolerance)``.
    """
    name = metric.split("/")[-1].split("@")[0]
    if name in LOWER_IS_BETTER:
        return ours <= published * (1 + tolerance)
    return ours >= published * (1 - tolerance)


def protocol_label(card: dict[str, Any]) -> str:
    """A short label such as ``full, leave_one_out, seen masked``; sampled protocols say so first."""
    seen = "seen masked" if card["exclude_seen"] else "seen kept"
    return f"{card['ranking']}, {card['split']}, {seen}"


def summary(run_dir: Path) -> dict[str, Any] | None:
    """The index record of a finished run directory, or None if it did not finish."""
    record_path = run_dir / "run.json"
    if not record_path.is_file():
        return None
    record = json.loads(record_path.read_text(encoding="utf-8"))
    if record.get("status") != "finished":
        return None
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
    env = record.get("environment", {})
    return {
        "id": record.get("id", run_dir.name),
        "path": str(run_dir),
        "experiment": record.get("experiment"),
        "dataset": record.get("protocol", {}).get("dataset"),
        "backbone": record.get("backbone"),
        "loss": record.get("loss"),
        "protocol": record.get("protocol"),
        "config_hash": record.get("config_hash"),
        "git_commit": record.get("git", {}).get("commit"),
        "git_dirty": record.get("git", {}).get("dirty"),
        "seed": record.get("seed"),
        "started": record.get("started"),
        "ended": record.get("ended"),
        "wall_seconds": record.get("wall_seconds"),
        "fit_seconds": record.get("fit_seconds"),
        "epochs": record.get("epochs"),
        "hardware": {
            "processor": env.get("processor"),
            "cpu_count": env.get("cpu_count"),
            "torch_threads": env.get("torch_threads"),
            "cuda": env.get("cuda"),
        },
        "metrics": metrics,
        "per_user": (run_dir / PER_USER).is_file(),
    }


def append(root: Path, record: dict[str, Any]) -> None:
    """Add one record to ``root/index.jsonl`` (one ``write`` call in append mode)."""
    root.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
    fd = os.open(root / INDEX, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def load(root: Path) -> list[dict[str, Any]]:
    """All indexed runs under ``root`` (a truncated last line, e.g. after a kill, is skipped)."""
    path = root / INDEX
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def rescan(root: Path) -> list[dict[str, Any]]:
    """Rebuild ``root/index.jsonl`` from every finished run directory below ``root``."""
    records = [r for p in sorted(root.rglob("run.json")) if (r := summary(p.parent)) is not None]
    from recframe.experiments.runs import atomic_write

    atomic_write(root / INDEX, "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records))
    return records


def _parse_since(value: str | dt.date) -> dt.datetime:
    """A naive datetime from an ISO date or datetime (a date means its midnight; a time zone is dropped)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"not an ISO date or datetime: {value!r}; expected e.g. '2025-01-31' or '2025-01-31T12:00'"
            ) from None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return value.replace(tzinfo=None)


def filter_runs(
    records: list[dict[str, Any]],
    experiment: str | None = None,
    dataset: str | None = None,
    backbone: str | None = None,
    since: str | dt.date | None = None,
) -> list[dict[str, Any]]:
    """The records matching every given filter, in their original order.

    Args:
        records: index records (see :func:`load`).
        experiment: an experiment name or a glob such as ``beauty/*``.
        dataset: a protocol dataset such as ``s3rec:Beauty``, or a glob such as ``s3rec:*``.
        backbone: a backbone registry key, matched exactly.
        since: keep runs started at or after this ISO date or datetime; runs without a start time are dropped.
    """
    start = _parse_since(since) if since is not None else None
    kept = []
    for r in records:
        if experiment is not None and not fnmatchcase(str(r.get("experiment")), experiment):
            continue
        if dataset is not None and not fnmatchcase(str(r.get("dataset")), dataset):
            continue
        if backbone is not None and r.get("backbone") != backbone:
            continue
        if start is not None and (not r.get("started") or _parse_since(r["started"]) < start):
            continue
        kept.append(r)
    return kept


def runs_table(records: list[dict[str, Any]], metrics: tuple[str, ...] = ("test/ndcg@10", "test/hr@10")) -> Table:
    """A rich table of runs: id, experiment, seed, protocol, ``metrics``, wall seconds, commit, date.

    Sampled-protocol runs are marked with ``⚠`` and highlighted: their numbers are not comparable to
    full-ranking ones. A dirty working tree is marked ``*`` after the commit.
    """
    from rich.table import Table

    table = Table(title=f"{len(records)} runs")
    for name in ("id", "experiment", "seed", "protocol", *metrics, "wall s", "commit", "date"):
        table.add_column(name, justify="right" if name in (*metrics, "seed", "wall s") else "left")
    for r in records:
        card = r.get("protocol")
        label = protocol_label(card) if card else "unknown"
        if card and card["ranking"] != "full":
            label = f"[bold yellow]⚠ {label}[/bold yellow]"
        values = [f"{v:.4f}" if isinstance(v := r.get("metrics", {}).get(m), (int, float)) else "—" for m in metrics]
        wall = r.get("wall_seconds")
        commit = (r.get("git_commit") or "—")[:7] + ("*" if r.get("git_dirty") else "")
        started = (r.get("started") or "—").replace("T", " ")[:16]
        table.add_row(
            str(r.get("id")),
            str(r.get("experiment")),
            str(r.get("seed")),
            label,
            *values,
            f"{wall:.0f}" if isinstance(wall, (int, float)) else "—",
            commit,
            started,
        )
    return table
