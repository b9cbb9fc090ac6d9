"""recframe.reporting.reproductions (scripts/publish_reproductions.py): seeds of one configuration are pooled,
whatever recorded them."""

from __future__ import annotations

import pytest

REFERENCE = {"metrics": {"test/hr@10": 0.06}, "tolerance": 0.1}


@pytest.fixture(scope="module")
def publish():
    from recframe.reporting import reproductions

    return reproductions


def run(run_id: str, seed: int, hr: float, config: str = "h1") -> dict:
    return {
        "id": run_id,
        "experiment": "beauty/sasrec-ce",
        "config_hash": config,
        "seed": seed,
        "path": f"runs/{run_id}",
        "started": f"2026-11-28T0{ord(run_id) - ord('a')}:00",
        "metrics": {"test/hr@10": hr, "test/ndcg@10": hr / 2},
        "wall_seconds": 60.0,
    }


def summary(runs: list[dict], date: str) -> dict:
    return {
        "experiment": "beauty/sasrec-ce",
        "config_hash": runs[0]["config_hash"],
        "seeds": len(runs),
        "folds": None,
        "date": date,
        "runs": [{"id": r["id"], "path": r["path"], "seed": r["seed"], "fold": None} for r in runs],
        "reference": REFERENCE,
        "wall_seconds": [r["wall_seconds"] for r in runs],
    }


def test_seeds_of_an_interrupted_reproduce_pool_with_a_later_record(publish):
    """Seeds 42-43 finished in a reproduce that was stopped (no record); seed 44 ran later with its own."""
    runs = [run("a", 42, 0.08), run("b", 43, 0.09), run("c", 44, 0.10)]
    [merged] = publish.pooled_records(runs, [summary(runs[2:], "2026-11-28T14:49")], {"beauty/sasrec-ce": REFERENCE})
    assert merged["seeds"] == 3 and sorted(r["id"] for r in merged["runs"]) == ["a", "b", "c"]
    [row] = [r for r in merged["rows"] if r["metric"] == "test/hr@10"]
    assert row["mean"] == pytest.approx(0.09) and row["n"] == 3
    assert "interrupted" in merged["assembled"]


def test_other_configurations_stay_apart(publish):
    runs = [run("a", 42, 0.08, config="old"), run("b", 42, 0.09)]
    summaries = [summary([runs[0]], "2026-11-28T10:00"), summary([runs[1]], "2026-11-28T11:00")]
    merged = publish.merge_seed_records(summaries, {r["id"]: r["metrics"] for r in runs})
    assert sorted(m["config_hash"] for m in merged) == ["h1", "old"] and all(m["seeds"] == 1 for m in merged)
    assert not any("assembled" in m for m in merged)


def test_setting_rows_sort_numbers_by_value():
    from recframe.reporting.studies import natural

    shares = ["train_share=0.5", "train_share=1.0", "train_share=0.25", "train_share=0.75"]
    assert sorted(shares, key=natural) == ["train_share=0.25", "train_share=0.5", "train_share=0.75", "train_share=1.0"]
    assert sorted(["n=256", "n=16", "n=64"], key=natural) == ["n=16", "n=64", "n=256"]
