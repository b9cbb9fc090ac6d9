"""The reproductions results page (leaderboard, reproductions, fairness report, plots) from recorded runs.

:func:`publish` copies the small records — ``config.yaml``, ``run.json``, ``metrics.json`` and the exposure
counts — of each experiment's most recent configuration to ``<out>/runs/<experiment>/<run id>/``, so every
number traces to a run and a commit, writes their index (``index.jsonl``) and the pooled reproduction
records (``reproductions.jsonl``); :func:`render` builds the pages from those published records only, so
re-rendering committed records gives the same pages (``docs/gen_results.py --check``).
"""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

from omegaconf import OmegaConf

from recframe.experiments import results
from recframe.experiments.config import reference_sections
from recframe.experiments.reproduce import REPRODUCTIONS, reference_rows
from recframe.reporting.report import _duration, build_report, build_reproductions, latest_per_experiment
from recframe.reporting.report_fairness import build_fairness_report

RECORDS = ("config.yaml", "run.json", "metrics.json", results.EXPOSURE)
METRICS = ("test/hr@10", "test/ndcg@10")
SUMMARY = "summary.md"  # the table alone, included by docs/reproductions.md and docs/results.md


def rehash(record: dict) -> dict:
    """The record with its config hash recomputed from its saved config by today's rule.

    (Runs recorded before k-fold folds became repetitions carry one hash per fold.)
    """
    cfg = OmegaConf.to_container(OmegaConf.load(Path(record["path"]) / "config.yaml"))
    return {**record, "config_hash": results.config_hash(cfg)}


def latest_configs(records: list[dict]) -> list[dict]:
    """The runs of each experiment's most recently started configuration."""
    latest: dict[str, str] = {}
    for record in sorted(records, key=lambda r: r.get("started") or ""):
        latest[record["experiment"]] = record["config_hash"]
    return [r for r in records if latest.get(r["experiment"]) == r["config_hash"]]


