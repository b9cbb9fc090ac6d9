"""``reproduce``: run an experiment over several seeds (and folds), compare with its paper, record it.

The comparison is only meaningful under the experiment's own protocol, so the protocol card of the
runs is stored with the result, and a sampled protocol is named in the table title.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from recframe.experiments import results
from recframe.experiments.config import load_config

REPRODUCTIONS = "reproductions.jsonl"


@dataclass(frozen=True)
class Row:
    """One metric of a reproduction: published value against ours over the repetitions."""

    metric: str
    published: float | None
    mean: float
    std: float
    n: int
    delta_pct: float | None
    within_tolerance: bool | None


def compare(reference: dict[str, Any], runs: list[dict[str, float]], extra: tuple[str, ...] = ()) -> list[Row]:
    """Rows for every published metric (and ``extra`` keys) over the runs' metric dicts.

    "Within tolerance" is :func:`recframe.experiments.results.meets_reference` (one-sided: beating the paper
    is never a failure).
    """
    published = reference.get("metrics") or {}
    tolerance = reference.get("tolerance", 0.1)
    rows = []
    for key in [*published, *[k for k in extra if k not in published]]:
        values = [m[key] for m in runs if key in m]
        if not values:
            raise KeyError(f"reference metric {key!r} was not produced by the runs; produced: {sorted(runs[0])}")
        mean = statistics.fmean(values)
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        pub = published.get(key)
        delta = within = None
        if pub:
            delta = (mean - pub) / pub * 100
            within = results.meets_reference(key, mean, pub, tolerance)
        rows.append(Row(key, pub, mean, std, len(values), delta, within))
    return rows


def reproduce(
    experiment: str, seeds: int = 1, folds: int | None = None, overrides: list[str] = (), *, echo=print
) -> dict[str, Any]:
    """Fit ``experiment`` for ``seeds`` seeds (× ``folds`` folds of a k-fold split) and compare.

    Returns the reproduction record, also appended to ``<run.dir>/reproductions.jsonl``.
    """
    from recframe.training import fitting

    if seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {seeds}")
    cfg = load_config(experiment, overrides)
    if folds is not None and cfg["data"]["split"] != "kfold":
        raise ValueError(f"--folds needs data.split=kfold; {experiment} uses {cfg['data']['split']!r}")
    base = cfg["run"]["seed"]
    repetitions = [(base + s, f) for s in range(seeds) for f in (range(folds) if folds else [None])]
    runs, metrics = [], []
    for seed, fold in repetitions:
        extra = [f"run.seed={seed}"] + ([f"data.split_args.fold={fold}"] if fold is not None else [])
        run, m = fitting.fit(experiment, [*overrides, *extra], echo=echo)
        runs.append({"id": run.id, "path": str(run.dir), "seed": seed, "fold": fold})
        metrics.append(m)
    folds_mean = _average_folds(repetitions, metrics) if folds else metrics
    record = {
        "experiment": experiment,
        "config_hash": results.config_hash(cfg),
        "overrides": list(overrides),
        "seeds": seeds,
        "folds": folds,
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "runs": runs,
        "rows": reference_rows(cfg["reference"], folds_mean),
        "reference": cfg["reference"],
        "protocol": results.summary(Path(runs[0]["path"]))["protocol"],
        "wall_seconds": [results.summary(Path(r["path"]))["wall_seconds"] for r in runs],
    }
    _append_line(Path(cfg["run"]["dir"]) / REPRODUCTIONS, record)
    return record


def reference_rows(reference: dict[str, Any], runs: list[dict[str, float]]) -> list[dict[str, Any]]:
    """The record rows of :func:`compare`: every published metric, plus HR@10 / NDCG@10 when ranked."""
    shown = ("test/hr@10", "test/ndcg@10") if "test/hr@10" in runs[0] else ()
    return [asdict(r) for r in compare(reference, runs, extra=shown)]


def _average_folds(
    repetitions: list[tuple[int, int | None]], metrics: list[dict[str, float]]
) -> list[dict[str, float]]:
    """One metric dict per seed: the mean over its folds (k-fold CV reports the fold average)."""
    by_seed: dict[int, list[dict[str, float]]] = {}
    for (seed, _), m in zip(repetitions, metrics, strict=True):
        by_seed.setdefault(seed, []).append(m)
    return [{k: statistics.fmean(m[k] for m in ms) for k in ms[0]} for ms in by_seed.values()]


def _append_line(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line with a single ``write`` (records of parallel runs never interleave)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(record, sort_keys=True, default=str) + "\n").encode())
    finally:
        os.close(fd)


def format_value(x: float | None, digits: int = 4) -> str:
    """A metric value for tables: ``—`` for missing or NaN."""
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"
