"""The fairness and beyond-accuracy report: one Markdown file, group bar charts and exposure Lorenz curves.

Reads the ``test/fair/...``, ``test/exposure/...`` and ``test/beyond/...`` keys that
:class:`~recframe.metrics.suite.EvaluationMetrics` logs when an experiment's ``metrics`` section asks
for them, and each run directory's ``test_exposure.csv.gz`` (how often each item was in a test top-k
list). Runs are grouped as in the leaderboard (:func:`recframe.reporting.report.group_runs`): per dataset, then
per experiment and config hash; every number is the mean over seeds, and a NaN in any seed (a gap
with fewer than two non-empty groups, RSP with an empty item group) stays NaN rather than becoming 0.

Groups of an attribute are shown in natural order of their names (``2`` before ``10``): the keys'
own order is lost, since ``metrics.json`` and the index are written with sorted keys.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import math
import re
import statistics
from pathlib import Path
from typing import Any

from recframe.experiments.results import EXPOSURE
from recframe.reporting.report import SAMPLED, Group, group_runs, metric_title, slug

PREFIXES = ("test/fair/", "test/exposure/", "test/beyond/")
GINI_TOLERANCE = 1e-6
# (column title, key under test/): the exposure and beyond-accuracy columns, shown when some run has them
EXPOSURE_COLUMNS = (
    ("coverage@10", "exposure/coverage@10"),
    ("Gini@10", "exposure/gini@10"),
    ("entropy@10", "exposure/entropy@10"),
    ("ARP@10", "exposure/arp@10"),
    ("APLT@10", "exposure/aplt@10"),
    ("PopRSP@10", "exposure/pop_rsp@10"),
    ("PopREO@10", "exposure/pop_reo@10"),
    ("long-tail share: recs", "exposure/share@10/popularity=long_tail"),
    ("long-tail share: catalogue", "exposure/catalogue_share/popularity=long_tail"),
    ("novelty@10", "beyond/novelty@10"),
    ("ILD@10", "beyond/ild@10"),
)
HOW_TO_READ = (
    "How to read: every number is the mean over seeds (`seeds` runs). Per user attribute, the **gap** is "
    "max − min of the group means of the metric (0 = parity) and the **ratio** is min / max (1 = parity); "
    "**DF ε** is the ε of differential fairness (Foulds et al., ICDE 2020) of getting a hit in the top k "
    "(0 = parity, e^ε bounds the ratio of any two groups' hit rates). Item side: **Gini@10** of exposure "
    "(how often each item is in a top-10 list; 0 = every item equally, 1 = one item gets everything), "
    "**coverage@10** (share of the catalogue recommended at least once), **ARP@10** (mean training popularity "
    "of recommended items), **APLT@10** (share of list slots given to long-tail items), **PopRSP@10** / "
    "**PopREO@10** (statistical parity / equal opportunity between short head and long tail; 0 = parity), "
    "the long-tail share of recommendations against its share of the catalogue, **novelty@10** (bits; higher "
    "= less popular items) and **ILD@10** (intra-list diversity). NaN: undefined (e.g. fewer than two "
    "non-empty groups); —: not measured by that run."
)


def has_fairness(record: dict[str, Any]) -> bool:
    """Whether a record holds any fairness, exposure or beyond-accuracy metric."""
    return any(key.startswith(PREFIXES) for key in record.get("metrics") or {})


def _mean(group: Group, key: str) -> float | None:
    """Mean over seeds of ``test/<key>``; None when no seed has it, NaN when any seed is NaN."""
    values = group.values(f"test/{key}")
    return statistics.fmean(values) if values else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"


def _natural(name: str) -> tuple[tuple[int, float, str], ...]:
    """Sort key comparing the numbers inside names as numbers: ``[2, 5)`` < ``[10, 20)``, ``2`` < ``10``."""
    parts = re.split(r"(\d+(?:\.\d+)?)", name)
    return tuple((0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts))


def attributes(groups: list[Group]) -> dict[str, list[str]]:
    """User attribute -> its group names, from the ``test/fair/users/<attr>=<group>`` keys of any run."""
    found: dict[str, set[str]] = {}
    for g in groups:
        for r in g.records:
            for key in r.get("metrics") or {}:
                if key.startswith("test/fair/users/") and "=" in key:
                    attr, _, name = key.removeprefix("test/fair/users/").partition("=")
                    found.setdefault(attr, set()).add(name)
    return {attr: sorted(names, key=_natural) for attr, names in found.items()}


def _size(groups: list[Group], attr: str, name: str) -> str:
    """``n=273``, or a range when runs evaluated different numbers of users in the group."""
    sizes = {round(v) for g in groups for v in g.values(f"test/fair/users/{attr}={name}") if not math.isnan(v)}
    if not sizes:
        return ""
    return f"n={min(sizes)}" if len(sizes) == 1 else f"n={min(sizes)}–{max(sizes)}"


def read_exposure(path: Path) -> list[float]:
    """The ``exposure`` column of a run's ``test_exposure.csv.gz`` (one count per real item)."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        return [float(row["exposure"]) for row in csv.DictReader(f)]


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def plot_groups(groups: list[Group], attr: str, names: list[str], metric: str, title: str, path: Path) -> bool:
    """Grouped bars: one group of bars per attribute value, one bar per experiment; False if nothing to draw."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display, Agg canvas

    means = [[_mean(g, f"fair/{metric}/{attr}={n}") for n in names] for g in groups]
    if all(m is None for row in means for m in row):
        return False
    fig = Figure(figsize=(9, 5), dpi=100, layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(groups)
    for j, (g, row, color) in enumerate(zip(groups, means, _colors(len(groups)), strict=True)):
        xs = [i - 0.4 + width * (j + 0.5) for i in range(len(names))]
        heights = [math.nan if m is None else m for m in row]  # missing or NaN: no bar, never a 0-high one
        ax.bar(xs, heights, width=width, color=color, label=f"{SAMPLED} {g.name}" if g.sampled else g.name)
        for x, m in zip(xs, row, strict=True):
            if m is not None and math.isnan(m):  # say it, so that a missing bar does not read as 0
                ax.text(x, 0, " NaN", rotation=90, ha="center", va="bottom", fontsize=9, color=color)
    labels = [f"{n} ({s})" if (s := _size(groups, attr, n)) else n for n in names]
    many = len(names) > 6
    ax.set_xticks(range(len(names)), labels, rotation=45 if many else 0, ha="right" if many else "center")
    ax.tick_params(axis="x", labelsize=8 if many else 10)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_xlabel(attr)
    ax.set_ylabel(f"{metric_title(metric)} (group mean, mean over seeds)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    fig.legend(loc="outside lower center", ncol=min(len(groups), 3), frameon=False)  # below the tick labels
    fig.savefig(path)
    return True


def _lorenz(groups: list[Group]) -> tuple[list[tuple[int, str, Any, Any]], list[str]]:
    """Per experiment: the first run with an exposure file, its Lorenz curve and Gini; plus Markdown notes."""
    import torch

    from recframe.metrics.exposure import gini_index, lorenz_curve

    curves, notes = [], []
    for i, g in enumerate(groups):
        run = next((r for r in g.records if r.get("path") and (Path(r["path"]) / EXPOSURE).is_file()), None)
        if run is None:
            notes.append(f"- {g.name}: no `{EXPOSURE}` in its run directories, no Lorenz curve.")
            continue
        exposure = torch.tensor(read_exposure(Path(run["path"]) / EXPOSURE), dtype=torch.float64)
        if exposure.numel() == 0 or exposure.sum() <= 0:
            notes.append(f"- {g.name}: `{EXPOSURE}` of run {run.get('id')} records no exposure, no Lorenz curve.")
            continue
        gini = float(gini_index(exposure))
        x, y = lorenz_curve(exposure)
        label = f"{SAMPLED} {g.name}" if g.sampled else g.name
        where = f"`{EXPOSURE}` of run {run.get('id')}"
        # the file holds the lists of the metrics' own k, which it does not record: take the run's one gini@k
        metrics = (run.get("metrics") or {}).items()
        logged = [(k, v) for k, v in metrics if re.fullmatch(r"test/exposure/gini@\d+", k) and isinstance(v, float)]
        if len(logged) != 1:
            notes.append(f"- {g.name}: Gini from {where} is {gini:.6f}; no logged Gini to check.")
            label += f" (Gini {gini:.3f})"
            curves.append((i, label, x.numpy(), y.numpy()))
            continue
        key, value = logged[0]
        name, shown = f"Gini@{key.rpartition('@')[2]}", "NaN" if math.isnan(value) else f"{value:.6f}"
        if abs(gini - value) <= GINI_TOLERANCE:
            notes.append(f"- {g.name}: Gini from {where} = {gini:.6f}, matches the logged {name} ✓.")
            label += f" (Gini {gini:.3f})"
        else:
            notes.append(
                f"- ⚠ {g.name}: Gini from {where} is {gini:.6f} but the logged {name} is {shown} "
                f"(|Δ| = {abs(gini - value):.2g} > {GINI_TOLERANCE:g}): **inconsistent**, the file and the "
                "metrics do not describe the same lists."
            )
            label += f" (Gini {gini:.3f}, ⚠ logged {shown[:5]})"
        curves.append((i, label, x.numpy(), y.numpy()))
    return curves, notes


def plot_lorenz(curves: list, n_groups: int, title: str, path: Path) -> None:
    """Lorenz curves of item exposure, one per experiment, against the equality diagonal."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5), dpi=100, layout="constrained")
    ax = fig.subplots()
    colors = _colors(n_groups)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="equality (Gini 0)")
    for i, label, x, y in curves:
        ax.plot(x, y, color=colors[i], linewidth=1.8, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("share of items, least to most exposed")
    ax.set_ylabel("share of top-10 recommendations")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", frameon=False)
    fig.savefig(path)


def _tables(groups: list[Group], attrs: dict[str, list[str]], metric: str) -> list[str]:
    """The Markdown of the two tables: accuracy and user fairness, then item exposure and beyond accuracy."""
    title = metric_title(metric)
    hr = "hr@" + (metric.rpartition("@")[2] if "@" in metric else "10")
    user = []
    for attr in attrs:
        user += [
            (f"{attr} {title} gap", f"fair/{metric}/{attr}_gap"),
            (f"{attr} ratio", f"fair/{metric}/{attr}_ratio"),
            (f"{attr} DF ε ({hr.upper()})", f"fair/{hr}/{attr}_df_epsilon"),
        ]

    # a column no run measured would be all "—": it is left out, and "—" marks the single runs without it
    def measured(cols: list | tuple) -> list[tuple[str, str]]:
        return [(t, k) for t, k in cols if any(g.values(f"test/{k}") for g in groups)]

    lines = []
    for cols in ([("HR@10", "hr@10"), ("NDCG@10", "ndcg@10"), *measured(user)], measured(EXPOSURE_COLUMNS)):
        if not cols:
            continue
        header = ["experiment", "backbone", "loss", "seeds", *(t for t, _ in cols)]
        lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for g in groups:
            first = g.records[0]
            cells = [f"{SAMPLED} {g.name}" if g.sampled else g.name, str(first.get("backbone")), str(first.get("loss"))]
            cells += [str(len(g.records)), *(_fmt(_mean(g, k)) for _, k in cols)]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def build_fairness_report(
    records: list[dict[str, Any]],
    output: Path,
    metric: str = "ndcg@10",
    generated: str | None = None,
) -> list[Path]:
    """Write ``output/fairness.md``, ``output/<dataset>_fair_<attr>.png`` and ``output/<dataset>_lorenz.png``.

    Args:
        records: results-index records (:func:`recframe.experiments.results.load`); runs without fairness,
            exposure or beyond-accuracy metrics are left out.
        output: folder to write into (created if needed; files of the same names are overwritten).
        metric: the accuracy metric broken down by user group, ``ndcg@10`` or ``test/ndcg@10``.
        generated: the date shown in the generated-by line (today when None), fixed by tests.

    Returns:
        the paths written, the Markdown file first, then the plots.

    Raises:
        ValueError: no run has fairness metrics, or runs have user groups but none for ``metric``.
    """
    metric = metric.removeprefix("test/")
    kept = [r for r in records if r.get("status", "finished") == "finished" and has_fairness(r)]
    if not kept:
        raise ValueError(
            f"none of the {len(records)} runs has fairness, exposure or beyond-accuracy metrics "
            f"(keys {', '.join(p + '...' for p in PREFIXES)}); turn them on in the experiment's metrics section: "
            "metrics.user_groups (e.g. [gender, age, activity]), metrics.item_groups (e.g. popularity), "
            "metrics.exposure: true, metrics.beyond: true"
        )
    fair_keys = {k for r in kept for k in r["metrics"] if k.startswith("test/fair/") and "/users/" not in k}
    if fair_keys and not any(k.startswith(f"test/fair/{metric}/") for k in fair_keys):
        known = sorted({k.split("/")[2] for k in fair_keys})
        raise ValueError(f"no user-group results for metric {metric!r}; known: {known} (metrics.group_metrics)")
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    generated = generated or dt.date.today().isoformat()
    lines = [
        "# recframe fairness and beyond-accuracy report",
        "",
        f"Generated by `python -m recframe report` on {generated} from {len(kept)} runs with fairness or "
        f"exposure metrics (of {len(records)}); user groups compared on {metric_title(metric)}.",
        "",
        HOW_TO_READ,
    ]
    written: list[Path] = []
    for dataset, groups in group_runs(kept, {}).items():
        lines += ["", f"## {dataset}", ""]
        labels = sorted({g.label for g in groups})
        lines.append("Protocol: " + "; ".join(labels) + ".")
        if len(labels) > 1:
            lines += ["", f"{SAMPLED} rows use different protocols: compare only rows with the same protocol."]
        attrs = attributes(groups)
        lines += _tables(groups, attrs, metric)
        for attr, names in attrs.items():
            path = output / f"{slug(dataset)}_fair_{slug(attr)}.png"
            title = f"{dataset}: {metric_title(metric)} by {attr}"
            if plot_groups(groups, attr, names, metric, title, path):
                written.append(path)
                lines += ["", f"![{title}]({path.name})"]
        if any(g.values("test/exposure/gini@10") for g in groups) or any(
            r.get("path") and (Path(r["path"]) / EXPOSURE).is_file() for g in groups for r in g.records
        ):
            curves, notes = _lorenz(groups)
            lines += [
                "",
                "Exposure Lorenz curves (first seed with an exposure file; Gini checked against its log):",
                "",
            ]
            lines += notes
            if curves:
                path = output / f"{slug(dataset)}_lorenz.png"
                plot_lorenz(curves, len(groups), f"{dataset}: Lorenz curve of top-10 exposure", path)
                written.append(path)
                lines += ["", f"![{dataset} exposure Lorenz curve]({path.name})"]
    report = output / "fairness.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [report, *written]