def merge_seed_records(summaries: list[dict], metrics_by_id: dict[str, dict]) -> list[dict]:
    """One ``reproduce`` record per experiment and configuration, its seeds pooled.

    A reproduction extended later with more seeds (``reproduce X --seeds 2 run.seed=43``) leaves
    two records of the same configuration; the report shows their runs together, mean ± std over
    every seed, also when some came from an interrupted ``reproduce`` (:func:`orphan_records`,
    then marked as partly assembled). k-fold records are kept as they are (their rows are fold
    means).
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    for summary in sorted(summaries, key=lambda s: s.get("date") or ""):
        key = (summary["experiment"], summary["config_hash"] if not summary.get("folds") else summary["date"])
        groups.setdefault(key, []).append(summary)
    merged = []
    for group in groups.values():
        if len(group) == 1:
            merged.append(group[0])
            continue
        runs = list({run["id"]: run for s in group for run in s["runs"]}.values())
        metrics = [metrics_by_id[run["id"]] for run in runs]
        latest = group[-1]
        record = {
            **latest,
            "seeds": len({run["seed"] for run in runs}),
            "runs": runs,
            "rows": reference_rows(latest["reference"], metrics),
            "wall_seconds": [w for s in group for w in s["wall_seconds"]],
        }
        if any(s.get("assembled") for s in group):
            record["assembled"] = "partly from finished runs of an interrupted `reproduce`"
        merged.append(record)
    return merged


def orphan_records(published: list[dict], summaries: list[dict], references: dict[str, dict]) -> list[dict]:
    """A record for each experiment whose published runs no ``reproduce`` record covers.

    ``reproduce --seeds N`` writes its record after the last seed, so stopping it early leaves
    finished runs without one; they are reported from their own records, marked as assembled.
    """
    covered = {run["id"] for s in summaries for run in s["runs"]}
    by_experiment: dict[str, list[dict]] = {}
    for record in published:
        if record["id"] not in covered and (references.get(record["experiment"]) or {}).get("metrics"):
            by_experiment.setdefault(record["experiment"], []).append(record)
    out = []
    for name, runs in sorted(by_experiment.items()):
        runs = sorted(runs, key=lambda r: r.get("started") or "")
        metrics = [r["metrics"] for r in runs]
        out.append(
            {
                "experiment": name,
                "config_hash": runs[-1]["config_hash"],
                "overrides": [],
                "seeds": len({r["seed"] for r in runs}),
                "folds": None,
                "date": runs[-1].get("ended") or runs[-1].get("started"),
                "runs": [{"id": r["id"], "path": r["path"], "seed": r["seed"], "fold": None} for r in runs],
                "rows": reference_rows(references[name], metrics),
                "reference": references[name],
                "protocol": runs[-1].get("protocol"),
                "wall_seconds": [r.get("wall_seconds") for r in runs],
                "assembled": "from finished runs of an interrupted `reproduce`",
            }
        )
    return out


def pooled_records(published: list[dict], summaries: list[dict], references: dict[str, dict]) -> list[dict]:
    """The reproduction records to report: ``reproduce`` records plus records assembled for finished
    runs none covers (:func:`orphan_records`), seeds of one configuration pooled into one record."""
    summaries = summaries + orphan_records(published, summaries, references)
    return merge_seed_records(summaries, {r["id"]: r["metrics"] for r in published})


def publish(runs: Path, out: Path) -> list[dict]:
    """Copy the records of each experiment's latest configuration under ``runs`` to ``out/runs`` and index them.

    ``runs`` is a runs root (``index.jsonl``, ``reproductions.jsonl``); ``out/runs`` is replaced. Returns the
    published records. Then :func:`render` ``out``.
    """
    chosen = latest_configs([rehash(r) for r in results.rescan(runs)])
    runs_out = out / "runs"
    shutil.rmtree(runs_out, ignore_errors=True)
    published = []
    for record in chosen:
        source = Path(record["path"])
        target = runs_out / record["experiment"] / record["id"]
        target.mkdir(parents=True)
        for name in RECORDS:
            if (source / name).is_file():
                shutil.copy2(source / name, target / name)
        published.append({**record, "path": str(target)})
    (out / results.INDEX).write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in published))
    ids = {r["id"] for r in published}
    summaries = [s for s in read_records(runs / REPRODUCTIONS) if all(run["id"] in ids for run in s["runs"])]
    summaries = pooled_records(published, summaries, reference_sections({r["experiment"] for r in published}))
    (out / REPRODUCTIONS).write_text("".join(json.dumps(s, sort_keys=True) + "\n" for s in summaries))
    return published


def render(published: Path, out: Path | None = None) -> list[Path]:
    """Write ``leaderboard.md``, ``reproductions.md``, ``fairness.md``, their plots and ``summary.md`` (one row
    per experiment) from a published folder.

    ``published`` holds ``index.jsonl`` and ``reproductions.jsonl`` as :func:`publish` wrote them; the pages go
    to ``out`` (default: the same folder). The generated-by date is the newest run's, so the pages depend on
    the records alone.
    """
    out = out or published
    records = results.load(published)
    summaries = read_records(published / REPRODUCTIONS)
    generated = newest_date(records)
    written = build_report(records, reference_sections({r["experiment"] for r in records}), out, METRICS, generated)
    written.append(build_reproductions(summaries, out, generated))
    fair = [r for r in records if any(k.startswith(("test/fair/", "test/exposure/")) for k in r["metrics"])]
    if fair:
        written += build_fairness_report(fair, out, generated=generated)
    (out / SUMMARY).write_text(summary_table(summaries), encoding="utf-8")
    return [*written, out / SUMMARY]


def newest_date(records: list[dict]) -> str | None:
    """The ISO date the newest of ``records`` ended (None without records)."""
    dates = [str(r.get("ended") or r.get("started") or "")[:10] for r in records]
    return max((d for d in dates if d), default=None)


def read_records(path: Path) -> list[dict]:
    """The JSON lines of ``path`` (``reproductions.jsonl``), none when the file is absent."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def headline_rows(summary: dict) -> list[dict]:
    """The rows a summary shows: metrics at cut-off 10 (or RMSE/MAE), or every row if none qualify."""
    rows = [r for r in summary["rows"] if r["metric"].endswith("@10") or r["metric"] in ("test/rmse", "test/mae")]
    published = [r for r in rows if r["published"] is not None]
    return published or rows or summary["rows"]


def short_source(reference: dict) -> str:
    """``Zhou et al. (S3-Rec), CIKM 2020`` from a reference block's ``paper`` and ``venue``."""
    paper = reference.get("paper") or ""
    if not paper:
        return "— (no reference)"
    author, _, rest = paper.partition(', "')
    title, _, after = rest.partition('"')
    venue = reference.get("venue") or after.strip(" ,")
    short = f"{author} ({title.split(':')[0]})" if title else author
    return f"{short}, {venue.split(' (')[0]}" if venue else short


def summary_table(summaries: list[dict]) -> str:
    """Published vs ours at each experiment's headline metrics (its latest record), one row per metric."""
    latest = latest_per_experiment(summaries)
    lines = [
        "| experiment | published in | seeds | wall / run | metric | published | ours | Δ% | ok |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in sorted(latest):
        s = latest[name]
        walls = [w for w in s.get("wall_seconds", []) if isinstance(w, (int, float))]
        seeds = f"{s['seeds']} × {s['folds']} folds" if s.get("folds") else str(s["seeds"])
        first = [f"`{name}`", short_source(s.get("reference") or {}), seeds]
        first.append(_duration(statistics.median(walls)) if walls else "—")
        for i, r in enumerate(headline_rows(s)):
            published = "—" if r["published"] is None else f"{r['published']:.4f}"
            ours = f"{r['mean']:.4f}" + (f" ± {r['std']:.4f}" if r["n"] > 1 else "")
            delta = "—" if r["delta_pct"] is None else f"{r['delta_pct']:+.0f}"
            ok = {True: "✓", False: "✗", None: "—"}[r["within_tolerance"]]
            cells = (first if i == 0 else [""] * 4) + [r["metric"].removeprefix("test/"), published, ours, delta, ok]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
