"""Each loss against its written-out definition, with negatives fixed through monkeypatching."""

from __future__ import annotations

import math

import pytest
import torch

from recframe import losses

N, D, I = 4, 3, 7


@pytest.fixture
def case():
    g = torch.Generator().manual_seed(0)
    return torch.randn(N, D, generator=g), torch.randn(I, D, generator=g), torch.tensor([1, 3, 6, 2])


def fix_negatives(monkeypatch, negatives: torch.Tensor) -> None:
    def uniform(shape, n_items, device):
        assert n_items == I  # drawn from the whole catalogue (the item table's rows)
        return negatives.reshape(shape)

    monkeypatch.setattr(losses, "_uniform_items", uniform)


def test_uniform_negatives_are_every_real_item_and_never_pad():
    drawn = losses._uniform_items((4000,), I, torch.device("cpu"))
    assert drawn.shape == (4000,) and sorted(set(drawn.tolist())) == list(range(1, I))


@pytest.mark.parametrize("name", ["bpr", "bce", "gbce"])
def test_a_given_sampler_replaces_uniform_negatives(name, case, monkeypatch):
    """With ``sample`` (what the module passes for unseen negatives) the loss uses exactly its draws."""
    q, w, y = case
    neg = torch.tensor([[2, 1], [3, 4], [5, 1], [6, 2]])
    asked = []

    def sample(shape):
        asked.append(shape)
        return neg

    monkeypatch.setattr(losses, "_uniform_items", lambda *a: pytest.fail("drew uniform negatives"))
    got = losses.LOSSES.get(name)(q, w, y, negatives=2, sample=sample)
    fix_negatives(monkeypatch, neg)
    assert asked == [(N, 2)] and got.item() == pytest.approx(losses.LOSSES.get(name)(q, w, y, negatives=2).item())


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_registry_names():
    assert losses.LOSSES.names() == ["bce", "bpr", "ce", "gbce", "mse", "sampled_softmax"]


def test_ce_is_softmax_over_real_items(case):
    q, w, y = case
    expected = 0.0
    for n in range(N):
        logits = [float(q[n] @ w[i]) for i in range(1, I)]
        expected += -(logits[y[n] - 1] - math.log(sum(math.exp(x) for x in logits)))
    assert losses.softmax_ce(q, w, y).item() == pytest.approx(expected / N, rel=1e-5)


def test_sampled_softmax_with_every_item_sampled_equals_ce(case, monkeypatch):
    q, w, y = case
    fix_negatives(monkeypatch, torch.arange(1, I))  # the positive is among them: masked as an accidental hit
    assert losses.sampled_softmax(q, w, y, negatives=I - 1).item() == pytest.approx(
        losses.softmax_ce(q, w, y).item(), rel=1e-5
    )


def test_bpr_definition(case, monkeypatch):
    q, w, y = case
    neg = torch.tensor([[2, 1], [3, 4], [5, 1], [6, 2]])  # row 1 has an accidental hit (3)
    fix_negatives(monkeypatch, neg)
    terms = [
        -math.log(sigmoid(float(q[n] @ w[y[n]] - q[n] @ w[neg[n, k]])))
        for n in range(N)
        for k in range(2)
        if neg[n, k] != y[n]
    ]
    assert losses.bpr(q, w, y, negatives=2).item() == pytest.approx(sum(terms) / len(terms), rel=1e-5)


def test_bce_definition_and_gbce_degenerate(case, monkeypatch):
    q, w, y = case
    neg = torch.tensor([[2], [4], [5], [6]])
    fix_negatives(monkeypatch, neg)
    expected = (
        sum(
            -math.log(sigmoid(float(q[n] @ w[y[n]]))) - math.log(1 - sigmoid(float(q[n] @ w[neg[n, 0]])))
            for n in range(N)
        )
        / N
    )
    assert losses.bce(q, w, y, negatives=1).item() == pytest.approx(expected, rel=1e-5)
    assert losses.gbce(q, w, y, negatives=1, t=0.0).item() == pytest.approx(expected, rel=1e-5)


