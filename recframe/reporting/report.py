"""The leaderboard report: one Markdown file and one bar chart per dataset and metric, from the results index.

Runs are grouped by dataset (the protocol card's ``dataset``), then by experiment and config hash:
runs that share both are repetitions of one configuration over seeds, summarised as mean ± sample
standard deviation. Each group is set against its experiment's published numbers (the YAML's
``reference`` section) with the relative difference ``Δ = (ours - published) / published`` and
whether ours reaches the published value within the tolerance (one-sided, see
``recframe.experiments.results.meets_reference``). Runs on a sampled protocol are marked ``⚠`` in
every row, title and plot: their numbers are not comparable with full-ranking ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recframe.experiments.config import ReferenceSettings
from recframe.experiments.results import meets_reference, protocol_label

SAMPLED = "⚠"


@dataclasses.dataclass
class Group:
    """Runs of one experiment and config hash on one dataset (repetitions over seeds)."""

    dataset: str
    experiment: str
    config_hash: str | None
    records: list[dict[str, Any]]
    reference: ReferenceSettings
    name: str = ""  # the experiment, with its config hash when the experiment has several on this dataset

    @property
    def card(self) -> dict[str, Any]:
        return self.records[0].get("protocol") or {}

    @property
    def sampled(self) -> bool:
        return self.card.get("ranking", "full") != "full"

    @property
    def label(self) -> str:
        return protocol_label(self.card) if self.card else "unknown protocol"

    def values(self, metric: str) -> list[float]:
        return [float(v) for r in self.records if isinstance(v := (r.get("metrics") or {}).get(metric), (int, float))]

    def mean_std(self, metric: str) -> tuple[float, float]:
        """Mean and sample standard deviation over seeds (std 0 for one run, NaN mean for none)."""
        values = self.values(metric)
        if not values:
            return math.nan, math.nan
        return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0

    def delta(self, metric: str) -> float | None:
        """``(ours - published) / published``, or None without a usable published value."""
        published, mean = self.reference.metrics.get(metric), self.mean_std(metric)[0]
        if not published or math.isnan(mean):
            return None
        return (mean - published) / published


def slug(text: str) -> str:
    """A file-name-safe slug: ``s3rec:Beauty`` -> ``s3rec-beauty``, ``test/hr@10`` -> ``test-hr-10``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unnamed"


def metric_title(metric: str) -> str:
    """``test/ndcg@10`` -> ``NDCG@10``; other stages keep their name: ``val/hr@10`` -> ``HR@10 (val)``."""
    stage, _, name = metric.rpartition("/")
    return name.upper() if stage in ("", "test") else f"{name.upper()} ({stage})"


def _reference(experiment: str, section: dict[str, Any] | None) -> ReferenceSettings:
    known = [f.name for f in dataclasses.fields(ReferenceSettings)]
    unknown = sorted(set(section or {}) - set(known))
    if unknown:
        raise ValueError(f"reference of {experiment!r} has unknown keys {unknown}; known: {known}")
    return ReferenceSettings(**(section or {}))


def group_runs(records: list[dict[str, Any]], references: dict[str, dict[str, Any]]) -> dict[str, list[Group]]:
    """Groups per dataset (datasets sorted by name, groups in first-seen order)."""
    groups: dict[tuple[str, str, str | None], Group] = {}
    for r in records:
        dataset = (r.get("protocol") or {}).get("dataset") or r.get("dataset") or "unknown"
        experiment = str(r.get("experiment"))
        key = (dataset, experiment, r.get("config_hash"))
        if key not in groups:
            groups[key] = Group(dataset, experiment, key[2], [], _reference(experiment, references.get(experiment)))
        groups[key].records.append(r)
    by_dataset: dict[str, list[Group]] = {}
    for g in groups.values():
        by_dataset.setdefault(g.dataset, []).append(g)
    for gs in by_dataset.values():
        for g in gs:
            several = sum(h.experiment == g.experiment for h in gs) > 1
            g.name = f"{g.experiment} (config {g.config_hash})" if several else g.experiment
    return dict(sorted(by_dataset.items()))


