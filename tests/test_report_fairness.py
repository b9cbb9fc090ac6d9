"""The fairness report on synthetic index records: three experiments (one over two seeds), tiny exposure files."""

from __future__ import annotations

import csv
import gzip
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import assert_real_pngs

from recframe.experiments import results
from recframe.reporting.report import group_runs
from recframe.reporting.report_fairness import attributes, build_fairness_report, read_exposure

NAN = math.nan
OCCUPATIONS = [str(o) for o in range(21)]


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Overrides the conftest seed, which imports Lightning (seconds); the data below is seeded itself."""
    random.seed(0)
    np.random.seed(0)


def gini_reference(x: np.ndarray) -> float:
    """Gini as the mean absolute difference over twice the mean: ``Σ_i Σ_j |x_i − x_j| / (2 n² mean)``."""
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size**2 * x.mean()))


def write_exposure(run_dir: Path, exposure: np.ndarray) -> None:
    run_dir.mkdir(parents=True)
    with gzip.open(run_dir / results.EXPOSURE, "wt", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["item", "exposure", "train_popularity"])
        writer.writerows([f"i{j}", int(e), 100 - j] for j, e in enumerate(exposure))


def fair_metrics(gap: float, ratio: float, eps: float, gini: float, shift: float = 0.0) -> dict[str, float]:
    """Flat ``test/...`` keys as ``EvaluationMetrics`` logs them (gender, age, occupation; popularity items)."""
    m = {"test/hr@10": 0.20 + shift, "test/ndcg@10": 0.10 + shift}
    for name, value in (("gender=F", 0.09 + shift), ("gender=M", 0.11 + shift)):
        m[f"test/fair/ndcg@10/{name}"] = value
    m |= {"test/fair/users/gender=F": 273.0, "test/fair/users/gender=M": 670.0}
    m |= {"test/fair/ndcg@10/gender_gap": gap, "test/fair/ndcg@10/gender_ratio": ratio}
    m |= {"test/fair/hr@10/gender_df_epsilon": eps, "test/fair/hr@10/gender_gap": 0.05}
    for j, band in enumerate(["[0, 18)", "[18, 25)", "[56, inf)"]):
        m[f"test/fair/ndcg@10/age={band}"] = 0.08 + 0.01 * j + shift
        m[f"test/fair/users/age={band}"] = 100.0 + j
    m |= {"test/fair/ndcg@10/age_gap": 0.02, "test/fair/ndcg@10/age_ratio": 0.8, "test/fair/hr@10/age_df_epsilon": 0.3}
    for o in OCCUPATIONS:
        m[f"test/fair/ndcg@10/occupation={o}"] = 0.05 + 0.004 * int(o) + shift
        m[f"test/fair/users/occupation={o}"] = float(10 + int(o))
    m |= {"test/fair/ndcg@10/occupation_gap": 0.08, "test/fair/ndcg@10/occupation_ratio": 0.4}
    m |= {
        "test/exposure/coverage@10": 0.5 + shift,
        "test/exposure/gini@10": gini,
        "test/exposure/entropy@10": 3.2,
        "test/exposure/arp@10": 123.46,
        "test/exposure/aplt@10": 0.1,
        "test/exposure/pop_rsp@10": 0.7,
        "test/exposure/pop_reo@10": NAN,
        "test/exposure/share@10/popularity=long_tail": 0.1,
        "test/exposure/catalogue_share/popularity=long_tail": 0.6,
        "test/beyond/novelty@10": 9.5,
    }
    return m


def record(tmp_path: Path, experiment: str, seed: int, metrics: dict[str, float], **kw: Any) -> dict[str, Any]:
    cfg = {
        "data": {"split": "leave_one_out", "max_len": 50},
        "dataset": {"name": "ml-1m"},
        "module": {"exclude_seen": True},
    }
    return {
        "id": f"{experiment.replace('/', '-')}-{seed}",
        "path": str(tmp_path / "runs" / f"{experiment.replace('/', '-')}-{seed}"),
        "experiment": experiment,
        "backbone": kw.get("backbone", "sasrec"),
        "loss": kw.get("loss", "ce"),
        "protocol": results.protocol(cfg, {"users": 943, "items": 50}),
        "config_hash": kw.get("cfg", experiment),
        "seed": seed,
        "metrics": metrics,
    }


@pytest.fixture
def exposures() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "sasrec": rng.integers(0, 40, size=50),
        "gru4rec": rng.integers(0, 5, size=50) ** 3,
        "pop": np.r_[np.zeros(40, dtype=int), np.full(10, 943)],
    }


@pytest.fixture
def records(tmp_path: Path, exposures: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    gini = {name: gini_reference(e.astype(float)) for name, e in exposures.items()}
    # gru4rec evaluated no woman (F is NaN, so are the gaps), and its logged Gini disagrees with its file
    gru = fair_metrics(NAN, NAN, 0.3, gini["gru4rec"] + 0.01)
    gru |= {"test/fair/ndcg@10/gender=F": NAN, "test/fair/users/gender=F": 0.0}
    pop = fair_metrics(0.01, NAN, 0.0, gini["pop"])
    del pop["test/beyond/novelty@10"]
    runs = [
        record(tmp_path, "ml-1m/sasrec", 1, fair_metrics(0.02, 0.80, 0.10, gini["sasrec"])),
        record(tmp_path, "ml-1m/sasrec", 2, fair_metrics(0.04, 0.70, 0.20, gini["sasrec"] + 0.02, shift=0.01)),
        record(tmp_path, "ml-1m/gru4rec", 1, gru, backbone="gru"),
        record(tmp_path, "ml-1m/pop", 1, pop, backbone="pop", loss="none"),
        # no fairness keys: left out
        record(tmp_path, "ml-1m/plain", 1, {"test/hr@10": 0.3, "test/ndcg@10": 0.2}),
    ]
    write_exposure(Path(runs[0]["path"]), exposures["sasrec"])  # seed 2 has none: seed 1's file is used
    write_exposure(Path(runs[2]["path"]), exposures["gru4rec"])
    write_exposure(Path(runs[3]["path"]), exposures["pop"])
    for r in runs:  # through the index and back, as `report` reads them: NaN survives JSON
        results.append(tmp_path / "runs", r)
    return results.load(tmp_path / "runs")


def rows(md: str) -> dict[tuple[str, str], list[str]]:
    """Table rows keyed by (first header cell after ``seeds``, experiment), so the two tables stay apart."""
    out, header = {}, []
    for line in md.splitlines():
        if not line.startswith("| "):
            continue
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        if cells[0] == "experiment":
            header = cells
        else:
            out[header[4], cells[0]] = cells
    return out


def test_report_tables_plots_and_gini_check(tmp_path: Path, records, exposures):
    paths = build_fairness_report(records, tmp_path / "out", generated="2025-03-09")
    assert [p.name for p in paths] == [
        "fairness.md",
        "ml-1m_fair_age.png",
        "ml-1m_fair_gender.png",
        "ml-1m_fair_occupation.png",
        "ml-1m_lorenz.png",
    ]
    assert_real_pngs(paths[1:])
    md = paths[0].read_text(encoding="utf-8")
    assert "on 2025-03-09 from 4 runs with fairness or exposure metrics (of 5)" in md
    assert "How to read" in md and "PopRSP" in md and "## ml-1m\n" in md and "ml-1m/plain" not in md
    for p in paths[1:]:
        assert f"]({p.name})" in md

    table = rows(md)
    header = next(line for line in md.splitlines() if line.startswith("| experiment | backbone | loss | seeds | HR@10"))
    assert header.split(" | ")[6:9] == ["age NDCG@10 gap", "age ratio", "age DF ε (HR@10)"]
    sasrec = table["HR@10", "ml-1m/sasrec"]
    assert sasrec[1:6] == ["sasrec", "ce", "2", "0.2050", "0.1050"]  # means over the two seeds
    gender = header.split(" | ").index("gender NDCG@10 gap")
    assert sasrec[gender : gender + 3] == ["0.0300", "0.7500", "0.1500"]
    gru = table["HR@10", "ml-1m/gru4rec"]
    assert gru[3] == "1" and gru[gender : gender + 3] == ["NaN", "NaN", "0.3000"]  # NaN, never 0
    assert table["HR@10", "ml-1m/pop"][gender : gender + 3] == ["0.0100", "NaN", "0.0000"]

    item = table["coverage@10", "ml-1m/sasrec"]
    # coverage, Gini, entropy, ARP, APLT, PopRSP, PopREO, long-tail recs, long-tail catalogue, novelty (no ILD)
    assert item[4] == "0.5050"
    assert item[6:] == ["3.2000", "123.5", "0.1000", "0.7000", "NaN", "0.1000", "0.6000", "9.5000"]
    assert table["coverage@10", "ml-1m/pop"][-1] == "—"  # novelty not measured by this run
    assert "| ILD@10" not in md and "occupation DF ε" not in md  # no run measured them: no column
    logged = [r["metrics"]["test/exposure/gini@10"] for r in records if r["experiment"] == "ml-1m/sasrec"]
    assert item[5] == f"{sum(logged) / 2:.4f}"  # the table reports the logs; the check below uses a file
    assert float(table["coverage@10", "ml-1m/pop"][5]) == pytest.approx(gini_reference(exposures["pop"]), abs=1e-4)

    # Gini from the file equals the logged one for sasrec (seed 1's file) and pop; gru4rec's is reported
    assert f"ml-1m/sasrec: Gini from `{results.EXPOSURE}` of run ml-1m-sasrec-1 = " in md
    assert "ml-1m/pop: Gini from" in md and md.count("matches the logged Gini@10 ✓") == 2
    bad = next(line for line in md.splitlines() if "gru4rec: Gini" in line)
    assert bad.startswith("- ⚠") and "**inconsistent**" in bad and "|Δ| = 0.01 > 1e-06" in bad


def test_fairness_plots_draw_the_group_means_and_lorenz_curves(tmp_path: Path, records, exposures, saved_figures):
    """Grouped bars are each experiment's per-group mean over seeds (NaN: no bar); the Lorenz lines are
    the curves of the exposure files."""
    import torch

    from recframe.metrics.exposure import lorenz_curve

    build_fairness_report(records, tmp_path / "out", generated="2025-03-09")
    (ax,) = saved_figures["ml-1m_fair_gender.png"].axes
    drawn = {c.get_label(): [bar.get_height() for bar in c] for c in ax.containers}
    assert set(drawn) == {"ml-1m/sasrec", "ml-1m/gru4rec", "ml-1m/pop"}
    for name, heights in drawn.items():
        runs = [r["metrics"] for r in records if r["experiment"] == name]
        expected = [np.mean([m[f"test/fair/ndcg@10/gender={g}"] for m in runs]) for g in ("F", "M")]
        assert heights == pytest.approx(expected, nan_ok=True), name
    assert drawn["ml-1m/sasrec"] == pytest.approx([0.095, 0.115]) and math.isnan(drawn["ml-1m/gru4rec"][0])
    (ax,) = saved_figures["ml-1m_fair_occupation.png"].axes
    sasrec = next(c for c in ax.containers if c.get_label() == "ml-1m/sasrec")
    assert [bar.get_height() for bar in sasrec] == pytest.approx([0.055 + 0.004 * o for o in range(21)])

    (ax,) = saved_figures["ml-1m_lorenz.png"].axes
    diagonal, *curves = ax.get_lines()
    assert diagonal.get_xydata().tolist() == [[0, 0], [1, 1]]
    assert [line.get_label().split(" (")[0] for line in curves] == ["ml-1m/sasrec", "ml-1m/gru4rec", "ml-1m/pop"]
    for line, name in zip(curves, ["sasrec", "gru4rec", "pop"], strict=True):
        x, y = lorenz_curve(torch.tensor(exposures[name], dtype=torch.float64))
        assert np.allclose(line.get_xdata(), x.numpy()) and np.allclose(line.get_ydata(), y.numpy()), name


def test_groups_in_natural_order_and_exposure_file(tmp_path: Path, records, exposures):
    groups = group_runs(records, {})["ml-1m"]
    attrs = attributes(groups)
    assert list(attrs) == ["age", "gender", "occupation"]
    assert attrs["age"] == ["[0, 18)", "[18, 25)", "[56, inf)"]
    assert attrs["occupation"] == OCCUPATIONS  # 2 before 10, not "10" < "2"
    path = Path(records[0]["path"]) / results.EXPOSURE
    assert read_exposure(path) == exposures["sasrec"].astype(float).tolist()


def test_errors_name_the_config_keys_and_known_metrics(tmp_path: Path, records):
    plain = [r for r in records if r["experiment"] == "ml-1m/plain"]
    with pytest.raises(ValueError, match=r"metrics\.user_groups.*metrics\.item_groups.*metrics\.exposure.*beyond"):
        build_fairness_report(plain, tmp_path)
    with pytest.raises(ValueError, match=r"'mrr@10'; known: \['hr@10', 'ndcg@10'\]"):
        build_fairness_report(records, tmp_path, metric="mrr@10")
    # exposure keys alone are enough, and the test/ prefix is accepted
    exposure_only = [{**r, "metrics": {k: v for k, v in r["metrics"].items() if "/fair/" not in k}} for r in records]
    paths = build_fairness_report(exposure_only, tmp_path / "exp", metric="test/ndcg@10", generated="x")
    assert [p.name for p in paths] == ["fairness.md", "ml-1m_lorenz.png"]
