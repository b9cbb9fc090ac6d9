"""Item-exposure metrics against hand-computed values, per-user Elliot/RecBole-style references, and splits."""

from __future__ import annotations

import doctest
import math
from collections import Counter

import numpy as np
import pytest
import torch

from recframe.metrics import ExposureMetrics, exposure, gini_index, lorenz_curve, short_head


def test_doctests():
    assert doctest.testmod(exposure).failed == 0


# --- hand-computed case -------------------------------------------------------------------------
# 5 real items (n_items = 6), k = 2, 3 users. popularity [_, 10, 6, 2, 1, 1], total 20: the short
# head covers 0.8 * 20 = 16 interactions -> items 1 (10) and 2 (10 + 6 = 16); long tail {3, 4, 5}.
POP = torch.tensor([0.0, 10, 6, 2, 1, 1])
TOP = torch.tensor([[1, 2, 5], [1, 3, 2], [4, 1, 3]])  # K' = 3 > k: only the first 2 columns count
TARGETS = torch.tensor([[2, 0], [5, 4], [1, 3]])
SEEN_ROWS = torch.tensor([0, 1, 1, 1])  # user 0 saw {3}, user 1 saw {2, 5} (5 listed twice)
SEEN_ITEMS = torch.tensor([3, 2, 5, 5])
GROUPS = torch.tensor([0, 0, 1, 1, 0, 1])  # item groups: a = {1, 4}, b = {2, 3, 5}


def hand_metric() -> ExposureMetrics:
    metric = ExposureMetrics(6, k=2, popularity=POP, item_groups=GROUPS, group_names=["a", "b"])
    metric.update(TOP, TARGETS, SEEN_ROWS, SEEN_ITEMS)
    return metric


def test_hand_computed_values():
    out = {key: value.item() for key, value in hand_metric().compute().items()}
    # exposure c = [item1: 3, item2: 1, item3: 1, item4: 1, item5: 0]
    assert out["coverage@2"] == pytest.approx(4 / 5)
    # sorted [0, 1, 1, 1, 3], coefficients 2i - 6 = [-4, -2, 0, 2, 4]: (-2 + 0 + 2 + 12) / (5 * 6)
    assert out["gini@2"] == pytest.approx(12 / 30)
    # p = [3, 1, 1, 1] / 6: -(1/2 ln 1/2 + 3 * 1/6 ln 1/6) = 1/2 ln 12; RecBole divides by 4 distinct items
    assert out["entropy@2"] == pytest.approx(0.5 * math.log(12))
    assert out["entropy_recbole@2"] == pytest.approx(0.5 * math.log(12) / 4)
    # ARP: user 0 (10 + 6) / 2 = 8, user 1 (10 + 2) / 2 = 6, user 2 (1 + 10) / 2 = 5.5 -> 19.5 / 3
    assert out["arp@2"] == pytest.approx(6.5)
    # long-tail items per list: 0, 1 (item 3), 1 (item 4)
    assert out["aplt@2"] == pytest.approx((0 + 1 / 2 + 1 / 2) / 3)
    assert out["aclt@2"] == pytest.approx(2 / 3)
    # PopRSP: recommended head 3 + 1 = 4, tail 2; candidates head 3 * 2 - 1 (item 2 seen) = 5,
    # tail 3 * 3 - 2 (items 3, 5 seen) = 7 -> P = [4/5, 2/7]; std/mean of two = |p1 - p2| / (p1 + p2)
    assert out["pop_rsp@2"] == pytest.approx((4 / 5 - 2 / 7) / (4 / 5 + 2 / 7))
    # PopREO: unseen targets head {2 (u0), 1 (u2)}, tail {4 (u1), 3 (u2)} (5 is seen by u1);
    # hits head {2 (u0), 1 (u2)}, tail {} -> P = [1, 0] -> std 0.5 / mean 0.5
    assert out["pop_reo@2"] == pytest.approx(1.0)
    # item groups: exposure a = 3 + 1 = 4, b = 1 + 1 = 2; candidates a = 3 * 2 - 0 = 6, b = 9 - 3 = 6
    assert out["rsp@2"] == pytest.approx((4 / 6 - 2 / 6) / (4 / 6 + 2 / 6))
    # REO: unseen targets a {4, 1}, b {2, 3}; hits a {1}, b {2} -> P = [1/2, 1/2] -> 0
    assert out["reo@2"] == pytest.approx(0.0)
    assert out["exposure_share@2/a"] == pytest.approx(4 / 6) and out["exposure_share@2/b"] == pytest.approx(2 / 6)
    assert out["catalogue_share/a"] == pytest.approx(2 / 5) and out["catalogue_share/b"] == pytest.approx(3 / 5)
    # position weights 1 and w = 1/log2(3): item1 = 1 + 1 + w, item2 = w, item3 = w, item4 = 1, item5 = 0
    w = 1 / math.log2(3)
    assert out["gini_position@2"] == pytest.approx(gini_index(torch.tensor([2 + w, w, w, 1, 0])).item())


