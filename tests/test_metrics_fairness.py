"""User-group fairness metrics, the user_groups helper, rating unfairness, and 2-process DDP reduction."""

from __future__ import annotations

import doctest
import math
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from recframe.metrics import (
    ExposureMetrics,
    GroupRankingMetrics,
    IntraListDiversity,
    Novelty,
    RankingMetrics,
    RatingUnfairness,
    groups,
    target_ranks,
    unfairness,
    user_groups,
)
from recframe.metrics.functional import METRICS


def test_doctests():
    assert doctest.testmod(groups).failed == 0
    assert doctest.testmod(unfairness).failed == 0


def random_ranks(B=60, I=40, M=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(B, I, generator=g)
    scores[:, 0] = float("-inf")
    targets = torch.zeros(B, M, dtype=torch.long)
    for b in range(B):
        n = int(torch.randint(1, M + 1, (1,), generator=g))
        targets[b, :n] = torch.randperm(I - 1, generator=g)[:n] + 1
    return target_ranks(scores, targets)


# --- GroupRankingMetrics -------------------------------------------------------------------------


def test_hand_computed_groups_gap_ratio_and_df():
    ranks = torch.tensor([[1, 0], [4, 2], [5, 0]])
    metric = GroupRankingMetrics(3, ks=[1, 3], group_names=["young", "old", "nobody"])
    metric.update(ranks, torch.tensor([0, 0, 1]))
    out = {key: value.item() for key, value in metric.compute().items()}
    # young: user 0 hits at rank 1; user 1 hits at rank 2 (of targets at ranks 2 and 4). old: rank 5, no hit
    assert out["hr@1/young"] == 0.5 and out["hr@3/young"] == 1.0 and out["hr@3/old"] == 0.0
    assert out["recall@3/young"] == pytest.approx((1 + 1 / 2) / 2)
    # user 1 ndcg@3 = (1/log2(3)) / (1 + 1/log2(3)) (two targets, ideal ranks 1 and 2)
    assert out["ndcg@3/young"] == pytest.approx((1 + (1 / math.log2(3)) / (1 + 1 / math.log2(3))) / 2)
    assert out["mrr@3/young"] == pytest.approx((1 + 1 / 2) / 2)
    assert math.isnan(out["hr@3/nobody"])  # empty group: NaN, and left out of gap and ratio
    assert out["hr@3/gap"] == 1.0 and out["hr@3/ratio"] == 0.0
    assert out["hr@1/gap"] == 0.5 and out["hr@1/ratio"] == 0.0
    # DF at k=3, alpha=1: P(hit|young) = (2+1)/(2+2) = 3/4, P(hit|old) = (0+1)/(1+2) = 1/3;
    # P(miss|young) = 1/4, P(miss|old) = 2/3 -> eps = max(ln(9/4), ln(8/3)) = ln(8/3)
    assert out["hr@3/df_epsilon"] == pytest.approx(math.log(8 / 3))
    assert (out["users/young"], out["users/old"], out["users/nobody"]) == (2.0, 1.0, 0.0)


def brute_hr_ndcg(ranks: list[int], k: int) -> tuple[float, float]:
    r = sorted(ranks)
    dcg = sum(1 / math.log2(x + 1) for x in r if x <= k)
    idcg = sum(1 / math.log2(i + 1) for i in range(1, min(len(r), k) + 1))
    return float(any(x <= k for x in r)), dcg / idcg


@pytest.mark.parametrize("seed", range(3))
def test_matches_per_group_reference(seed):
    ks, n_groups = [1, 5, 10], 4
    ranks = random_ranks(seed=seed)
    g = torch.Generator().manual_seed(100 + seed)
    group = torch.randint(0, n_groups - 1, (ranks.shape[0],), generator=g)  # the last group stays empty
    metric = GroupRankingMetrics(n_groups, ks)
    metric.update(ranks, group)
    out = metric.compute()
    for k in ks:
        means = {}  # group -> (hit rate, smoothed P(hit), smoothed P(miss))
        for grp in range(n_groups - 1):
            rows = (group == grp).nonzero().flatten().tolist()
            reference = RankingMetrics(ks)
            reference.update(ranks[rows])
            expected = reference.compute()
            for name in METRICS:
                assert out[f"{name}@{k}/{grp}"].item() == pytest.approx(expected[f"{name}@{k}"].item(), abs=1e-12)
            per_user = [brute_hr_ndcg([int(r) for r in ranks[b] if r > 0], k) for b in rows]
            assert out[f"ndcg@{k}/{grp}"].item() == pytest.approx(np.mean([v[1] for v in per_user]), abs=1e-12)
            hits, users = sum(v[0] for v in per_user), len(rows)
            means[grp] = (hits / users, (hits + 1) / (users + 2), (users - hits + 1) / (users + 2))
        hr = [m[0] for m in means.values()]
        assert out[f"hr@{k}/gap"].item() == pytest.approx(max(hr) - min(hr), abs=1e-12)
        assert out[f"hr@{k}/ratio"].item() == pytest.approx(min(hr) / max(hr), abs=1e-12)
        eps = max(abs(math.log(a[y]) - math.log(b[y])) for a in means.values() for b in means.values() for y in (1, 2))
        assert out[f"hr@{k}/df_epsilon"].item() == pytest.approx(eps, abs=1e-12)
        assert math.isnan(out[f"hr@{k}/{n_groups - 1}"].item())


def test_group_metrics_invariant_to_batch_split_and_order():
    ranks = random_ranks(B=50, seed=7)
    group = torch.randint(0, 3, (50,))
    whole = GroupRankingMetrics(3, [1, 5])
    whole.update(ranks, group)
    expected = whole.compute()
    for batch in (1, 9, 50):
        metric = GroupRankingMetrics(3, [1, 5])
        perm = torch.randperm(50)
        for s in range(0, 50, batch):
            metric.update(ranks[perm[s : s + batch]], group[perm[s : s + batch]])
        got = metric.compute()
        for key, value in expected.items():
            assert got[key].item() == pytest.approx(value.item(), abs=1e-12, nan_ok=True), (key, batch)


@pytest.mark.filterwarnings("ignore:The ``compute`` method")
def test_empty_group_policy():
    metric = GroupRankingMetrics(2, [5], group_names=["a", "b"])
    with pytest.raises(ValueError, match="before any user"):
        metric.compute()
    metric.update(torch.tensor([[1], [9]]), torch.tensor([0, 0]))
    out = metric.compute()
    assert out["hr@5/a"].item() == 0.5 and math.isnan(out["hr@5/b"].item())
    for key in ("hr@5/gap", "hr@5/ratio", "hr@5/df_epsilon", "ndcg@5/gap"):
        assert math.isnan(out[key].item()), key  # one non-empty group: NaN, never a silent 0
    metric.update(torch.tensor([[9]]), torch.tensor([1]))
    out = metric.compute()
    assert out["hr@5/gap"].item() == 0.5 and out["hr@5/ratio"].item() == 0.0
    assert out["mrr@5/ratio"].item() == 0.0  # a: MRR (1 + 0) / 2, b: 0 -> 0 / 0.5
    none = GroupRankingMetrics(2, [1])
    none.update(torch.tensor([[7], [8]]), torch.tensor([0, 1]))
    assert none.compute()["hr@1/gap"].item() == 0.0 and math.isnan(none.compute()["hr@1/ratio"].item())  # 0 / 0


def test_group_errors_name_the_bad_values():
    metric = GroupRankingMetrics(2, [5])
    with pytest.raises(ValueError, match=r"in \[0, 1\], got \[-1, 2\]"):
        metric.update(torch.tensor([[1], [2], [3]]), torch.tensor([-1, 2, 0]))
    with pytest.raises(ValueError, match="shape"):
        metric.update(torch.tensor([[1], [2]]), torch.tensor([0]))
    with pytest.raises(ValueError, match="unique names"):
        GroupRankingMetrics(2, [5], group_names=["x", "x"])
    with pytest.raises(ValueError, match="clash"):
        GroupRankingMetrics(2, [5], group_names=["gap", "x"])


# --- user_groups ---------------------------------------------------------------------------------


def test_user_groups_categorical_from_a_side_table_column():
    # EncodedLog.user_info: row k describes dense user k; row 0 (PAD) and users without a row are NaN
    column = pd.Series(["F", "M", "M", None], index=[1, 2, 3, 5])
    ids, names = user_groups(column, n_users=6)
    assert names == ["F", "M", "unknown"]
    assert ids.tolist() == [-1, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match=r"2 users have no value \(first dense ids \[4, 5\]\)"):
        user_groups(column, n_users=6, missing="raise")
    ids, names = user_groups(np.array([0, 4, 20, 4]))
    assert names == ["4", "20"]  # numbers sort as numbers
    assert [names[i] for i in ids[1:]] == ["4", "20", "4"]


def test_user_groups_age_bands_and_quantiles():
    ages = np.array([0, 17, 18, 24, 25, 56, 70], dtype=float)
    ids, names = user_groups(ages, "bins", edges=[0, 18, 25, 56, math.inf])
    assert names == ["[0, 18)", "[18, 25)", "[25, 56)", "[56, inf)"]
    assert ids.tolist() == [-1, 0, 1, 1, 2, 3, 3]
    with pytest.raises(ValueError, match=r"values \[70.0\] fall outside"):
        user_groups(ages, "bins", edges=[0, 18, 60])
    counts = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8])
    ids, names = user_groups(counts, "quantile", n_bins=2)
    assert names == ["[1, 4.5)", "[4.5, 8]"]
    assert ids.tolist() == [-1, 0, 0, 0, 0, 1, 1, 1, 1]


