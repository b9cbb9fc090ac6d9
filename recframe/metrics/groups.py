"""User-side fairness: ranking metrics per user group, their gap and ratio, and differential fairness.

Group ids come from :func:`user_groups`, which turns a user attribute (gender, occupation, age, number
of interactions) into dense group ids. Every state is a fixed-size sum, so DDP reduction is exact as
long as every user is evaluated by exactly one process.

Empty-group policy: a group with no evaluated user has no mean (NaN) and takes no part in the gap,
the ratio or differential fairness. With fewer than two non-empty groups these are NaN, never 0;
``compute()`` before any user raises.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torchmetrics import Metric

from recframe.metrics.functional import METRICS, ranking_metrics

_RESERVED = ("gap", "ratio", "df_epsilon")


def gap_and_ratio(means: Tensor, present: Tensor) -> tuple[Tensor, Tensor]:
    """``max − min`` and ``min / max`` of the group means of the ``present`` (non-empty) groups.

    Both are NaN with fewer than two present groups; the ratio is NaN when every present mean is 0.

    >>> gap_and_ratio(torch.tensor([0.2, 0.5, 0.0]), torch.tensor([True, True, False]))
    (tensor(0.3000), tensor(0.4000))
    >>> gap_and_ratio(torch.tensor([0.2, 0.5]), torch.tensor([True, False]))
    (tensor(nan), tensor(nan))
    """
    if int(present.sum()) < 2:
        nan = torch.tensor(math.nan, dtype=means.dtype, device=means.device)
        return nan, nan.clone()
    values = means[present]
    high, low = values.max(), values.min()
    return high - low, low / high


def differential_fairness(positives: Tensor, totals: Tensor, alpha: float = 1.0) -> Tensor:
    """Smoothed empirical ε of differential fairness for a binary outcome (Foulds et al., ICDE 2020).

    J. R. Foulds, R. Islam, K. N. Keya, S. Pan, "An Intersectional Definition of Fairness", ICDE 2020.
    A mechanism is ε-differentially fair if for every outcome ``y`` and every pair of groups
    ``s_i, s_j``: ``e^{-ε} <= P(y | s_i) / P(y | s_j) <= e^{ε}``. The probabilities are estimated with
    a symmetric Dirichlet prior (the paper's smoothed EDF): ``P(y | s) = (N_{y,s} + α) / (N_s + |Y| α)``
    with ``|Y| = 2`` outcomes here, and ``ε = max_{y, i, j} |ln P(y | s_i) − ln P(y | s_j)|`` over the
    groups with ``N_s > 0``. NaN with fewer than two such groups.

    Args:
        positives: ``[G]`` number of positive outcomes per group (e.g. users with a hit in the top k).
        totals: ``[G]`` number of trials per group (users).
        alpha: the Dirichlet smoothing per outcome, ``> 0``.

    >>> round(float(differential_fairness(torch.tensor([3.0, 1.0]), torch.tensor([4.0, 4.0]))), 6)  # ln((4/6)/(2/6))
    0.693147
    """
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    present = totals > 0
    if int(present.sum()) < 2:
        return torch.tensor(math.nan, dtype=torch.float64, device=totals.device)
    pos, tot = positives[present].double(), totals[present].double()
    log_p = torch.stack([(pos + alpha).log(), (tot - pos + alpha).log()]) - (tot + 2 * alpha).log()  # [2, G']
    return (log_p.max(1).values - log_p.min(1).values).max()


class GroupRankingMetrics(Metric):
    """HR, Recall, NDCG, MRR, Precision and MAP per user group, with their gap, ratio and DF ε.

    The metric values are those of :func:`~recframe.metrics.functional.ranking_metrics`, averaged
    over the users of each group. ``compute()`` returns, for every ``metric`` and ``k``:

    - ``"{metric}@{k}/{group}"``: the group mean (NaN for a group without users);
    - ``"{metric}@{k}/gap"``: ``max_g − min_g`` of the means of the non-empty groups;
    - ``"{metric}@{k}/ratio"``: ``min_g / max_g`` (1 is parity; NaN if every mean is 0);

    and, for every ``k``, ``"hr@{k}/df_epsilon"``: the ε of differential fairness
    (:func:`differential_fairness`, Foulds et al. ICDE 2020) of the binary outcome "the user has a
    target in the top k" across the non-empty groups, and ``"users/{group}"``, the group sizes.
    Gap, ratio and ε are NaN with fewer than two non-empty groups. With two groups, the gap is the
    non-parity unfairness ``|E_g[m] − E_¬g[m]|`` of Yao & Huang (NeurIPS 2017) applied to metric ``m``.
    For intersectional groups (Foulds et al.), pass ``g1 * n2 + g2`` as the group id.

    Args:
        n_groups: number of groups; ids are ``0..n_groups-1``.
        ks: cut-offs.
        group_names: one unique name per group (default ``"0", "1", ...``).
        df_alpha: the Dirichlet smoothing of :func:`differential_fairness`.
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    def __init__(
        self,
        n_groups: int,
        ks: Sequence[int] = (5, 10, 20),
        group_names: Sequence[str] | None = None,
        df_alpha: float = 1.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if n_groups < 1:
            raise ValueError(f"n_groups must be >= 1, got {n_groups}")
        if not ks or any(int(k) < 1 for k in ks):
            raise ValueError(f"ks must be positive integers, got {list(ks)}")
        names = [str(g) for g in range(n_groups)] if group_names is None else [str(n) for n in group_names]
        if len(names) != n_groups or len(set(names)) != n_groups:
            raise ValueError(f"group_names must be {n_groups} unique names, got {names}")
        if clash := sorted(set(names) & set(_RESERVED)):
            raise ValueError(f"group names {clash} clash with result keys; reserved: {list(_RESERVED)}")
        if df_alpha <= 0:
            raise ValueError(f"df_alpha must be > 0, got {df_alpha}")
        self.n_groups, self.group_names, self.df_alpha = n_groups, names, float(df_alpha)
        self.ks = sorted({int(k) for k in ks})
        shape = (n_groups, len(METRICS), len(self.ks))
        self.add_state("sums", torch.zeros(shape, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("users", torch.zeros(n_groups, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, ranks: Tensor, groups: Tensor) -> None:
        """Add a batch of users: ``ranks [B, M]`` (1-based, 0 = PAD target), ``groups [B]`` int64 ids."""
        if groups.shape != ranks.shape[:1]:
            raise ValueError(f"groups must have shape [{ranks.shape[0]}], got {list(groups.shape)}")
        groups = groups.long()
        bad = (groups < 0) | (groups >= self.n_groups)
        if bad.any():
            raise ValueError(
                f"group ids must be in [0, {self.n_groups - 1}], got {groups[bad].unique().tolist()} "
                "(-1 is the PAD user of user_groups, which is never evaluated)"
            )
        values = ranking_metrics(ranks, self.ks)
        per_user = torch.stack([values[name] for name in METRICS], dim=1)  # [B, n_metrics, n_ks]
        self.sums.index_add_(0, groups, per_user.to(self.sums))
        self.users.index_add_(0, groups, torch.ones_like(groups, dtype=self.users.dtype))

    def compute(self) -> dict[str, Tensor]:
        if self.users.sum() == 0:
            raise ValueError("GroupRankingMetrics.compute() called before any user was evaluated")
        present = self.users > 0
        means = self.sums / self.users[:, None, None]  # empty groups: 0 / 0 = NaN
        out: dict[str, Tensor] = {}
        for i, name in enumerate(METRICS):
            for j, k in enumerate(self.ks):
                key = f"{name}@{k}"
                for g, group in enumerate(self.group_names):
                    out[f"{key}/{group}"] = means[g, i, j]
                out[f"{key}/gap"], out[f"{key}/ratio"] = gap_and_ratio(means[:, i, j], present)
        hr = METRICS.index("hr")
        for j, k in enumerate(self.ks):
            out[f"hr@{k}/df_epsilon"] = differential_fairness(self.sums[:, hr, j], self.users, self.df_alpha)
        for g, group in enumerate(self.group_names):
            out[f"users/{group}"] = self.users[g]
        return out


def _label(x: float) -> str:
    return f"{x:g}"


def _band_names(cuts: np.ndarray, closed_last: bool) -> list[str]:
    names = [f"[{_label(lo)}, {_label(hi)})" for lo, hi in itertools.pairwise(cuts)]
    if closed_last:
        names[-1] = names[-1][:-1] + "]"
    return names


def _bins(x: np.ndarray, edges: Sequence[float] | None) -> tuple[np.ndarray, list[str]]:
    cuts = np.asarray(edges if edges is not None else [], dtype=np.float64)
    if cuts.size < 2 or np.any(np.diff(cuts) <= 0):
        raise ValueError(f"edges must be >= 2 strictly increasing numbers, got {edges}")
    outside = (x < cuts[0]) | (x >= cuts[-1])
    if outside.any():
        bad = np.unique(x[outside])[:5].tolist()
        raise ValueError(f"values {bad} fall outside the edges [{_label(cuts[0])}, {_label(cuts[-1])})")
    return np.searchsorted(cuts, x, side="right") - 1, _band_names(cuts, closed_last=False)


def _quantiles(x: np.ndarray, n_bins: int) -> tuple[np.ndarray, list[str]]:
    if n_bins < 2 or x.size == 0:
        raise ValueError(f"quantile groups need n_bins >= 2 and some values, got n_bins={n_bins}, {x.size} values")
    cuts = np.unique(np.quantile(x, np.linspace(0, 1, n_bins + 1)))
    if cuts.size < 3:
        raise ValueError(f"the values form a single quantile band (all equal to {_label(cuts[0])})")
    return np.searchsorted(cuts[1:-1], x, side="right"), _band_names(cuts, closed_last=True)


def _top_share(x: np.ndarray, share: float) -> tuple[np.ndarray, list[str]]:
    if not 0 < share < 1:
        raise ValueError(f"share must be in (0, 1), got {share}")
    order = np.argsort(-x, kind="stable")  # equal values keep the smaller user id first
    ids = np.ones(x.size, dtype=np.int64)
    ids[order[: math.ceil(share * x.size)]] = 0
    return ids, [f"top_{_label(100 * share)}%", "rest"]


def user_groups(
    values: pd.Series | np.ndarray,
    kind: Literal["categorical", "bins", "quantile", "top_share"] = "categorical",
    *,
    edges: Sequence[float] | None = None,
    n_bins: int = 4,
    share: float = 0.2,
    missing: Literal["unknown", "raise"] = "unknown",
    n_users: int | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Turn one user attribute into group ids for :class:`GroupRankingMetrics`.

    ``values`` is indexed by dense user id: an array whose entry ``u`` describes user ``u`` (entry 0
    is PAD), or a Series with dense user ids as index such as a column of ``EncodedLog.user_info``.

    Kinds:

    - ``"categorical"``: one group per distinct value, in sorted order (gender, occupation);
    - ``"bins"``: ``[edges[j], edges[j+1])`` bands, e.g. ages with ``edges=[0, 18, 25, 35, 45, 56, inf]``;
      a value outside ``[edges[0], edges[-1])`` raises;
    - ``"quantile"``: ``n_bins`` bands cut at the quantiles of the values (``[lo, hi)``, the last one
      closed); repeated cut points are merged, so there may be fewer bands;
    - ``"top_share"``: the ``ceil(share * n)`` users with the largest values (e.g. interaction counts)
      against the rest, ties at the cut broken by the smaller user id: ``["top_20%", "rest"]``.

    Missing values: PAD (row 0) always gets id ``-1``, which :meth:`GroupRankingMetrics.update`
    rejects, since PAD is never evaluated. A real user whose value is missing (NaN/None, or absent
    from the Series index) joins a last group named ``"unknown"`` (created only if needed) with
    ``missing="unknown"``; ``missing="raise"`` raises instead.

    Args:
        values: the attribute per dense user id.
        kind: how values become groups (above).
        edges: the band edges for ``"bins"``, strictly increasing (``inf`` allowed).
        n_bins: the number of quantile bands for ``"quantile"``.
        share: the share of users in the top group for ``"top_share"``, in ``(0, 1)``.
        missing: ``"unknown"`` or ``"raise"`` (above).
        n_users: the number of dense user ids including PAD (default: the length of ``values``, or
            the largest index + 1 of a Series).

    Returns:
        ``(group_ids, names)``: int64 ``[n_users]`` with ``-1`` at PAD, and one name per group id.

    >>> ids, names = user_groups(np.array([None, "M", "F", None, "M"], dtype=object))
    >>> ids.tolist(), names
    ([-1, 1, 0, 2, 1], ['F', 'M', 'unknown'])
    >>> user_groups(np.array([0, 5, 30, 2, 9]), "top_share", share=0.25)
    (array([-1,  1,  0,  1,  1]), ['top_25%', 'rest'])
    """
    if isinstance(values, pd.Series):
        if len(values) and (not pd.api.types.is_integer_dtype(values.index) or values.index.min() < 0):
            raise ValueError("a Series of user values must be indexed by dense user ids (non-negative ints)")
        size = n_users if n_users is not None else int(values.index.max()) + 1 if len(values) else 1
        series = values.reindex(np.arange(size))
    else:
        series = pd.Series(np.asarray(values))
        size = n_users if n_users is not None else len(series)
        if size != len(series):
            raise ValueError(f"values has {len(series)} entries but n_users is {size}")
    if size < 2:
        raise ValueError(f"need at least one real user besides PAD, got n_users={size}")
    real = series.iloc[1:]
    known = real.notna().to_numpy()
    if missing not in ("unknown", "raise"):
        raise ValueError(f"unknown missing policy {missing!r}; known: ['unknown', 'raise']")
    if missing == "raise" and not known.all():
        bad = (np.flatnonzero(~known) + 1)[:5].tolist()
        raise ValueError(f"{int((~known).sum())} users have no value (first dense ids {bad}); pass missing='unknown'")
    ids = np.full(size - 1, -1, dtype=np.int64)
    vals = real[known]
    if kind == "categorical":
        codes, uniques = pd.factorize(vals, sort=True)
        ids[known], names = codes, [str(u) for u in uniques]
    elif kind == "bins":
        ids[known], names = _bins(vals.to_numpy(dtype=np.float64), edges)
    elif kind == "quantile":
        ids[known], names = _quantiles(vals.to_numpy(dtype=np.float64), n_bins)
    elif kind == "top_share":
        ids[known], names = _top_share(vals.to_numpy(dtype=np.float64), share)
    else:
        raise ValueError(f"unknown kind {kind!r}; known: ['categorical', 'bins', 'quantile', 'top_share']")
    if not known.all():
        ids[~known] = len(names)
        names.append("unknown")
    return np.concatenate([[-1], ids]), names