def _sort(groups: list[Group], metric: str) -> list[Group]:
    """Full-ranking rows first, rows of one protocol together, then best first by ``metric`` (ties by name).

    Sampled protocols inflate every metric (HR@10 0.28 full vs 0.80 with 100 negatives on ML-1M), so a
    plain sort would put any sampled run at the top of the leaderboard.
    """

    def key(g: Group) -> tuple[bool, str, bool, float, str]:
        mean = g.mean_std(metric)[0]
        return g.sampled, g.label, math.isnan(mean), -mean if not math.isnan(mean) else 0.0, g.name

    return sorted(groups, key=key)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _commits(records: list[dict[str, Any]]) -> list[str]:
    """Distinct short commits, sorted; ``*`` marks a dirty working tree."""
    return sorted({(r.get("git_commit") or "unknown")[:7] + ("*" if r.get("git_dirty") else "") for r in records})


def _fingerprint(record: dict[str, Any]) -> str:
    """``22,363 users, 12,101 items, 198,502 interactions`` from a record's protocol card."""
    fp = dict((record.get("protocol") or {}).get("fingerprint") or {})
    order = [k for k in ("users", "items", "interactions") if k in fp] + sorted(
        set(fp) - {"users", "items", "interactions"}
    )
    return ", ".join(f"{fp[k]:,} {k}" for k in order) or "fingerprint unknown"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _row(g: Group, metrics: Sequence[str]) -> list[str]:
    cells = [
        f"{SAMPLED} {g.name}" if g.sampled else g.name,
        str(g.records[0].get("backbone")),
        str(g.records[0].get("loss")),
    ]
    cells += [f"**{SAMPLED} {g.label}**" if g.sampled else g.label, str(len(g.records))]
    for m in metrics:
        mean, std = g.mean_std(m)
        if math.isnan(mean):
            cells.append("—")
        else:  # one run has no spread to show
            cells.append(f"{mean:.4f} ± {std:.4f}" if len(g.values(m)) > 1 else f"{mean:.4f}")
    published = [g.reference.metrics.get(m) for m in metrics]
    deltas = [g.delta(m) for m in metrics]
    tol = g.reference.tolerance
    ok = [
        None if p is None or math.isnan(g.mean_std(m)[0]) else meets_reference(m, g.mean_std(m)[0], p, tol)
        for m, p in zip(metrics, published, strict=True)
    ]
    cells.append(" / ".join("—" if p is None else f"{p:.4f}" for p in published))
    cells.append(" / ".join("—" if d is None else f"{d:+.1%}" for d in deltas))
    cells.append(" / ".join("—" if o is None else ("✓" if o else "✗") for o in ok))
    walls = [float(w) for r in g.records if isinstance(w := r.get("wall_seconds"), (int, float))]
    cells.append(_duration(statistics.median(walls) if walls else None))
    return [_cell(c) for c in cells]