def test_user_groups_refuse_bad_edges_and_bins():
    ages = np.array([0, 20, 30], dtype=float)
    for edges in ([0, 18, 18, 60], [0, 30, 18], [18]):  # repeated, decreasing, a single edge
        with pytest.raises(ValueError, match="edges must be >= 2 strictly increasing numbers"):
            user_groups(ages, "bins", edges=edges)
    with pytest.raises(ValueError, match="n_bins >= 2 and some values, got n_bins=1, 2 values"):
        user_groups(ages, "quantile", n_bins=1)
    from recframe.metrics.groups import _quantiles

    with pytest.raises(ValueError, match="n_bins >= 2 and some values, got n_bins=4, 0 values"):
        _quantiles(np.array([]), 4)  # every real user's value missing


def test_user_groups_top_share_of_activity():
    counts = np.array([0, 3, 50, 7, 7, 1, 2, 9, 30, 4, 12])  # 10 users: the top 20 % are users 2 and 8
    ids, names = user_groups(counts, "top_share", share=0.2)
    assert names == ["top_20%", "rest"]
    assert np.flatnonzero(ids == 0).tolist() == [2, 8]
    ids, _ = user_groups(np.array([0, 5, 5, 5, 1]), "top_share", share=0.5)  # a tie at the cut: smaller ids first
    assert ids.tolist() == [-1, 0, 0, 1, 1]
    with pytest.raises(ValueError, match="unknown kind 'bands'"):
        user_groups(counts, "bands")