# --- per-user references, written as Elliot and RecBole compute them ---------------------------


def elliot_short_head(pop: list[float], share: float) -> set[int]:
    """Elliot ``Popularity.get_short_head``: sorted by popularity, add items until 80 % is covered."""
    ranked = sorted(range(1, len(pop)), key=lambda i: -pop[i])  # stable: ties keep the smaller id first
    limit, head = sum(pop[1:]) * share, set()
    for i in ranked:
        head.add(i)
        limit -= pop[i]
        if limit <= 0:
            break
    return head


def std_mean(num: list[float], den: list[float]) -> float:
    p = np.array(num) / np.array(den)
    return float(np.std(p) / np.mean(p))


def reference(top, targets, seen, pop, k, groups, share=0.8):
    """Per-user Python loops over sets: RecBole coverage/Gini/entropy, Elliot ARP/APLT/ACLT/PopRSP/PopREO."""
    n_items = len(pop)
    lists = [[int(i) for i in row[:k]] for row in top]
    head = elliot_short_head(pop, share)
    tail = set(range(1, n_items)) - head
    counts = Counter(i for items in lists for i in items)
    n, total = n_items - 1, len(lists) * k
    ranked = np.array(sorted(counts.values()))
    idx = np.arange(n - len(ranked) + 1, n + 1)
    entropy = -sum(c / total * math.log(c / total) for c in counts.values())
    out = {
        "coverage": len(counts) / n,
        "gini": float(np.sum((2 * idx - n - 1) * ranked) / total / n),
        "entropy": entropy,
        "entropy_recbole": entropy / len(counts),
        "arp": np.mean([sum(pop[i] for i in items) / k for items in lists]),
        "aplt": np.mean([len(set(items) & tail) / k for items in lists]),
        "aclt": np.mean([len(set(items) & tail) for items in lists]),
    }
    for prefix, sets in (("pop_", [head, tail]), ("", groups)):
        rec = [sum(len(set(items) & g) for items in lists) for g in sets]
        cand = [sum(len(g - seen[u]) for u in range(len(lists))) for g in sets]
        out[prefix + "rsp"] = std_mean(rec, cand)
        rel = [{int(t) for t in row if t != 0} for row in targets]
        hits = [sum(len(set(items) & rel[u] & g) for u, items in enumerate(lists)) for g in sets]
        relevant = [sum(len((rel[u] & g) - seen[u]) for u in range(len(lists))) for g in sets]
        out[prefix + "reo"] = std_mean(hits, relevant)
    return out