def plot(groups: list[Group], metric: str, title: str, path: Path) -> bool:
    """Horizontal bars (mean ± std over seeds) with published values as markers; False if no group has ``metric``."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display, Agg canvas
    from matplotlib.patches import Patch

    rows = [g for g in groups if g.values(metric)]
    if not rows:
        return False
    # constrained layout keeps the long tick labels and the legend below the axes inside the figure
    fig = Figure(figsize=(9, max(5.0, 1.8 + 0.35 * len(rows))), dpi=100, layout="constrained")
    ax = fig.subplots()
    y = list(range(len(rows)))
    means, stds = zip(*(g.mean_std(metric) for g in rows), strict=True)
    colors = ["tab:orange" if g.sampled else "tab:blue" for g in rows]
    ax.barh(y, means, xerr=stds, height=0.6, color=colors, error_kw={"capsize": 4, "elinewidth": 1.2})
    handles = [Patch(color="tab:blue", label="ours: mean ± std over seeds")]
    if any(g.sampled for g in rows):
        handles.append(Patch(color="tab:orange", label=f"{SAMPLED} sampled protocol (not comparable)"))
    published = [(i, p) for i, g in enumerate(rows) if (p := g.reference.metrics.get(metric)) is not None]
    if published:
        ys, xs = zip(*published, strict=True)
        handles.append(
            ax.scatter(xs, ys, marker="D", s=60, color="tab:red", edgecolor="black", zorder=3, label="published")
        )
    ax.set_yticks(y, [f"{g.name} {SAMPLED}" if g.sampled else g.name for g in rows])
    pad = max(0, 4 - len(rows)) / 2  # a few bars stay slim and centred
    ax.set_ylim(len(rows) - 0.5 + pad, -0.5 - pad)  # inverted: best at the top, as in the table
    ax.set_xlabel(metric_title(metric))
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(handles), frameon=False)
    fig.savefig(path)
    return True


def build_report(
    records: list[dict[str, Any]],
    references: dict[str, dict[str, Any]],
    output: Path,
    metrics: Sequence[str] = ("test/hr@10", "test/ndcg@10"),
    generated: str | None = None,
) -> list[Path]:
    """Write ``output/leaderboard.md`` and ``output/<dataset>_<metric>.png``; return the written paths.

    Args:
        records: results-index records (:func:`recframe.experiments.results.load`).
        references: experiment name -> its ``reference`` section (missing or empty: no published values).
        output: folder to write into (created if needed; files of the same names are overwritten).
        metrics: metric keys to report; the table is sorted by the first, best first.
        generated: the date shown in the generated-by line (today when None), fixed by tests.

    Raises:
        ValueError: ``metrics`` is empty or a reference section has unknown keys.
    """
    if not metrics:
        raise ValueError("metrics must name at least one metric key, e.g. ('test/ndcg@10',)")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    by_dataset = group_runs(records, references)
    generated = generated or dt.date.today().isoformat()
    commits = _commits(records)
    lines = [
        "# recframe leaderboard",
        "",
        f"Generated by `python -m recframe report` on {generated} from {len(records)} runs"
        f" at commits {', '.join(f'`{c}`' for c in commits) or '—'} (`*`: uncommitted changes).",
        "",
        "Rows: mean ± std over seeds; Δ = (ours − published) / published; ✓ when ours reaches the published "
        "value within the experiment's tolerance (beating it never fails). "
        f"{SAMPLED} marks sampled-negative protocols, not comparable with full ranking.",
    ]
    if not by_dataset:
        lines += ["", "No finished runs."]
    written: list[Path] = []
    titles = [metric_title(m) for m in metrics]
    for dataset, groups in by_dataset.items():
        groups = _sort(groups, metrics[0])
        warn = f" {SAMPLED} includes sampled-protocol runs" if any(g.sampled for g in groups) else ""
        lines += ["", f"## {dataset}{warn}", ""]
        prints = sorted({_fingerprint(r) for g in groups for r in g.records})
        lines.append("Data: " + "; ".join(prints) + ".")
        if len(prints) > 1:
            lines += [
                "",
                f"{SAMPLED} runs on different data versions (filters differ): compare within one version only.",
            ]
        if len({g.label for g in groups}) > 1:
            lines += ["", f"{SAMPLED} rows use different protocols: compare only rows with the same protocol."]
        both = " / ".join(titles)
        header = ["experiment", "backbone", "loss", "protocol", "seeds", *titles]
        header += [f"published ({both})", f"Δ% ({both})", "ok?", "wall time"]
        lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(_row(g, metrics)) + " |" for g in groups]
        cited = [g for g in groups if g.reference.metrics]
        if cited:
            lines.append("")
            for g in cited:
                ref = g.reference
                source = ", ".join(x for x in (ref.paper, ref.venue, ref.table) if x) or "no source given"
                extra = "".join(f"; {x}" for x in (ref.protocol, ref.note) if x)
                lines.append(f"- Published for {g.name}: {source} (tolerance ±{ref.tolerance:.0%}{extra}).")
        lines.append("")
        for metric, title in zip(metrics, titles, strict=True):
            path = output / f"{slug(dataset)}_{slug(metric)}.png"
            if plot(groups, metric, f"{dataset}: {title}{warn}", path):
                written.append(path)
                lines.append(f"![{dataset} {title}]({path.name})")
        lines += ["", "Reproduce:", ""]
        for g in groups:
            lines.append(
                f"- `python -m recframe reproduce {g.experiment} --seeds {len(g.records)}` "
                f"(config {g.config_hash}, commits {', '.join(f'`{c}`' for c in _commits(g.records))})"
            )
    leaderboard = output / "leaderboard.md"
    leaderboard.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [leaderboard, *written]


def latest_per_experiment(summaries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The most recent ``reproduce`` record (by ``date``) of each experiment."""
    return {s["experiment"]: s for s in sorted(summaries, key=lambda s: s.get("date") or "")}


