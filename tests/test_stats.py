"""Paired significance tests between two runs: against scipy, a hand-checked case, and the edge cases."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from recframe.experiments import results
from recframe.reporting.stats import PairedResult, format_paired, load_per_user, paired_table, paired_tests


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Overrides the conftest seed, which imports Lightning (seconds); these tests use NumPy only."""
    np.random.seed(0)


def table(users, **columns) -> pd.DataFrame:
    return pd.DataFrame({"user": users, **columns})


def test_matches_scipy_on_fixed_inputs():
    rng = np.random.default_rng(3)
    n = 40
    a = rng.random(n).round(3)
    b = (a + rng.normal(0.05, 0.1, n)).round(3)
    users = [f"u{i}" for i in range(n)]
    # b's rows in another order: the join is on user, not on position
    r = paired_tests(table(users, **{"ndcg@10": a}), table(users[::-1], **{"ndcg@10": b[::-1]}), "test/ndcg@10")
    t, w = sps.ttest_rel(b, a), sps.wilcoxon(b, a, zero_method="wilcox")
    half = sps.t.ppf(0.975, n - 1) * np.std(b - a, ddof=1) / math.sqrt(n)
    assert (r.metric, r.n) == ("ndcg@10", n)
    assert r.mean_a == pytest.approx(a.mean()) and r.mean_b == pytest.approx(b.mean())
    assert r.mean_diff == pytest.approx((b - a).mean())
    assert (r.ci_low, r.ci_high) == pytest.approx(((b - a).mean() - half, (b - a).mean() + half))
    assert (r.t_stat, r.t_pvalue) == pytest.approx((t.statistic, t.pvalue))
    assert (r.wilcoxon_stat, r.wilcoxon_pvalue) == pytest.approx((w.statistic, w.pvalue))
    assert r.note == ""


def test_hand_checkable_case():
    # differences b - a = [1, 2, 3, 4]: mean 2.5, sd sqrt(5/3), t = 2.5 / (sd / 2) = 3.873
    # Wilcoxon: all differences positive, so W = min(R+, R-) = 0; exact two-sided p = 2 / 2^4 = 0.125
    a = table([1, 2, 3, 4], **{"hr@10": [0.0, 0.0, 0.0, 0.0]})
    b = table([1, 2, 3, 4], **{"hr@10": [1.0, 2.0, 3.0, 4.0]})
    r = paired_tests(a, b, "hr@10")
    sd = math.sqrt(5 / 3)
    assert r.mean_diff == pytest.approx(2.5)
    assert r.t_stat == pytest.approx(2.5 / (sd / 2))
    assert r.ci_low == pytest.approx(2.5 - 3.182446305 * sd / 2)
    assert r.wilcoxon_stat == 0 and r.wilcoxon_pvalue == pytest.approx(0.125)


def test_different_user_sets_are_refused_with_counts():
    a = table([1, 2, 3], **{"hr@10": [0, 1, 0]})
    b = table([1, 2, 4, 5], **{"hr@10": [0, 1, 1, 0]})
    with pytest.raises(ValueError, match="a has 3, b has 4, 2 in common"):
        paired_tests(a, b, "hr@10")


def test_unknown_metric_names_the_known_ones():
    a = table([1, 2], **{"hr@10": [0, 1]})
    with pytest.raises(ValueError, match=r"unknown metric 'mrr@10'.*\['hr@10'\]"):
        paired_tests(a, a, "mrr@10")


def test_all_zero_differences_give_nan_tests_with_a_note():
    a = table([1, 2, 3, 4], **{"hr@10": [0.0, 1.0, 1.0, 0.0]})
    r = paired_tests(a, a.copy(), "hr@10")
    assert (r.n, r.mean_diff, r.ci_low, r.ci_high) == (4, 0.0, 0.0, 0.0)
    assert all(math.isnan(v) for v in (r.t_stat, r.t_pvalue, r.wilcoxon_stat, r.wilcoxon_pvalue))
    assert "all 4 differences are zero" in r.note
    assert "n/a" in format_paired(r) and "note:" in format_paired(r)


def test_formatting(capsys):
    r = PairedResult("ndcg@10", 10, 0.1, 0.12, 0.02, 0.01, 0.03, 2.5, 0.03, 5.0, 0.04)
    text = format_paired(r, "sasrec", "gpt2")
    assert "difference gpt2 - sasrec: +0.0200" in text and "p = 0.0300" in text
    from rich.console import Console

    Console(width=200).print(paired_table([r], "sasrec", "gpt2"))
    assert "ndcg@10" in capsys.readouterr().out


def test_load_per_user(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"re-run `python -m recframe test .*run1`"):
        load_per_user(tmp_path / "run1")
    run = tmp_path / "run2"
    run.mkdir()
    with gzip.open(run / results.PER_USER, "wt") as f:
        f.write("user,hr@10,ndcg@10\n007,1,0.5\n8,0,0\n")
    loaded = load_per_user(run)
    assert list(loaded["user"]) == ["007", "8"]  # raw ids kept as text
    assert paired_tests(loaded, loaded, "ndcg@10").n == 2