def random_case(B=40, n_items=30, K=7, M=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    top = torch.stack([torch.randperm(n_items - 1, generator=g)[:K] + 1 for _ in range(B)])
    targets = torch.zeros(B, M, dtype=torch.long)
    seen_rows, seen_items, seen = [], [], []
    for b in range(B):
        m = int(torch.randint(1, M + 1, (1,), generator=g))
        targets[b, :m] = torch.randperm(n_items - 1, generator=g)[:m] + 1
        items = (torch.randperm(n_items - 1, generator=g)[: int(torch.randint(0, 6, (1,), generator=g))] + 1).tolist()
        seen.append(set(items))
        seen_rows += [b] * len(items)
        seen_items += items
    pop = torch.randint(0, 50, (n_items,), generator=g).double()
    pop[0] = 0
    item_groups = torch.randint(0, 3, (n_items,), generator=g)
    return top, targets, torch.tensor(seen_rows), torch.tensor(seen_items), seen, pop, item_groups


def feed(metric, top, targets, seen_rows, seen_items, batch, perm=None):
    """Update in batches of ``batch`` users (in ``perm`` order), re-indexing the seen pairs per batch."""
    B = top.shape[0]
    perm = torch.arange(B) if perm is None else perm
    position = torch.empty(B, dtype=torch.long)
    position[perm] = torch.arange(B)
    for s in range(0, B, batch):
        rows = perm[s : s + batch]
        keep = (position[seen_rows] >= s) & (position[seen_rows] < s + batch)
        metric.update(top[rows], targets[rows], position[seen_rows[keep]] - s, seen_items[keep])


@pytest.mark.parametrize("seed", range(3))
def test_matches_per_user_reference(seed):
    top, targets, seen_rows, seen_items, seen, pop, item_groups = random_case(seed=seed)
    k = 5
    metric = ExposureMetrics(30, k, pop, item_groups=item_groups)
    metric.update(top, targets, seen_rows, seen_items)
    out = metric.compute()
    groups = [{i for i in range(1, 30) if item_groups[i] == g} for g in range(3)]
    expected = reference(top.tolist(), targets.tolist(), seen, pop.tolist(), k, groups)
    for name, value in expected.items():
        assert out[f"{name}@{k}"].item() == pytest.approx(value, rel=1e-12, abs=1e-12), name


def test_short_head_matches_elliot_with_ties():
    for seed in range(5):
        g = torch.Generator().manual_seed(seed)
        pop = torch.randint(0, 4, (25,), generator=g).double()  # many ties
        pop[0] = 0
        mask = short_head(pop, 0.8)
        assert set(torch.nonzero(mask).flatten().tolist()) == elliot_short_head(pop.tolist(), 0.8)


def test_invariant_to_batch_size_and_order():
    top, targets, seen_rows, seen_items, _, pop, item_groups = random_case(B=53, seed=4)
    whole = ExposureMetrics(30, 5, pop, item_groups=item_groups)
    whole.update(top, targets, seen_rows, seen_items)
    expected = whole.compute()
    for batch in (1, 8, 53):
        metric = ExposureMetrics(30, 5, pop, item_groups=item_groups)
        feed(metric, top, targets, seen_rows, seen_items, batch, perm=torch.randperm(53))
        got = metric.compute()
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert got[key].item() == pytest.approx(value.item(), rel=1e-12, abs=1e-12), (key, batch)


def test_gini_is_one_minus_twice_the_area_under_the_lorenz_curve():
    exposure_counts = torch.tensor([0.0, 5, 1, 0, 2, 9, 3])
    x, y = lorenz_curve(exposure_counts)
    area = torch.trapezoid(y, x)
    assert gini_index(exposure_counts).item() == pytest.approx(1 - 2 * area.item())
    assert y[0] == 0 and y[-1] == pytest.approx(1.0) and (y.diff() >= 0).all()


def test_extremes_of_gini_and_coverage():
    pop = torch.ones(6)
    equal = ExposureMetrics(6, 1, pop)
    equal.update(torch.tensor([[1], [2], [3], [4], [5]]))
    one = ExposureMetrics(6, 1, pop)
    one.update(torch.tensor([[3], [3], [3]]))
    assert equal.compute()["gini@1"].item() == pytest.approx(0.0)
    assert equal.compute()["coverage@1"].item() == 1.0
    assert one.compute()["gini@1"].item() == pytest.approx(1 - 1 / 5)  # all mass on one of 5 items
    assert one.compute()["coverage@1"].item() == pytest.approx(1 / 5)


def test_reo_absent_without_targets_and_nan_for_an_empty_group():
    metric = ExposureMetrics(6, 2, POP, item_groups=torch.tensor([0, 0, 0, 0, 0, 0]), group_names=["x", "empty"])
    metric.update(TOP)
    out = metric.compute()
    assert "pop_reo@2" not in out and "reo@2" not in out
    assert math.isnan(out["rsp@2"].item())  # the empty group's rate is 0/0
    assert out["catalogue_share/empty"].item() == 0.0


@pytest.mark.filterwarnings("ignore:The ``compute`` method")
def test_errors_name_the_bad_values():
    metric = ExposureMetrics(6, 2, POP)
    with pytest.raises(ValueError, match="before any user"):
        metric.compute()
    with pytest.raises(ValueError, match=r"outside \[1, 5\]: \[0\]"):
        metric.update(torch.tensor([[1, 0]]))
    with pytest.raises(ValueError, match=r"targets must be \[1, M\], got \[2, 1\]"):
        metric.update(TOP[:1], torch.tensor([[1], [2]]))
    for share in (0.0, 1.5):
        with pytest.raises(ValueError, match=rf"head_share must be in \(0, 1\], got {share}"):
            short_head(POP, share)
    with pytest.raises(ValueError, match="K' >= k=2"):
        metric.update(torch.tensor([[1]]))
    with pytest.raises(ValueError, match="both seen_rows and seen_items"):
        metric.update(TOP, seen_rows=SEEN_ROWS)
    with pytest.raises(ValueError, match=r"shape \[6\]"):
        ExposureMetrics(6, 2, torch.ones(5))
    with pytest.raises(ValueError, match=r"item_groups must be in \[0, 1\], got \[2\]"):
        ExposureMetrics(6, 2, POP, item_groups=torch.tensor([0, 0, 1, 2, 0, 0]), group_names=["a", "b"])
    metric.update(TOP, TARGETS)
    metric.update(TOP)
    with pytest.raises(ValueError, match="targets were given for 3 of 6 users"):
        metric.compute()


def test_state_is_constant_size():
    metric = ExposureMetrics(30, 5, torch.ones(30))
    sizes = {name: getattr(metric, name).numel() for name in metric._defaults}
    top, targets, seen_rows, seen_items, *_ = random_case()
    metric.update(top, targets, seen_rows, seen_items)
    metric.update(top, targets, seen_rows, seen_items)
    assert {name: getattr(metric, name).numel() for name in metric._defaults} == sizes
