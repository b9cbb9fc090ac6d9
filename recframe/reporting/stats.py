"""Paired significance tests between two runs on the same test users, as RecBole and Elliot offer.

Each finished test run writes one row per evaluated user to ``test_per_user.csv.gz`` (``user``, then
one column per ``{metric}@{k}``). Two runs evaluated on the same users are compared user by user:
the paired t-test asks whether the mean difference is zero, the Wilcoxon signed-rank test whether
the differences are symmetric around zero (robust to the heavy ties of HR, which is 0 or 1 per user).

Differences are always ``b - a``: a positive mean difference means run ``b`` scored higher.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from recframe.experiments.results import PER_USER

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class PairedResult:
    """The paired comparison of one metric between runs ``a`` and ``b`` (differences are ``b - a``).

    Attributes:
        metric: the per-user column compared, e.g. ``ndcg@10``.
        n: number of users (both runs were evaluated on exactly these users).
        mean_a: mean of the metric over users in run ``a``.
        mean_b: mean of the metric over users in run ``b``.
        mean_diff: mean of ``b - a`` over users.
        ci_low: lower end of the t-based 95 % confidence interval of ``mean_diff``.
        ci_high: upper end of that interval.
        t_stat: paired t statistic (``scipy.stats.ttest_rel(b, a)``); NaN if every difference is 0.
        t_pvalue: two-sided p-value of the paired t-test; NaN if every difference is 0.
        wilcoxon_stat: Wilcoxon signed-rank statistic (``zero_method="wilcox"``: zero differences
            are dropped); NaN if every difference is 0.
        wilcoxon_pvalue: two-sided p-value of the Wilcoxon test; NaN if every difference is 0.
        note: why a value is NaN or degenerate, empty otherwise.
    """

    metric: str
    n: int
    mean_a: float
    mean_b: float
    mean_diff: float
    ci_low: float
    ci_high: float
    t_stat: float
    t_pvalue: float
    wilcoxon_stat: float
    wilcoxon_pvalue: float
    note: str = ""


def load_per_user(run_dir: Path | str) -> pd.DataFrame:
    """The per-user test values of a run directory (``user`` read as text so raw ids keep their form).

    Raises:
        FileNotFoundError: the run has no ``test_per_user.csv.gz`` (older runs, or a run whose test
            pass did not finish).
    """
    import pandas as pd

    path = Path(run_dir) / PER_USER
    if not path.is_file():
        raise FileNotFoundError(
            f"run {run_dir} has no per-user test values ({path} is missing); re-run `python -m recframe test {run_dir}`"
        )
    return pd.read_csv(path, dtype={"user": str})


def _column(table: pd.DataFrame, metric: str, side: str) -> str:
    """The per-user column for ``metric``, accepting ``ndcg@10`` or ``test/ndcg@10``."""
    name = metric.removeprefix("test/")
    if "user" not in table.columns:
        raise ValueError(f"per-user table of run {side} has no 'user' column; columns: {list(table.columns)}")
    if name not in table.columns:
        known = [c for c in table.columns if c != "user"]
        raise ValueError(f"unknown metric {metric!r} in the per-user table of run {side}; known: {known}")
    if table["user"].duplicated().any():
        raise ValueError(f"run {side} lists {int(table['user'].duplicated().sum())} users more than once")
    return name


def paired_tests(a: pd.DataFrame, b: pd.DataFrame, metric: str) -> PairedResult:
    """Paired t-test, Wilcoxon signed-rank test and a 95 % CI of the mean of ``b - a`` per user.

    Args:
        a: per-user table of the first run (see :func:`load_per_user`).
        b: per-user table of the second run, on the same users.
        metric: a per-user column such as ``ndcg@10`` (a ``test/`` prefix is accepted).

    Returns:
        The comparison; when every difference is zero both tests are undefined and their statistics
        and p-values are NaN, with ``note`` saying so (the confidence interval is then ``[0, 0]``).

    Raises:
        ValueError: the metric is missing, a user appears twice, the runs were evaluated on different
            users, fewer than two users, or a value is NaN.
    """
    import numpy as np
    from scipy import stats

    name = _column(a, metric, "a")
    _column(b, metric, "b")
    common = set(a["user"]) & set(b["user"])
    if len(common) != len(a) or len(common) != len(b):
        hint = (
            f" (user ids are {a['user'].dtype} in a, {b['user'].dtype} in b)"
            if a["user"].dtype != b["user"].dtype
            else ""
        )
        raise ValueError(
            f"runs were evaluated on different users: a has {len(a)}, b has {len(b)}, {len(common)} in common{hint}; "
            "paired tests need both runs evaluated on the same users (same data, split and filters)"
        )
    joined = a[["user", name]].merge(b[["user", name]], on="user", suffixes=("_a", "_b"))
    x = joined[f"{name}_a"].to_numpy(dtype=float)
    y = joined[f"{name}_b"].to_numpy(dtype=float)
    n = len(joined)
    if n < 2:
        raise ValueError(f"paired tests need at least 2 users, got {n}")
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError(f"{metric} has NaN values: {int(np.isnan(x).sum())} in run a, {int(np.isnan(y).sum())} in b")

    d = y - x
    mean_d = float(d.mean())
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df=n - 1) * d.std(ddof=1) / math.sqrt(n))
    base = {"metric": name, "n": n, "mean_a": float(x.mean()), "mean_b": float(y.mean()), "mean_diff": mean_d}
    if not d.any():
        # scipy would return NaN for t and, depending on its version, raise or report p = 1 for
        # Wilcoxon; neither test is defined when there is nothing to rank, so say so explicitly.
        nan = float("nan")
        note = f"all {n} differences are zero: identical per-user {name}, tests undefined"
        return PairedResult(
            **base, ci_low=0.0, ci_high=0.0, t_stat=nan, t_pvalue=nan, wilcoxon_stat=nan, wilcoxon_pvalue=nan, note=note
        )
    note = ""
    with warnings.catch_warnings():
        # A constant non-zero difference makes the t statistic infinite; scipy warns, we note it.
        warnings.simplefilter("ignore", RuntimeWarning)
        t = stats.ttest_rel(y, x)
        w = stats.wilcoxon(y, x, zero_method="wilcox")
    if d.std() == 0:
        note = f"every difference equals {mean_d:.6g}: zero variance, the t statistic is infinite"
    return PairedResult(
        **base,
        ci_low=mean_d - half,
        ci_high=mean_d + half,
        t_stat=float(t.statistic),
        t_pvalue=float(t.pvalue),
        wilcoxon_stat=float(w.statistic),
        wilcoxon_pvalue=float(w.pvalue),
        note=note,
    )


def _p(value: float) -> str:
    return "n/a" if math.isnan(value) else ("<1e-4" if value < 1e-4 else f"{value:.4f}")


def format_paired(result: PairedResult, name_a: str = "a", name_b: str = "b") -> str:
    """A few plain-text lines describing one comparison, for logs and the terminal."""
    r = result
    lines = [
        f"{r.metric} over {r.n} users: {name_a} {r.mean_a:.4f}, {name_b} {r.mean_b:.4f}",
        f"  difference {name_b} - {name_a}: {r.mean_diff:+.4f} "
        f"({CONFIDENCE:.0%} CI {r.ci_low:+.4f} .. {r.ci_high:+.4f})",
        f"  paired t-test: t = {r.t_stat:.3f}, p = {_p(r.t_pvalue)}",
        f"  Wilcoxon signed-rank: W = {r.wilcoxon_stat:.1f}, p = {_p(r.wilcoxon_pvalue)}",
    ]
    if r.note:
        lines.append(f"  note: {r.note}")
    return "\n".join(lines)


def paired_table(results: list[PairedResult], name_a: str = "a", name_b: str = "b") -> Table:
    """A rich table with one row per compared metric (p-values below 0.05 in bold)."""
    from rich.table import Table

    table = Table(title=f"paired tests: {name_b} vs {name_a} (difference = {name_b} - {name_a})")
    for column in ("metric", "users", name_a, name_b, "diff", f"{CONFIDENCE:.0%} CI", "t p", "Wilcoxon p", "note"):
        table.add_column(column, justify="left" if column in ("metric", "note") else "right")

    def p_cell(p: float) -> str:
        return f"[bold]{_p(p)}[/bold]" if p < 0.05 else _p(p)

    for r in results:
        table.add_row(
            r.metric,
            str(r.n),
            f"{r.mean_a:.4f}",
            f"{r.mean_b:.4f}",
            f"{r.mean_diff:+.4f}",
            f"{r.ci_low:+.4f} .. {r.ci_high:+.4f}",
            p_cell(r.t_pvalue),
            p_cell(r.wilcoxon_pvalue),
            r.note,
        )
    return table