# --- RatingUnfairness ----------------------------------------------------------------------------


def brute_unfairness(pred, true, item, group):
    """Yao & Huang 2017 with per-item Python dictionaries; items rated by one group only are skipped."""
    cells: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for p, r, i, g in zip(pred, true, item, group, strict=True):
        cells.setdefault((i, g), []).append((p, r))
    both = sorted({i for i, _ in cells if (i, 0) in cells and (i, 1) in cells})

    def d(i, g):
        return np.mean([p for p, _ in cells[i, g]]) - np.mean([r for _, r in cells[i, g]])

    mean = [np.mean([p for p, g in zip(pred, group, strict=True) if g == s]) for s in (0, 1)]
    return {
        "value_unfairness": np.mean([abs(d(i, 0) - d(i, 1)) for i in both]),
        "absolute_unfairness": np.mean([abs(abs(d(i, 0)) - abs(d(i, 1))) for i in both]),
        "underestimation_unfairness": np.mean([abs(max(0, -d(i, 0)) - max(0, -d(i, 1))) for i in both]),
        "overestimation_unfairness": np.mean([abs(max(0, d(i, 0)) - max(0, d(i, 1))) for i in both]),
        "non_parity_unfairness": abs(mean[0] - mean[1]),
        "items": len(both),
    }


