"""Ranking metrics against brute-force definitions, torchmetrics, and their invariances."""

from __future__ import annotations

import doctest
import math

import pytest
import torch
import torchmetrics.functional.retrieval as tmr

from recframe.metrics import RankingMetrics, functional, mask_items, ranking_metrics, target_ranks

KS = [1, 3, 5, 10]


def brute_ranks(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Sort each row by (score desc, non-targets before targets, target list order) and read positions."""
    out = torch.zeros_like(targets)
    for b in range(scores.shape[0]):
        t_list = [int(t) for t in targets[b] if t != 0]
        keys = []
        for item in range(scores.shape[1]):
            is_target = item in t_list
            keys.append((-float(scores[b, item]), is_target, t_list.index(item) if is_target else -1, item))
        order = [k[3] for k in sorted(keys)]
        for j, t in enumerate(targets[b].tolist()):
            if t != 0:
                out[b, j] = order.index(t) + 1
    return out


def brute_metrics(ranks: list[int], k: int) -> dict[str, float]:
    r = sorted(ranks)
    hits = [x for x in r if x <= k]
    ideal = min(len(r), k)
    idcg = sum(1 / math.log2(i + 1) for i in range(1, ideal + 1))
    return {
        "hr": float(bool(hits)),
        "recall": len(hits) / len(r),
        "precision": len(hits) / k,
        "ndcg": sum(1 / math.log2(x + 1) for x in hits) / idcg,
        "mrr": 1 / r[0] if r[0] <= k else 0.0,
        "map": sum((j + 1) / x for j, x in enumerate(hits)) / ideal,
    }


def random_case(B=6, I=13, M=3, ties=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(B, I, generator=g)
    if ties:
        scores = (scores * 2).round() / 2
    scores[:, 0] = float("-inf")
    targets = torch.zeros(B, M, dtype=torch.long)
    for b in range(B):
        n = int(torch.randint(1, M + 1, (1,), generator=g))
        targets[b, :n] = torch.randperm(I - 1, generator=g)[:n] + 1
    return scores, targets


def test_doctests():
    assert doctest.testmod(functional).failed == 0


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_target_ranks_match_brute_force(ties, seed):
    scores, targets = random_case(ties=ties, seed=seed)
    assert torch.equal(target_ranks(scores, targets), brute_ranks(scores, targets))


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("max_rank", [1, 3, 12])
def test_capped_ranks_equal_exact_ranks_capped(ties, max_rank):
    for seed in range(6):
        scores, targets = random_case(B=30, I=25, M=4, ties=ties, seed=seed)
        exact = target_ranks(scores, targets)
        capped = target_ranks(scores, targets, max_rank=max_rank)
        assert torch.equal(capped, torch.where(exact > 0, exact.clamp(max=max_rank + 1), exact))
        for k in range(1, max_rank + 1):
            a, b = ranking_metrics(exact, [k]), ranking_metrics(capped, [k])
            assert all(torch.equal(a[name], b[name]) for name in a)


def test_capped_ranks_of_a_constant_model_and_masked_rows():
    scores = torch.zeros(3, 9)
    scores[:, 0] = float("-inf")
    scores[1, 1:7] = float("-inf")  # few finite items: the boundary is -inf
    targets = torch.tensor([[2, 5], [8, 0], [3, 0]])
    exact = target_ranks(scores, targets)
    assert torch.equal(target_ranks(scores, targets, max_rank=4), torch.where(exact > 0, exact.clamp(max=5), exact))


def test_target_ranks_chunking_does_not_change_result():
    scores, targets = random_case(B=40, I=50, M=4, ties=True)
    assert torch.equal(target_ranks(scores, targets, max_elements=1), target_ranks(scores, targets))


def test_constant_model_scores_zero_not_one():
    scores = torch.zeros(4, 20)
    scores[:, 0] = float("-inf")
    targets = torch.tensor([[3], [5], [7], [19]])
    values = ranking_metrics(target_ranks(scores, targets), [1, 10])
    assert values["hr"].sum() == 0 and values["ndcg"].sum() == 0 and values["mrr"].sum() == 0


def test_masked_target_is_a_miss():
    scores = torch.arange(10, dtype=torch.float).repeat(2, 1)
    targets = torch.tensor([[9], [9]])
    mask_items(scores, torch.tensor([1]), torch.tensor([9]))
    ranks = target_ranks(scores, targets)
    assert ranks.tolist() == [[1], [10]]  # masked: behind all 10 columns, itself and PAD included


@pytest.mark.parametrize("max_rank", [None, 2])
def test_nan_scores_raise(max_rank):
    scores = torch.zeros(1, 5)
    scores[0, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        target_ranks(scores, torch.tensor([[1]]), max_rank=max_rank)


@pytest.mark.parametrize("seed", range(3))
def test_ranking_metrics_match_definitions(seed):
    scores, targets = random_case(B=10, I=30, M=5, ties=True, seed=seed)
    ranks = target_ranks(scores, targets)
    values = ranking_metrics(ranks, KS)
    for b in range(ranks.shape[0]):
        user_ranks = [int(r) for r in ranks[b] if r > 0]
        for j, k in enumerate(KS):
            expected = brute_metrics(user_ranks, k)
            for name, value in expected.items():
                assert values[name][b, j].item() == pytest.approx(value, abs=1e-12), (name, k, b)


@pytest.mark.parametrize("n_targets", [1, 4])
def test_agrees_with_torchmetrics_retrieval_without_ties(n_targets):
    scores, targets = random_case(B=25, I=40, M=n_targets, seed=11)
    ranks = target_ranks(scores, targets)
    values = ranking_metrics(ranks, KS)
    reference = {
        "hr": tmr.retrieval_hit_rate,
        "recall": tmr.retrieval_recall,
        "precision": tmr.retrieval_precision,
        "ndcg": tmr.retrieval_normalized_dcg,
        "mrr": tmr.retrieval_reciprocal_rank,
    }
    for name, fn in reference.items():
        for j, k in enumerate(KS):
            per_user = []
            for b in range(scores.shape[0]):
                relevant = torch.zeros(scores.shape[1], dtype=torch.bool)
                relevant[targets[b][targets[b] > 0]] = True
                per_user.append(float(fn(scores[b, 1:], relevant[1:], top_k=k)))  # PAD column is not an item
            assert values[name][:, j].mean().item() == pytest.approx(sum(per_user) / len(per_user), abs=1e-6), (name, k)


def test_metric_class_invariant_to_batch_split_and_order():
    scores, targets = random_case(B=64, I=50, M=3, ties=True, seed=5)
    ranks = target_ranks(scores, targets)
    whole = RankingMetrics(KS)
    whole.update(ranks)
    expected = whole.compute()
    for batch in (1, 7, 64):
        metric = RankingMetrics(KS)
        perm = torch.randperm(64)
        for s in range(0, 64, batch):
            metric.update(ranks[perm[s : s + batch]])
        got = metric.compute()
        for key, value in expected.items():
            assert got[key].item() == pytest.approx(value.item(), abs=1e-12), key


def test_metric_class_means_and_keys():
    ranks = torch.tensor([[1, 0], [4, 2], [30, 0]])
    metric = RankingMetrics([5])
    metric.update(ranks)
    out = metric.compute()
    assert set(out) == {f"{m}@{k}" for m in functional.METRICS for k in (1, 5)} | {"acc@1"}
    assert out["hr@5"].item() == pytest.approx(2 / 3)
    assert out["acc@1"].item() == pytest.approx(1 / 3)
    assert out["mrr@5"].item() == pytest.approx((1 + 1 / 2 + 0) / 3)


def test_metric_state_is_constant_size():
    metric = RankingMetrics(KS)
    sizes = {name: getattr(metric, name).numel() for name in metric._defaults}
    for _ in range(3):
        metric.update(torch.randint(1, 100, (500, 2)))
    assert {name: getattr(metric, name).numel() for name in metric._defaults} == sizes


def test_compute_before_update_raises():
    with pytest.raises(ValueError, match="before any user"):
        RankingMetrics().compute()


def test_monotone_in_k():
    scores, targets = random_case(B=50, I=60, M=3, ties=True, seed=3)
    values = ranking_metrics(target_ranks(scores, targets), [1, 5, 10, 20])
    for name in ("hr", "recall"):
        assert (values[name].diff(dim=1) >= 0).all(), name


@pytest.mark.parametrize("chunk", [1, 4, 7, 100])
@pytest.mark.parametrize("ties", [False, True])
def test_chunked_ranks_equal_whole_catalogue_ranks(chunk, ties):
    from recframe.metrics.chunked import chunked_ranks

    g = torch.Generator().manual_seed(chunk)
    query, items = torch.randn(9, 4, generator=g), torch.randn(23, 4, generator=g)
    if ties:
        query, items = query.round(), items.round()
    targets = torch.tensor([[3, 0], [5, 9], [1, 0], [22, 2], [7, 0], [8, 11], [4, 0], [6, 0], [10, 12]])
    seen_rows = torch.tensor([0, 0, 1, 3, 3, 8])
    seen_items = torch.tensor([1, 2, 9, 5, 22, 4])  # row 1's target 9 and row 3's target 22 are seen: misses
    scores = query @ items.T
    scores[:, 0] = float("-inf")
    mask_items(scores, seen_rows, seen_items)
    ranks, values, top = chunked_ranks(query, items, targets, 5, chunk, seen_rows, seen_items)
    assert torch.equal(ranks, target_ranks(scores, targets))
    assert torch.allclose(values, scores.topk(5, dim=1).values, atol=1e-6)
    assert torch.allclose(scores.gather(1, top), values, atol=1e-6)  # the listed items have those scores


def test_chunked_ranks_with_sampled_candidates():
    from recframe.metrics.chunked import chunked_ranks

    g = torch.Generator().manual_seed(0)
    query, items = torch.randn(3, 4, generator=g), torch.randn(15, 4, generator=g)
    targets = torch.tensor([[2], [5], [9]])
    candidates = torch.tensor([[3, 4, 6], [1, 7, 8], [10, 11, 12]])
    scores = torch.full((3, 15), float("-inf"))
    full = query @ items.T
    for b in range(3):
        keep = [*candidates[b].tolist(), int(targets[b, 0])]
        scores[b, keep] = full[b, keep]
    ranks, _, _ = chunked_ranks(query, items, targets, 3, 4, candidates=candidates)
    assert torch.equal(ranks, target_ranks(scores, targets))
