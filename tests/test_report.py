"""The leaderboard report on a handful of synthetic index records: two datasets, a sampled protocol, references."""

from __future__ import annotations

import random
import statistics
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_real_pngs

from recframe.experiments import results
from recframe.reporting.report import build_report, group_runs, metric_title, slug

BEAUTY = {"users": 22363, "items": 12101, "interactions": 198502}
ML = {"users": 943, "items": 1682, "interactions": 100000}


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Overrides the conftest seed, which imports Lightning (seconds); nothing here is random."""
    random.seed(0)


def card(dataset: str, fingerprint: dict[str, int], negatives: int | None = None) -> dict[str, Any]:
    data = {"split": "leave_one_out", "max_len": 50, "eval_negatives": negatives}
    name, _, file = dataset.partition(":")
    cfg = {"data": data, "dataset": {"name": name, "file": file or None}, "module": {"exclude_seen": True}}
    return results.protocol(cfg, fingerprint)


def record(experiment, seed, protocol, hr, ndcg, *, backbone="sasrec", loss="ce", cfg="aaaa", wall=100.0, commit="a"):
    return {
        "id": f"{experiment.replace('/', '-')}-{seed}",
        "experiment": experiment,
        "dataset": protocol["dataset"],
        "backbone": backbone,
        "loss": loss,
        "protocol": protocol,
        "config_hash": cfg,
        "git_commit": commit * 40,
        "git_dirty": False,
        "seed": seed,
        "started": f"2025-03-0{seed}T10:00:00",
        "wall_seconds": wall,
        "metrics": {"test/hr@10": hr, "test/ndcg@10": ndcg, "val/hr@10": hr + 0.01},
    }


@pytest.fixture
def records() -> list[dict[str, Any]]:
    full = card("s3rec:Beauty", BEAUTY)
    sampled = card("s3rec:Beauty", BEAUTY, negatives=100)
    ml = card("ml-100k", ML)
    return [
        record("beauty/sasrec", 1, full, 0.060, 0.030, wall=100.0),
        record("beauty/sasrec", 2, full, 0.062, 0.032, wall=300.0),
        record("beauty/sasrec", 3, full, 0.064, 0.034, wall=200.0, commit="b"),
        record("beauty/gru4rec", 1, full, 0.020, 0.010, backbone="rnn", cfg="bbbb"),
        record("beauty/sasrec-s100", 1, sampled, 0.450, 0.250, cfg="cccc"),
        record("ml-100k/mf", 1, ml, 0.070, 0.035, backbone="mf", loss="bpr", cfg="dddd", wall=30.0),
        record("ml-100k/mf", 2, ml, 0.080, 0.045, backbone="mf", loss="bpr", cfg="dddd", wall=50.0),
    ]


REFERENCES = {
    "beauty/sasrec": {
        "paper": "S3-Rec",
        "venue": "CIKM 2020",
        "metrics": {"test/hr@10": 0.0605, "test/ndcg@10": 0.0318},
    },
    "beauty/gru4rec": {"metrics": {"test/hr@10": 0.0283}, "tolerance": 0.05},
    "ml-100k/mf": {},
}


def rows(md: str) -> dict[str, list[str]]:
    """Table rows of the Markdown keyed by their first cell."""
    out = {}
    for line in md.splitlines():
        if line.startswith("| ") and not line.startswith("| experiment"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            out[cells[0]] = cells
    return out


def bars(fig) -> list[tuple[str, float, float, tuple[float, float]]]:
    """(tick label, bar length, bar position, error-bar span) of each bar of a leaderboard plot."""
    from matplotlib.container import BarContainer

    (ax,) = fig.axes
    (container,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    spans = [tuple(seg[:, 0]) for seg in container.errorbar.lines[2][0].get_segments()]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    return [
        (label, bar.get_width(), bar.get_y() + bar.get_height() / 2, span)
        for label, bar, span in zip(labels, container, spans, strict=True)
    ]


def published(fig) -> list[tuple[float, float]]:
    from matplotlib.collections import PathCollection

    (markers,) = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    return [tuple(xy) for xy in markers.get_offsets().tolist()]


def test_leaderboard_plots_draw_the_table(tmp_path: Path, records, saved_figures):
    """Each bar is its table row's mean, its error bar the std, in the table's order; diamonds are published."""
    build_report(records, REFERENCES, tmp_path / "out", generated="2025-03-09")
    table = rows((tmp_path / "out" / "leaderboard.md").read_text(encoding="utf-8"))
    beauty = bars(saved_figures["s3rec-beauty_test-hr-10.png"])
    assert [b[0] for b in beauty] == ["beauty/sasrec", "beauty/gru4rec", "beauty/sasrec-s100 ⚠"]
    assert [b[2] for b in beauty] == [0, 1, 2]
    for (label, length, _, (low, high)), key in zip(
        beauty, ["beauty/sasrec", "beauty/gru4rec", "⚠ beauty/sasrec-s100"], strict=True
    ):
        mean, _, std = table[key][5].partition(" ± ")
        assert length == pytest.approx(float(mean), abs=5e-5), label
        assert (high - low) / 2 == pytest.approx(float(std or 0), abs=5e-5), label
    assert [b[1] for b in beauty] == pytest.approx([0.062, 0.020, 0.450])
    assert published(saved_figures["s3rec-beauty_test-hr-10.png"]) == [(0.0605, 0.0), (0.0283, 1.0)]
    ndcg = bars(saved_figures["s3rec-beauty_test-ndcg-10.png"])
    assert [b[1] for b in ndcg] == pytest.approx([0.032, 0.010, 0.250])
    assert published(saved_figures["s3rec-beauty_test-ndcg-10.png"]) == [(0.0318, 0.0)]
    ((label, length, _, (low, high)),) = bars(saved_figures["ml-100k_test-hr-10.png"])
    assert label == "ml-100k/mf" and length == pytest.approx(0.075)
    assert high - low == pytest.approx(2 * statistics.stdev([0.07, 0.08]))


def test_leaderboard_markdown_and_plots(tmp_path: Path, records):
    paths = build_report(records, REFERENCES, tmp_path / "out", generated="2025-03-09")
    out = tmp_path / "out"
    names = [p.name for p in paths]
    assert names == [
        "leaderboard.md",
        "ml-100k_test-hr-10.png",
        "ml-100k_test-ndcg-10.png",
        "s3rec-beauty_test-hr-10.png",
        "s3rec-beauty_test-ndcg-10.png",
    ]
    assert_real_pngs(paths[1:])
    md = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert "on 2025-03-09 from 7 runs at commits `aaaaaaa`, `bbbbbbb`" in md
    assert "## ml-100k\n" in md and "## s3rec:Beauty ⚠ includes sampled-protocol runs" in md
    assert "Data: 22,363 users, 12,101 items, 198,502 interactions." in md
    assert md.index("## ml-100k") < md.index("## s3rec:Beauty")

    table = rows(md)
    sasrec = table["beauty/sasrec"]
    # experiment, backbone, loss, protocol, seeds, HR@10, NDCG@10, published, Δ%, ok?, wall time
    assert sasrec[1:5] == ["sasrec", "ce", "full, leave_one_out, seen masked", "3"]
    assert sasrec[5:7] == ["0.0620 ± 0.0020", "0.0320 ± 0.0020"]
    assert sasrec[7] == "0.0605 / 0.0318"
    assert sasrec[8] == f"{(0.062 - 0.0605) / 0.0605:+.1%} / {(0.032 - 0.0318) / 0.0318:+.1%}" == "+2.5% / +0.6%"
    assert sasrec[9:] == ["✓ / ✓", "3.3 min"]  # median wall time of 100, 300, 200
    gru = table["beauty/gru4rec"]
    assert gru[5:7] == ["0.0200", "0.0100"]  # one seed: no spread shown
    assert gru[7:10] == ["0.0283 / —", "-29.3% / —", "✗ / —"]  # beyond its 5 % tolerance
    sampled = table["⚠ beauty/sasrec-s100"]
    assert sampled[3] == "**⚠ sampled-100-uniform, leave_one_out, seen masked**"
    assert sampled[7:10] == ["— / —"] * 3
    mf = table["ml-100k/mf"]
    assert mf[4:7] == ["2", "0.0750 ± 0.0071", "0.0400 ± 0.0071"] and mf[7] == "— / —"
    assert mf[10] == "40 s"

    # best first by the first metric, but the sampled run's inflated HR@10 does not put it on top
    beauty = md[md.index("## s3rec:Beauty") :]
    assert beauty.index("| beauty/sasrec |") < beauty.index("| beauty/gru4rec |") < beauty.index("beauty/sasrec-s100")
    assert "⚠ rows use different protocols" in beauty
    assert "![s3rec:Beauty HR@10](s3rec-beauty_test-hr-10.png)" in md
    assert "`python -m recframe reproduce beauty/sasrec --seeds 3` (config aaaa, commits `aaaaaaa`, `bbbbbbb`)" in md
    assert "- Published for beauty/sasrec: S3-Rec, CIKM 2020 (tolerance ±10%)." in md


def test_report_is_deterministic_and_sorts_by_the_first_metric(tmp_path: Path, records):
    build_report(records, REFERENCES, tmp_path / "a", metrics=("test/ndcg@10",), generated="x")
    build_report(list(reversed(records)), REFERENCES, tmp_path / "b", metrics=("test/ndcg@10",), generated="x")
    a, b = ((tmp_path / d / "leaderboard.md").read_text(encoding="utf-8") for d in "ab")
    assert a == b
    assert "| experiment | backbone | loss | protocol | seeds | NDCG@10 | published (NDCG@10) |" in a


def test_same_experiment_with_two_configs_is_two_rows(tmp_path: Path, records):
    extra = record("ml-100k/mf", 1, records[-1]["protocol"], 0.1, 0.05, backbone="mf", cfg="eeee")
    groups = group_runs([*records, extra], {})
    names = sorted(g.name for g in groups["ml-100k"])
    assert names == ["ml-100k/mf (config dddd)", "ml-100k/mf (config eeee)"]


def test_empty_and_bad_inputs(tmp_path: Path, records):
    (md,) = build_report([], {}, tmp_path, generated="x")
    assert "No finished runs." in md.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match=r"reference of 'beauty/sasrec' has unknown keys \['metrcs'\]"):
        build_report(records, {"beauty/sasrec": {"metrcs": {}}}, tmp_path)
    with pytest.raises(ValueError, match="at least one metric"):
        build_report(records, {}, tmp_path, metrics=())


def test_names():
    assert slug("s3rec:Beauty") == "s3rec-beauty" and slug("test/ndcg@10") == "test-ndcg-10"
    assert metric_title("test/ndcg@10") == "NDCG@10" and metric_title("val/hr@5") == "HR@5 (val)"