def random_ratings(N=300, I=25, seed=0):
    g = torch.Generator().manual_seed(seed)
    item = torch.randint(1, I, (N,), generator=g)
    group = (torch.rand(N, generator=g) < 0.3).long()
    item[group == 1] = item[group == 1].clamp(max=I - 4)  # items I-3.. are rated by group 0 only
    true = torch.randint(1, 6, (N,), generator=g).double()
    pred = true + torch.randn(N, generator=g, dtype=torch.float64) + 0.5 * group
    return pred, true, item, group


@pytest.mark.parametrize("seed", range(3))
def test_rating_unfairness_matches_reference_and_splits(seed):
    pred, true, item, group = random_ratings(seed=seed)
    expected = brute_unfairness(pred.tolist(), true.tolist(), item.tolist(), group.tolist())
    for batch in (300, 17):
        metric = RatingUnfairness(25)
        for s in range(0, 300, batch):
            metric.update(pred[s : s + batch], true[s : s + batch], item[s : s + batch], group[s : s + batch])
        out = metric.compute()
        for key, value in expected.items():
            assert out[key].item() == pytest.approx(value, abs=1e-12), (key, batch)
    assert expected["items"] < 24  # the group-0-only items were left out


def test_rating_unfairness_errors():
    metric = RatingUnfairness(5)
    with pytest.raises(ValueError, match=r"group must be 0 or 1, got values \[0, 2\]"):
        metric.update(torch.ones(2), torch.ones(2), torch.tensor([1, 2]), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match=r"item ids must be in \[1, 4\], got \[0, 5\]"):
        metric.update(torch.ones(2), torch.ones(2), torch.tensor([0, 5]), torch.tensor([0, 1]))
    metric.update(torch.ones(2), torch.ones(2), torch.tensor([1, 2]), torch.tensor([0, 0]))
    out = metric.compute()  # one group only: nothing to compare
    assert math.isnan(out["value_unfairness"].item()) and math.isnan(out["non_parity_unfairness"].item())


# --- DDP: two gloo processes, each with a disjoint, uneven share of the users --------------------

N_USERS, N_ITEMS, SPLIT = 75, 40, 37  # rank 0 evaluates users [0, 37), rank 1 users [37, 75)


def ddp_data() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1234)
    scores = torch.randn(N_USERS, N_ITEMS, generator=g)
    scores[:, 0] = float("-inf")
    targets = torch.zeros(N_USERS, 2, dtype=torch.long)
    for b in range(N_USERS):
        targets[b, : 1 + b % 2] = torch.randperm(N_ITEMS - 1, generator=g)[: 1 + b % 2] + 1
    seen_rows = torch.randint(0, N_USERS, (120,), generator=g)
    seen_items = torch.randint(1, N_ITEMS, (120,), generator=g)
    scores[seen_rows, seen_items] = float("-inf")
    pop = torch.randint(0, N_USERS, (N_ITEMS,), generator=g).double()
    return {
        "ranks": target_ranks(scores, targets),
        "top": scores.topk(10, dim=1).indices,
        "targets": targets,
        "seen_rows": seen_rows,
        "seen_items": seen_items,
        "user_group": torch.randint(0, 3, (N_USERS,), generator=g),
        "popularity": pop,
        "item_group": torch.randint(0, 4, (N_ITEMS,), generator=g),
        "features": (torch.rand(N_ITEMS, 6, generator=g) < 0.3).double(),
        "rating_user": torch.randint(0, N_USERS, (400,), generator=g),  # (user, item) rating pairs
        "rating_item": torch.randint(1, N_ITEMS, (400,), generator=g),
        "rating_true": torch.randint(1, 6, (400,), generator=g).double(),
        "rating_pred": 1 + 4 * torch.rand(400, generator=g, dtype=torch.float64),
    }


