"""Evaluation protocols: sampled candidates against brute force, experiment fingerprints on the real
files, and `reproduce` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from recframe.data.datamodule import RecDataModule
from recframe.data.histories import Histories
from recframe.data.negatives import sample_negatives
from recframe.data.synthetic import synthetic
from recframe.experiments.config import find_experiment, list_experiments, load_config, read_experiment
from recframe.training import engine


@pytest.mark.parametrize("weights", [None, "popularity"])
def test_sampled_negatives_are_distinct_unseen_and_seeded(weights):
    seen = Histories.from_rows(np.array([1, 1, 2, 3, 3, 3]), np.array([1, 2, 3, 4, 5, 6]), 4)
    targets = Histories.from_rows(np.array([1, 2, 3]), np.array([3, 9, 7]), 4)
    users = np.array([1, 2, 3])
    w = np.arange(12, dtype=float) if weights else None
    neg = sample_negatives(users, [seen, targets], 12, 5, w, seed=7)
    assert neg.shape == (4, 5) and (neg[0] == 0).all()
    for u in users:
        row = set(neg[u].tolist())
        assert len(row) == 5 and 0 not in row
        assert not row & set(seen.padded(np.array([u]))[0].tolist()) and not row & set(
            targets.padded(np.array([u]))[0].tolist()
        )
    assert np.array_equal(neg, sample_negatives(users, [seen, targets], 12, 5, w, seed=7))
    with pytest.raises(ValueError, match="fewer than 20"):
        sample_negatives(users, [seen, targets], 12, 20, w, seed=7)


def test_sampled_protocol_matches_brute_force_ranking_among_candidates():
    """Each target is ranked among its user's N sampled negatives and nothing else."""
    data = RecDataModule(synthetic(n_users=80, n_items=200, max_length=30, seed=2), sequential=True, eval_negatives=20)
    cfg = load_config("default", ["logger.name=none", "data.eval_negatives=20"])
    module = engine.build_module(cfg, data, "sampled").eval()
    ds = data.eval_dataset("test")
    batch = ds[np.arange(len(ds))]
    assert batch["candidates"].shape == (len(ds), 20)
    with torch.no_grad():
        full = module.backbone.score(batch)
        module.test_step(batch, 0)
    got = module.metrics["test"].compute()
    hits, hits20, ndcg = [], [], []
    for row in range(len(ds)):
        target = int(batch["targets"][row, 0])
        pool = [target, *batch["candidates"][row].tolist()]
        s = full[row, pool]
        rank = int((s[1:] >= s[0]).sum()) + 1  # ties against the target
        if target in batch["seen_items"][batch["seen_rows"] == row].tolist():
            rank = 10**9  # a target the user already saw is masked out: a miss, as in full ranking
        hits.append(float(rank <= 10))
        hits20.append(float(rank <= 20))
        ndcg.append(1 / np.log2(rank + 1) if rank <= 10 else 0.0)
    assert float(got["hr@10"]) == pytest.approx(np.mean(hits), abs=1e-9)
    assert float(got["ndcg@10"]) == pytest.approx(np.mean(ndcg), abs=1e-9)
    assert float(got["hr@20"]) == pytest.approx(np.mean(hits20), abs=1e-9)  # 21 candidates: only last place misses
    assert "SAMPLED evaluation" in data.summary()


FINGERPRINTED = [
    n for n in list_experiments() if read_experiment(find_experiment(n)).get("data", {}).get("fingerprint")
]


FINGERPRINTED_DATASETS = sorted({n.split("/")[0] for n in FINGERPRINTED})


@pytest.mark.data
@pytest.mark.parametrize("name", FINGERPRINTED_DATASETS)
def test_experiment_fingerprints_match_the_real_files(name, shared_data, monkeypatch, tmp_path):
    """Each fingerprinted dataset's real files give the fingerprint its experiments expect; a dataset whose
    folder is missing from the shared data is skipped, never downloaded (offline, empty cache)."""
    monkeypatch.setenv("RECFRAME_DATA", str(shared_data))
    monkeypatch.setenv("RECFRAME_OFFLINE", "1")
    monkeypatch.setenv("RECFRAME_CACHE", str(tmp_path / "empty-cache"))
    experiment = next(n for n in FINGERPRINTED if n.startswith(name + "/"))
    cfg = load_config(experiment, ["logger.name=none"])
    try:
        data = engine.build_data(cfg)  # raises if the fingerprint differs
    except FileNotFoundError as err:
        if "not downloaded because RECFRAME_OFFLINE=1" not in str(err):
            raise
        pytest.skip(f"{name}: its files are not under {shared_data}: {str(err).splitlines()[0]}")
    assert data.fingerprint == cfg["data"]["fingerprint"]


def test_fingerprint_check_skips_a_missing_dataset_instead_of_downloading(tmp_path, monkeypatch):
    (tmp_path / "shared").mkdir()
    for name in FINGERPRINTED_DATASETS:
        with pytest.raises(pytest.skip.Exception, match=f"{name}: its files are not under"):
            test_experiment_fingerprints_match_the_real_files(name, tmp_path / "shared", monkeypatch, tmp_path)


