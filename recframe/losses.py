"""Training losses: pure functions of ``(query [N, D], items [I, D], labels [N])``.

``query`` holds the query vectors ψ of the N labelled positions, ``items`` the item table W (row
PAD included, never a candidate) and ``labels`` the positive item of each position. Rating losses
also take ``ratings [N]`` (the module passes them when the batch carries them).

Per-position negatives come from ``sample(shape) -> item ids``: the module passes a sampler that
avoids each row's own training items (as SASRec's and RecBole's samplers do); without one they are
uniform over ``1..I-1``. Both use torch's generator, re-seeded per training step from ``run.seed``.
A negative that equals its positive is masked out, never counted as a negative.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from recframe.data.interactions import PAD
from recframe.registry import Registry

LOSSES: Registry[Callable[..., Tensor]] = Registry("loss")


def _uniform_items(shape: tuple[int, ...], n_items: int, device: torch.device) -> Tensor:
    return torch.randint(1, n_items, shape, device=device)


@LOSSES.register("ce")
def softmax_ce(query: Tensor, items: Tensor, labels: Tensor, block: int = 2**20) -> Tensor:
    """Full softmax cross-entropy over the catalogue: ``mean(-log softmax(ψ·Wᵀ)[label])``.

    The PAD column is excluded from the softmax. This is the "gold" loss of Klenitskiy & Vasilev
    (RecSys 2023) and the ``p(i | u) ∝ exp(W_i · ψ)`` of recframe's design. When the ``[N, I]``
    logits exceed ``block`` elements they are computed ``block`` at a time and recomputed in the
    backward pass instead of being kept (:class:`BlockedSoftmaxCE`), so memory stays flat however
    many positions a batch holds (outside autocast, which keeps torch's own kernel). The default
    4 MiB block stays in cache: 828 against 1,108 ms for 3,000 positions x 12,101 items on one CPU
    thread (``benchmarks/kernels.py``).
    """
    candidates, targets = items[PAD + 1 :], labels - (PAD + 1)  # PAD is no candidate (slicing beats a -inf write)
    if query.shape[0] * candidates.shape[0] > block and not torch.is_autocast_enabled(query.device.type):
        return BlockedSoftmaxCE.apply(query, candidates, targets, max(1, block // candidates.shape[0]))
    return F.cross_entropy(query @ candidates.T, targets)


class BlockedSoftmaxCE(torch.autograd.Function):
    """``mean(logsumexp(q Wᵀ) - q·W[label])`` over rows taken ``rows`` at a time, never holding
    more than a ``[rows, I]`` block of logits; the backward pass recomputes each block's softmax
    (one extra matmul) and accumulates ``∂q = (p - onehot) W`` and ``∂W = (p - onehot)ᵀ q``."""

    @staticmethod
    def forward(ctx, query: Tensor, items: Tensor, labels: Tensor, rows: int) -> Tensor:
        lse = torch.cat([torch.logsumexp(q @ items.T, dim=1) for q in query.split(rows)])  # [N]
        target = (query * F.embedding(labels, items)).sum(-1)  # [N]
        ctx.save_for_backward(query, items, labels, lse)
        ctx.rows = rows
        return (lse - target).mean()

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor, None, None]:
        query, items, labels, lse = ctx.saved_tensors
        scale = grad / query.shape[0]
        grad_query, grad_items = torch.empty_like(query), torch.zeros_like(items)
        for start in range(0, query.shape[0], ctx.rows):
            rows = slice(start, start + ctx.rows)
            q = query[rows]
            p = (q @ items.T).sub_(lse[rows, None]).exp_()  # softmax block [r, I], in place
            p[torch.arange(len(q), device=p.device), labels[rows]] -= 1.0
            p.mul_(scale)
            grad_query[rows] = p @ items
            grad_items.addmm_(p.T, q)
        return grad_query, grad_items, None, None


@LOSSES.register("sampled_softmax")
def sampled_softmax(query: Tensor, items: Tensor, labels: Tensor, negatives: int = 100) -> Tensor:
    """Softmax over the positive and ``negatives`` uniform items shared by the batch.

    With uniform sampling the logQ correction is a constant and cancels. Accidental hits (a
    sampled item equal to a row's positive) are masked to ``-inf`` for that row.
    """
    neg = _uniform_items((negatives,), items.shape[0], query.device)  # [K]
    pos_logit = (query * F.embedding(labels, items)).sum(-1, keepdim=True)  # [N, 1]
    neg_logits = query @ F.embedding(neg, items).T  # [N, K]
    neg_logits = neg_logits.masked_fill(neg[None, :] == labels[:, None], float("-inf"))
    logits = torch.cat([pos_logit, neg_logits], dim=1)
    return F.cross_entropy(logits, torch.zeros_like(labels))


Sampler = Callable[[tuple[int, ...]], Tensor]


def _pos_neg_logits(
    query: Tensor, items: Tensor, labels: Tensor, negatives: int, sample: Sampler | None
) -> tuple[Tensor, Tensor, Tensor]:
    # F.embedding rather than items[...]: its backward is a dense scatter-add, several times faster
    # than the index_put of advanced indexing; one lookup of positives and negatives together
    # (one scatter-add, no gradient sum); an elementwise product beats a batched [1 x D] bmm.
    shape = (len(labels), negatives)
    neg = sample(shape) if sample is not None else _uniform_items(shape, items.shape[0], query.device)  # [N, K]
    logits = (query[:, None, :] * F.embedding(torch.cat([labels[:, None], neg], dim=1), items)).sum(-1)  # [N, 1+K]
    return logits[:, 0], logits[:, 1:], neg != labels[:, None]


@LOSSES.register("bpr")
def bpr(query: Tensor, items: Tensor, labels: Tensor, negatives: int = 1, sample: Sampler | None = None) -> Tensor:
    """Bayesian personalised ranking: ``mean(-log σ(s⁺ - s⁻))`` over (positive, negative) pairs.

    Rendle et al., UAI 2009.
    """
    pos, negs, valid = _pos_neg_logits(query, items, labels, negatives, sample)
    pair = -F.logsigmoid(pos[:, None] - negs)  # [N, K]
    return (pair * valid).sum() / valid.sum().clamp(min=1)


@LOSSES.register("bce")
def bce(query: Tensor, items: Tensor, labels: Tensor, negatives: int = 1, sample: Sampler | None = None) -> Tensor:
    """Binary cross-entropy with sampled negatives: ``mean(-log σ(s⁺) - Σ log σ(-s⁻))``.

    With one negative per position this is the loss of the original SASRec (Kang & McAuley 2018).
    """
    return gbce(query, items, labels, negatives=negatives, t=0.0, sample=sample)


@LOSSES.register("gbce")
def gbce(
    query: Tensor, items: Tensor, labels: Tensor, negatives: int = 1, t: float = 0.75, sample: Sampler | None = None
) -> Tensor:
    """Generalised BCE of gSASRec (Petrov & Macdonald, RecSys 2023): ``-β log σ(s⁺) - Σ log σ(-s⁻)``.

    ``β = α (t (1 - 1/α) + 1/α)`` with sampling rate ``α = negatives / (I - 1)``; ``t = 0`` gives
    ``β = 1``, plain :func:`bce`.
    """
    alpha = negatives / (items.shape[0] - 1)
    beta = alpha * (t * (1.0 - 1.0 / alpha) + 1.0 / alpha)
    pos, negs, valid = _pos_neg_logits(query, items, labels, negatives, sample)
    per_position = -beta * F.logsigmoid(pos) - (F.logsigmoid(-negs) * valid).sum(-1)
    return per_position.mean()


@LOSSES.register("mse")
def mse(query: Tensor, items: Tensor, labels: Tensor, ratings: Tensor, reg: float = 0.0) -> Tensor:
    """Squared rating error with per-example L2: ``mean((ψ·W_label − r)² + reg (|ψ|² + |W_label|²))``.

    The regularisation is applied to the vectors each example touches, as Surprise's SGD does;
    constant entries of augmented vectors (biased MF) add constants and do not change gradients.
    """
    chosen = F.embedding(labels, items)  # [N, D]
    error = (query * chosen).sum(-1) - ratings
    return (error.square() + reg * (query.square().sum(-1) + chosen.square().sum(-1))).mean()