def ddp_metrics(data):
    return {
        "ranking": RankingMetrics([1, 5, 10]),
        "groups": GroupRankingMetrics(3, [5, 10], group_names=["a", "b", "c"]),
        "exposure": ExposureMetrics(N_ITEMS, 5, data["popularity"], item_groups=data["item_group"]),
        "novelty": Novelty(data["popularity"], N_USERS + 1, 10),
        "ild": IntraListDiversity(data["features"], 10),
        "ratings": RatingUnfairness(N_ITEMS),
    }


def ddp_feed(metrics, data, lo: int, hi: int, batch: int = 16) -> dict[str, dict[str, torch.Tensor]]:
    """Update every metric with users ``[lo, hi)`` in batches, then return each ``compute()``."""
    for s in range(lo, hi, batch):
        e = min(s + batch, hi)
        keep = (data["seen_rows"] >= s) & (data["seen_rows"] < e)
        metrics["ranking"].update(data["ranks"][s:e])
        metrics["groups"].update(data["ranks"][s:e], data["user_group"][s:e])
        metrics["exposure"].update(
            data["top"][s:e], data["targets"][s:e], data["seen_rows"][keep] - s, data["seen_items"][keep]
        )
        metrics["novelty"].update(data["top"][s:e])
        metrics["ild"].update(data["top"][s:e])
        pairs = (data["rating_user"] >= s) & (data["rating_user"] < e)
        group = data["user_group"][data["rating_user"][pairs]].clamp(max=1)  # two groups: {a}, {b, c}
        metrics["ratings"].update(
            data["rating_pred"][pairs], data["rating_true"][pairs], data["rating_item"][pairs], group
        )
    return {name: metric.compute() for name, metric in metrics.items()}


def ddp_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        data = ddp_data()
        lo, hi = (0, SPLIT) if rank == 0 else (SPLIT, N_USERS)
        torch.save(ddp_feed(ddp_metrics(data), data, lo, hi), Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_sum_states_equal_single_process(tmp_path):
    data = ddp_data()
    expected = ddp_feed(ddp_metrics(data), data, 0, N_USERS, batch=N_USERS)
    mp.spawn(ddp_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        for name, values in expected.items():
            assert got[name].keys() == values.keys(), name
            for key, value in values.items():
                assert torch.allclose(got[name][key], value, rtol=1e-12, atol=1e-12, equal_nan=True), (rank, name, key)
    assert not torch.allclose(  # the split is not trivial: rank 0 alone gives different numbers
        ddp_feed(ddp_metrics(data), data, 0, SPLIT)["groups"]["ndcg@10/a"], expected["groups"]["ndcg@10/a"]
    )


def test_configured_user_attributes_choose_their_grouping():
    """``age`` gets the ML-1M age bands; other numeric columns with more than 10 values get quartiles;
    the rest (10 values or fewer, or text) one group per value."""
    from types import SimpleNamespace

    from recframe.metrics.suite import AGE_EDGES, _user_attribute

    n = 23  # dense users 1..22
    info = pd.DataFrame(
        {
            "age": [np.nan] + [[1, 18, 25, 35, 45, 50, 56][u % 7] for u in range(1, n)],
            "ten": [np.nan] + [u % 10 for u in range(1, n)],
            "eleven": [np.nan] + [u % 11 for u in range(1, n)],
            "gender": [None] + ["FM"[u % 2] for u in range(1, n)],
        }
    )
    spec = SimpleNamespace(user_info=info, name="tiny")
    activity = np.arange(n)
    ids, names = _user_attribute(spec, "age", activity)
    assert names == ["[0, 18)", "[18, 25)", "[25, 35)", "[35, 45)", "[45, 50)", "[50, 56)", "[56, inf)"]
    assert len(AGE_EDGES) == 8 and ids[1:8].tolist() == [1, 2, 3, 4, 5, 6, 0]
    assert _user_attribute(spec, "ten", activity)[1] == [str(float(v)) for v in range(10)]
    assert len(_user_attribute(spec, "eleven", activity)[1]) == 4  # quartile bands
    assert _user_attribute(spec, "gender", activity)[1] == ["F", "M"]
    assert _user_attribute(spec, "activity", activity)[1] == ["top_20%", "rest"]
    with pytest.raises(ValueError, match=r"unknown user group attribute 'job' for tiny; known: \['activity', 'age'"):
        _user_attribute(spec, "job", activity)