@pytest.mark.slow
def test_reproduce_end_to_end_records_a_comparison(tmp_path):
    from recframe.experiments.reproduce import REPRODUCTIONS, reproduce

    overrides = ["dataset.n_users=120", "dataset.n_items=40", "trainer.max_epochs=1", "logger.name=none"]
    overrides += [f"run.dir={tmp_path}", "trainer.enable_progress_bar=false"]
    overrides += ["reference.metrics={test/hr@10: 0.01, test/ndcg@10: 0.99}", "reference.tolerance=0.1"]
    record = reproduce("default", seeds=2, overrides=overrides, echo=lambda *a, **k: None)
    assert [r["seed"] for r in record["runs"]] == [42, 43]
    rows = {r["metric"]: r for r in record["rows"]}
    assert rows["test/hr@10"]["within_tolerance"] is True and rows["test/ndcg@10"]["within_tolerance"] is False
    per_seed = [
        json.loads((tmp_path / "default" / r["path"].split("/")[-1] / "metrics.json").read_text())
        for r in record["runs"]
    ]
    assert rows["test/hr@10"]["mean"] == pytest.approx(np.mean([m["test/hr@10"] for m in per_seed]))
    saved = [json.loads(line) for line in (tmp_path / REPRODUCTIONS).read_text().splitlines()]
    assert saved[-1]["experiment"] == "default" and saved[-1]["seeds"] == 2
    assert len((tmp_path / "index.jsonl").read_text().splitlines()) == 2


def test_users_with_fewer_than_k_rankable_items_are_left_out_of_exposure():
    from recframe.data.datamodule import DataSpec
    from recframe.metrics.suite import EvaluationMetrics

    spec = DataSpec(
        n_users=3, n_items=5, max_len=2, item_popularity=np.ones(5), user_activity=np.ones(3), item_users=np.ones(5)
    )
    suite = EvaluationMetrics(spec, ks=(1, 2), exposure=True, beyond=True, k=2)
    batch = {
        "user": torch.tensor([1, 2]),
        "targets": torch.tensor([[1], [2]]),
        "seen_rows": torch.tensor([1, 1, 1]),
        "seen_items": torch.tensor([1, 3, 4]),
    }
    top_items = torch.tensor([[2, 3], [2, 0]])
    top_values = torch.tensor([[1.0, 0.5], [0.7, float("-inf")]])  # user 2 has one rankable item left
    suite.update(batch, torch.tensor([[3], [1]]), top_items, top_values)
    out = suite.compute()
    assert float(out["exposure/short_lists@2"]) == 1.0
    assert suite.exposure.exposure.tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]  # only user 1's list counted
    assert float(out["hr@1"]) == 0.5  # accuracy still counts every user


def test_slicing_a_batch_renumbers_its_seen_pairs():
    from recframe.metrics.suite import _select_rows

    batch = {
        "user": torch.tensor([4, 5, 6]),
        "targets": torch.tensor([[1], [2], [3]]),
        "seen_rows": torch.tensor([0, 0, 1, 2, 2]),
        "seen_items": torch.tensor([7, 8, 9, 10, 11]),
    }
    out = _select_rows(batch, torch.tensor([True, False, True]))
    assert out["user"].tolist() == [4, 6] and out["targets"].tolist() == [[1], [3]]
    assert out["seen_rows"].tolist() == [0, 0, 1, 1] and out["seen_items"].tolist() == [7, 8, 10, 11]


def test_short_lists_add_up_over_batches():
    from recframe.data.datamodule import DataSpec
    from recframe.metrics.suite import EvaluationMetrics

    spec = DataSpec(
        n_users=4, n_items=5, max_len=2, item_popularity=np.ones(5), user_activity=np.ones(4), item_users=np.ones(5)
    )
    top_items, top_values = torch.tensor([[2, 0]]), torch.tensor([[0.7, float("-inf")]])  # one rankable item
    suite = EvaluationMetrics(spec, ks=(1, 2), exposure=True, k=2)
    for user in (1, 2):
        batch = {"user": torch.tensor([user]), "targets": torch.tensor([[1]])}
        suite.update(batch, torch.tensor([[3]]), top_items, top_values)
    full = {"user": torch.tensor([3]), "targets": torch.tensor([[1]])}
    suite.update(full, torch.tensor([[1]]), torch.tensor([[2, 3]]), torch.tensor([[0.5, 0.4]]))
    assert float(suite.compute()["exposure/short_lists@2"]) == 2.0


def test_item_groups_by_popularity_and_by_category():
    """``popularity``: the short head (Elliot's 80 % rule) against the long tail; a text column: one group
    per value, item ids indexed like the catalogue (PAD included)."""
    import pandas as pd

    from recframe.data.datamodule import DataSpec
    from recframe.metrics.exposure import short_head
    from recframe.metrics.suite import _item_groups

    users = np.array([0.0, 9, 6, 3, 1, 1])
    info = pd.DataFrame({"kind": [None, "b", "a", "b", "a", "a"]})
    spec = DataSpec(n_users=10, n_items=6, max_len=2, item_popularity=users, item_users=users, item_info=info)
    ids, names, multi = _item_groups(spec, "popularity")
    head = short_head(torch.as_tensor(users))
    assert names == ["short_head", "long_tail"] and not multi
    assert ids.tolist() == (~head).long().tolist() == [1, 0, 0, 0, 1, 1]  # 9 + 6 < 16 <= 9 + 6 + 3
    ids, names, multi = _item_groups(spec, "kind")
    assert names == ["a", "b"] and not multi and ids.tolist() == [0, 1, 0, 1, 0, 0]
