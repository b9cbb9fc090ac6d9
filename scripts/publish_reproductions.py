"""Publish recorded reproduction runs into docs/reproductions/ (records, leaderboard, plots).

For every experiment it keeps the runs of its most recent configuration (the config hash of the
latest run), copies their small records — ``config.yaml``, ``run.json``, ``metrics.json`` — to
``docs/reproductions/runs/<experiment>/<run id>/`` so every number traces to a run and a commit,
writes their index (``index.jsonl``) and the reproduction summaries (``reproductions.jsonl``), and
builds the leaderboard and fairness report from them.
Run: python scripts/publish_reproductions.py --runs /path/to/runs [--out docs/reproductions]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from omegaconf import OmegaConf

from recframe.cli import _references
from recframe.experiments import results
from recframe.experiments.reproduce import reference_rows
from recframe.reporting.report import build_report, build_reproductions
from recframe.reporting.report_fairness import build_fairness_report

RECORDS = ("config.yaml", "run.json", "metrics.json", results.EXPOSURE)
METRICS = ("test/hr@10", "test/ndcg@10")


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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", required=True, type=Path, help="runs root holding index.jsonl")
    p.add_argument("--out", default=Path("docs/reproductions"), type=Path)
    args = p.parse_args()
    chosen = latest_configs([rehash(r) for r in results.rescan(args.runs)])
    runs_out = args.out / "runs"
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
    (args.out / results.INDEX).write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in published))
    ids = {r["id"] for r in published}
    summaries = []
    reproductions = args.runs / "reproductions.jsonl"
    for line in reproductions.read_text().splitlines() if reproductions.is_file() else []:
        summary = json.loads(line)
        if all(run["id"] in ids for run in summary["runs"]):
            summaries.append(summary)
    references = _references({r["experiment"] for r in published})
    summaries = pooled_records(published, summaries, references)
    (args.out / "reproductions.jsonl").write_text("".join(json.dumps(s, sort_keys=True) + "\n" for s in summaries))
    written = build_report(published, references, args.out, METRICS)
    written.append(build_reproductions(summaries, args.out))
    fair = [r for r in published if any(k.startswith(("test/fair/", "test/exposure/")) for k in r["metrics"])]
    if fair:
        written += build_fairness_report(fair, args.out)
    print(f"published {len(published)} runs of {len({r['experiment'] for r in published})} experiments")
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
