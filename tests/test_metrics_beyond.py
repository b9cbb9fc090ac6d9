"""Novelty and intra-list diversity against hand-computed values, per-user loops, and batch splits."""

from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pytest
import torch

from recframe.metrics import IntraListDiversity, Novelty, beyond


def test_doctests():
    assert doctest.testmod(beyond).failed == 0


def random_lists(B=30, n_items=25, K=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randperm(n_items - 1, generator=g)[:K] + 1 for _ in range(B)])


# --- Novelty -------------------------------------------------------------------------------------


def test_novelty_hand_computed():
    # 8 users (n_users = 9 with PAD); popularity [_, 8, 4, 2, 1, 0]: information [0, 1, 2, 3, 3 (0 -> 1)] bits
    metric = Novelty(torch.tensor([0.0, 8, 4, 2, 1, 0]), n_users=9, k=2)
    metric.update(torch.tensor([[1, 2, 3], [4, 5, 1]]))  # lists [1, 2] -> 0.5 bits, [4, 5] -> 3 bits
    assert metric.compute()["novelty@2"].item() == pytest.approx((0.5 + 3) / 2)


@pytest.mark.parametrize("seed", range(3))
def test_novelty_matches_per_user_loop_and_splits(seed):
    top = random_lists(seed=seed)
    g = torch.Generator().manual_seed(50 + seed)
    pop = torch.randint(0, 41, (25,), generator=g).double()
    n = 40  # users, PAD excluded
    expected = np.mean([np.mean([math.log2(n / max(pop[i].item(), 1)) for i in row[:4].tolist()]) for row in top])
    for batch in (1, 7, 30):
        metric = Novelty(pop, n_users=n + 1, k=4)
        for s in range(0, 30, batch):
            metric.update(top[s : s + batch])
        assert metric.compute()["novelty@4"].item() == pytest.approx(expected, abs=1e-12)


@pytest.mark.filterwarnings("ignore:The ``compute`` method")
def test_novelty_errors():
    with pytest.raises(ValueError, match="distinct training users"):
        Novelty(torch.tensor([0.0, 5, 2]), n_users=4, k=1)  # 5 > 3 users
    metric = Novelty(torch.tensor([0.0, 1, 2]), n_users=4, k=2)
    with pytest.raises(ValueError, match="before any user"):
        metric.compute()
    with pytest.raises(ValueError, match=r"outside \[1, 2\]: \[0\]"):
        metric.update(torch.tensor([[1, 0]]))
    with pytest.raises(ValueError, match=r"outside \[1, 2\]: \[3\]"):  # n_items itself is no item
        metric.update(torch.tensor([[3, 1]]))


# --- IntraListDiversity --------------------------------------------------------------------------


def test_ild_hand_computed_genres():
    # multi-hot genres: item 1 {a}, 2 {a, b}, 3 {c}, 4 {} (no genre), row 0 is PAD
    features = torch.tensor([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 0, 0]])
    metric = IntraListDiversity(features, k=3)
    # list [1, 2, 3]: cos(1,2) = 1/sqrt(2), cos(1,3) = cos(2,3) = 0 -> mean distance 1 - (1/sqrt(2)) / 3
    # list [1, 2, 4]: item 4 has no genre, cosine 0 with everything -> the same 1 - (1/sqrt(2)) / 3
    # list [2, 1, 3] is a permutation of the first: order does not matter
    metric.update(torch.tensor([[1, 2, 3], [1, 2, 4], [2, 1, 3]]))
    assert metric.compute()["ild@3"].item() == pytest.approx(1 - (1 / math.sqrt(2)) / 3)
    same = IntraListDiversity(torch.tensor([[0.0, 0], [1, 0], [2, 0]]), k=2)
    same.update(torch.tensor([[1, 2]]))
    assert same.compute()["ild@2"].item() == pytest.approx(0.0)  # parallel vectors: distance 0


@pytest.mark.parametrize("seed", range(3))
def test_ild_matches_pairwise_loop_and_splits(seed):
    top = random_lists(seed=seed)
    g = torch.Generator().manual_seed(80 + seed)
    features = torch.randn(25, 5, generator=g, dtype=torch.float64)
    features[3] = 0  # an item without features

    def cos(a, b):
        na, nb = features[a].norm().item(), features[b].norm().item()
        return 0.0 if na == 0 or nb == 0 else (features[a] @ features[b]).item() / (na * nb)

    k = 4
    expected = np.mean(
        [np.mean([1 - cos(a, b) for a, b in itertools.combinations(row[:k].tolist(), 2)]) for row in top]
    )
    for batch in (1, 11, 30):
        metric = IntraListDiversity(features, k=k)
        for s in range(0, 30, batch):
            metric.update(top[s : s + batch])
        assert metric.compute()["ild@4"].item() == pytest.approx(expected, abs=1e-12)


def test_ild_errors():
    with pytest.raises(ValueError, match="k >= 2"):
        IntraListDiversity(torch.ones(4, 2), k=1)
    with pytest.raises(ValueError, match="NaN or inf"):
        IntraListDiversity(torch.tensor([[0.0], [math.nan]]), k=2)
    with pytest.raises(ValueError, match="K' >= k=3"):
        IntraListDiversity(torch.ones(5, 2), k=3).update(torch.tensor([[1, 2]]))