def test_gbce_beta(case, monkeypatch):
    q, w, y = case
    neg = torch.tensor([[2], [4], [5], [6]])
    fix_negatives(monkeypatch, neg)
    alpha = 1 / (I - 1)
    beta = alpha * (0.5 * (1 - 1 / alpha) + 1 / alpha)
    expected = (
        sum(
            -beta * math.log(sigmoid(float(q[n] @ w[y[n]]))) - math.log(1 - sigmoid(float(q[n] @ w[neg[n, 0]])))
            for n in range(N)
        )
        / N
    )
    assert losses.gbce(q, w, y, negatives=1, t=0.5).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ["ce", "sampled_softmax", "bpr", "bce", "gbce"])
def test_losses_are_finite_and_differentiable(name, case):
    q, w, y = case
    q.requires_grad_(True)
    loss = losses.LOSSES.get(name)(q, w, y)
    loss.backward()
    assert torch.isfinite(loss) and q.grad is not None and q.grad.abs().sum() > 0


@pytest.mark.parametrize("sync_free", [True, False], ids=["cpu-rounds", "accelerator-rounds"])
@pytest.mark.parametrize("pair_table", [True, False], ids=["pair-table", "key-search"])
def test_unseen_negatives_avoid_the_users_training_items(sync_free, pair_table):
    import numpy as np

    from recframe.experiments.config import load_config
    from recframe.training import engine

    cfg = load_config("default", ["dataset.n_users=30", "dataset.n_items=60", "loss.name=bpr", "logger.name=none"])
    data = engine.build_data(cfg)
    module = engine.build_module(cfg, data, "x")
    assert module.train_pairs is not None and int(module.train_pairs.sum()) == len(data.train_keys())
    if not pair_table:  # as on a catalogue too large for the dense table
        module.train_pairs = None
    users = torch.arange(1, 31).repeat_interleave(50)
    negatives = module._unseen_items(users, (len(users), 3), sync_free=sync_free)
    keys = set(data.train_keys().tolist())
    clashes = sum(
        int(u) * data.spec.n_items + int(n) in keys for u, row in zip(users, negatives, strict=True) for n in row
    )
    assert negatives.min() >= 1 and negatives.max() < data.spec.n_items
    density = len(keys) / (30 * 60)
    # uniform sampling would clash at about `density`; four rejection rounds leave E[density_u^5]
    assert density > 0.15 and clashes / negatives.numel() < 0.1 * density
    cfg = load_config(
        "default", ["dataset.n_users=30", "loss.name=bpr", "module.negatives=uniform", "logger.name=none"]
    )
    assert engine.build_module(cfg, engine.build_data(cfg), "x").train_keys is None
    assert np.all(np.diff(data.train_keys()) > 0)


@pytest.mark.parametrize("block", [1, 100, 10**9], ids=["row-by-row", "3-row-blocks-with-remainder", "whole"])
def test_blocked_softmax_ce_equals_torch_cross_entropy_in_value_and_gradients(block):
    torch.manual_seed(0)
    query = torch.randn(23, 8, dtype=torch.float64, requires_grad=True)
    items = torch.randn(31, 8, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(1, 31, (23,))
    loss = losses.softmax_ce(query, items, labels, block=block)
    loss.backward()
    q_ref, i_ref = query.detach().clone().requires_grad_(), items.detach().clone().requires_grad_()
    ref = torch.nn.functional.cross_entropy(q_ref @ i_ref[1:].T, labels - 1)
    ref.backward()
    assert torch.allclose(loss, ref, rtol=1e-12)
    assert torch.allclose(query.grad, q_ref.grad, rtol=1e-10, atol=1e-14)
    assert torch.allclose(items.grad, i_ref.grad, rtol=1e-10, atol=1e-14)
    assert items.grad[0].abs().sum() == 0  # PAD is no candidate: no gradient reaches its row