def build_reproductions(summaries: list[dict[str, Any]], output: Path, generated: str | None = None) -> Path:
    """``reproductions.md``: one table per ``reproduce`` record — metric, published, ours, Δ%, ok.

    ``summaries`` are the lines of ``reproductions.jsonl`` (see :mod:`recframe.experiments.reproduce`); the
    latest record of each experiment is shown.
    """
    latest = latest_per_experiment(summaries)
    generated = generated or dt.date.today().isoformat()
    lines = [
        "# Reproductions",
        "",
        f"Generated by `python -m recframe report` on {generated}: the latest `reproduce` record of each experiment. "
        "ours = mean ± std over seeds (k-fold: the fold mean of each seed); ok = reaches the published value "
        "within the tolerance (beating it never fails).",
        "",
    ]
    for name in sorted(latest):
        s = latest[name]
        card = s.get("protocol") or {}
        label = protocol_label(card) if card else "—"
        sampled = f"{SAMPLED} " if card.get("ranking", "full") != "full" else ""
        ref = s.get("reference") or {}
        folds = f", {s['folds']} folds" if s.get("folds") else ""
        walls = [w for w in s.get("wall_seconds", []) if isinstance(w, (int, float))]
        lines += [
            f"## {sampled}{name}",
            "",
            f"{ref.get('paper') or 'no published reference'}{', ' + ref['venue'] if ref.get('venue') else ''}"
            f"{' — ' + ref['table'] if ref.get('table') else ''}. Protocol: {label}; {s['seeds']} seed(s){folds}; "
            f"tolerance {ref.get('tolerance', 0):.0%}; runs {', '.join(r['id'] for r in s['runs'])}; "
            f"wall time per run {_duration(statistics.median(walls)) if walls else '—'} (median)."
            + (f" Record assembled {s['assembled']}." if s.get("assembled") else ""),
            "",
            "| metric | published | ours | Δ% | ok |",
            "|---|---|---|---|---|",
        ]
        for row in s["rows"]:
            pub = "—" if row["published"] is None else f"{row['published']:.4f}"
            ours = f"{row['mean']:.4f} ± {row['std']:.4f}" if row["n"] > 1 else f"{row['mean']:.4f}"
            delta = "—" if row["delta_pct"] is None else f"{row['delta_pct']:+.1f}%"
            ok = {True: "✓", False: "✗", None: "—"}[row["within_tolerance"]]
            lines.append(f"| {row['metric']} | {pub} | {ours} | {delta} | {ok} |")
        command = f"python -m recframe reproduce {name} --seeds {s['seeds']}" + (
            f" --folds {s['folds']}" if s.get("folds") else ""
        )
        lines += ["", f"`{command}`", ""]
    path = output / "reproductions.md"
    output.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
