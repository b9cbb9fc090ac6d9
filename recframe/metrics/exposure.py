"""Item-side metrics of top-k lists: coverage, exposure inequality, popularity bias, group exposure.

Every state is an ``[n_items]`` count vector (or a scalar) reduced with ``"sum"``; all the metrics
are functions of these counts, so they are exact under DDP and independent of batch size. Items are
dense ids ``1..n_items-1``; PAD (0) is never recommended and takes no part in any statistic, so the
catalogue has ``n = n_items - 1`` items.

The short head / long tail split is Elliot's (``Popularity.get_short_head``): the short head is the
smallest set of most popular training items whose interactions reach ``head_share`` (0.8) of all
training interactions; every other item, including items with no training interaction, is long tail.
NOTE: Elliot's threshold is 0.8 times its number of training rows and its popularity counts distinct
users; here both come from the ``popularity`` vector (equal when no (user, item) pair repeats), and
ties in popularity are broken by the smaller item id.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric


def gini_index(x: Tensor) -> Tensor:
    """Gini index of a non-negative vector (0 = equal, ``1 − 1/n`` = all mass on one entry).

    With ``x_(1) <= ... <= x_(n)`` sorted: ``G = Σ_i (2i − n − 1) x_(i) / (n Σ_i x_(i))``, RecBole's
    ``GiniIndex`` (after Gini, see Fleder & Hosanagar) over every entry, zeros included.

    >>> float(gini_index(torch.tensor([0.0, 3.0, 0.0, 1.0])))  # sorted [0, 0, 1, 3]: (1*1 + 3*3) / (4*4)
    0.625
    """
    x = x.double().sort().values
    n = x.numel()
    i = torch.arange(1, n + 1, dtype=torch.float64, device=x.device)
    return ((2 * i - n - 1) * x).sum() / (n * x.sum())


def shannon_entropy(x: Tensor) -> Tensor:
    """Shannon entropy ``−Σ p_i ln p_i`` (nats) of the distribution ``p = x / Σ x``; ``0 ln 0 = 0``.

    >>> round(float(shannon_entropy(torch.tensor([1.0, 1.0, 2.0, 0.0]))), 6)  # -(2 * 0.25 ln 0.25 + 0.5 ln 0.5)
    1.039721
    """
    p = x.double() / x.sum()
    p = p[p > 0]
    return -(p * p.log()).sum()


def lorenz_curve(exposure: Tensor) -> tuple[Tensor, Tensor]:
    """Lorenz curve of item exposure: ``x`` = share of items, ``y`` = their share of exposure, ``[n + 1]``.

    Items are sorted from least to most exposed; ``gini_index(e) = 1 − 2 · trapezoid(y, x)``. Pass the
    exposure of real items, e.g. ``ExposureMetrics.exposure[1:]`` (index 0 is PAD).

    >>> x, y = lorenz_curve(torch.tensor([3.0, 0.0, 1.0]))
    >>> x.tolist(), y.tolist()
    ([0.0, 0.3333333333333333, 0.6666666666666666, 1.0], [0.0, 0.0, 0.25, 1.0])
    """
    e = exposure.double().sort().values
    zero = torch.zeros(1, dtype=torch.float64, device=e.device)
    x = torch.arange(e.numel() + 1, dtype=torch.float64, device=e.device) / e.numel()
    return x, torch.cat([zero, e.cumsum(0)]) / e.sum()


def short_head(popularity: Tensor, head_share: float = 0.8) -> Tensor:
    """Boolean ``[n_items]`` mask of the short head (Elliot's rule; PAD is never in it).

    Items sorted by popularity (descending, ties by smaller id) join the head until their cumulated
    popularity reaches ``head_share`` of the total; the item that crosses the threshold is included.

    >>> short_head(torch.tensor([0.0, 1.0, 6.0, 2.0, 1.0]), 0.8).tolist()  # 6 < 8 <= 6 + 2
    [False, False, True, True, False]
    """
    if not 0 < head_share <= 1:
        raise ValueError(f"head_share must be in (0, 1], got {head_share}")
    pop = popularity.double()[1:]
    if pop.sum() <= 0:
        raise ValueError("popularity sums to 0: no training interactions to define a short head")
    order = torch.sort(pop, descending=True, stable=True).indices
    n_head = int(torch.searchsorted(pop[order].cumsum(0), head_share * pop.sum())) + 1
    mask = torch.zeros_like(popularity, dtype=torch.bool)
    mask[order[:n_head] + 1] = True
    return mask


def std_over_mean(num: Tensor, den: Tensor) -> Tensor:
    """``std(p) / mean(p)`` of the group rates ``p = num / den`` (population std), as in RSP and REO.

    >>> round(float(std_over_mean(torch.tensor([3.0, 1.0]), torch.tensor([10.0, 10.0]))), 6)  # p = [.3, .1]: .1/.2
    0.5
    """
    p = num.double() / den.double()
    return p.std(correction=0) / p.mean()


class ExposureMetrics(Metric):
    """Coverage, exposure Gini and entropy, ARP/APLT/ACLT, PopRSP/PopREO and group exposure of top-k lists.

    ``compute()`` keys, with ``U`` the users, ``L_u`` their top-k lists, ``c_i`` the number of lists
    holding item ``i``, ``n = n_items − 1`` and ``Γ`` the long tail (module docstring):

    - ``coverage@k``: ``|{i : c_i > 0}| / n`` (RecBole ``ItemCoverage``);
    - ``gini@k``: :func:`gini_index` of ``c`` over the ``n`` items (RecBole ``GiniIndex``);
      ``gini_position@k`` the same of position-weighted exposure ``Σ_u 1/log2(1 + rank)`` (the
      exposure model of Singh & Joachims, "Fairness of Exposure in Rankings", KDD 2018);
    - ``entropy@k``: :func:`shannon_entropy` of ``c``; ``entropy_recbole@k`` is that divided by the
      number of distinct recommended items, which is what RecBole's ``ShannonEntropy`` returns;
    - ``arp@k``: ``1/|U| Σ_u Σ_{i∈L_u} φ(i) / k``, ``φ`` the training popularity (Elliot ``ARP``,
      RecBole ``AveragePopularity``; Yin et al., VLDB 2012);
    - ``aplt@k``: ``1/|U| Σ_u |L_u ∩ Γ| / k``; ``aclt@k``: ``1/|U| Σ_u |L_u ∩ Γ|`` (Elliot ``APLT``,
      ``ACLT``; Abdollahpouri, Burke, Mobasher, RecSys 2017 and FLAIRS 2019);
    - ``pop_rsp@k``: ranking-based statistical parity over {short head, long tail} (Zhu, Wang,
      Caverlee, "Measuring and Mitigating Item Under-Recommendation Bias in Personalized Ranking
      Systems", SIGIR 2020; Elliot ``PopRSP``): ``std_a(P_a) / mean_a(P_a)`` with
      ``P_a = Σ_u |L_u ∩ G_a| / Σ_u |G_a \\ I_u^+|``, ``I_u^+`` the items ``u`` has seen;
    - ``pop_reo@k``: ranking-based equal opportunity (same paper; Elliot ``PopREO``), the same with
      ``P_a = Σ_u |L_u ∩ T_u ∩ G_a| / Σ_u |(T_u ∩ G_a) \\ I_u^+|``, ``T_u`` the user's targets;
      only when every batch came with ``targets``;
    - with ``item_groups``: ``rsp@k`` and ``reo@k`` over those groups, and per group ``exposure_share@k/<g>``
      (``Σ_{i∈g} c_i / (k |U|)``) and ``catalogue_share/<g>`` (``|g| / n``).

    RSP/REO are NaN where a group has no candidate (or no target) item, since its rate is 0/0.

    NOTE: RecBole divides coverage and Gini by its ``item_num``, which counts PAD; here ``n`` does not.

    Args:
        n_items: number of item ids including PAD.
        k: list length; ``update`` uses the first ``k`` columns of ``top_items``.
        popularity: ``[n_items]`` training interactions (distinct users) per item; index 0 is ignored.
        item_groups: optional ``[n_items]`` int64 group id of every item (index 0 ignored).
        group_names: one name per item group (default ``"0", "1", ...``).
        head_share: the share of training interactions the short head covers (Elliot: 0.8).
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    def __init__(
        self,
        n_items: int,
        k: int,
        popularity: Tensor,
        item_groups: Tensor | None = None,
        group_names: list[str] | None = None,
        head_share: float = 0.8,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if n_items < 2 or k < 1:
            raise ValueError(f"need n_items >= 2 (PAD + items) and k >= 1, got n_items={n_items}, k={k}")
        if popularity.shape != (n_items,) or not torch.isfinite(popularity).all() or (popularity < 0).any():
            raise ValueError(f"popularity must be finite, >= 0 and of shape [{n_items}], got {list(popularity.shape)}")
        self.n_items, self.k = n_items, k
        pop = popularity.double().clone()
        pop[0] = 0.0
        self.register_buffer("popularity", pop, persistent=False)
        self.register_buffer("head", short_head(pop, head_share), persistent=False)
        self.group_names = None
        if item_groups is not None:
            if item_groups.shape != (n_items,):
                raise ValueError(f"item_groups must have shape [{n_items}], got {list(item_groups.shape)}")
            groups = item_groups.long().clone()
            groups[0] = 0
            n_groups = len(group_names) if group_names is not None else int(groups.max()) + 1
            bad = (groups < 0) | (groups >= n_groups)
            if bad.any():
                raise ValueError(f"item_groups must be in [0, {n_groups - 1}], got {groups[bad].unique()[:5].tolist()}")
            self.group_names = [str(g) for g in (group_names or range(n_groups))]
            self.register_buffer("item_groups", groups, persistent=False)
        for name in ("exposure", "exposure_position", "seen", "relevant", "hits"):
            self.add_state(name, torch.zeros(n_items, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("users", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("target_users", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(
        self,
        top_items: Tensor,
        targets: Tensor | None = None,
        seen_rows: Tensor | None = None,
        seen_items: Tensor | None = None,
    ) -> None:
        """Add a batch of users' lists.

        Args:
            top_items: ``[B, K']`` dense item ids, best first, ``K' >= k``; rows hold distinct items.
            targets: ``[B, M]`` test items right-padded with PAD (needed for ``pop_reo``/``reo``).
            seen_rows, seen_items: ``[S]`` the items each row had seen before (the batch vocabulary);
                give them whenever the ranking excluded seen items, else every item counts as a
                candidate in RSP/REO.
        """
        if top_items.dim() != 2 or top_items.shape[1] < self.k:
            raise ValueError(f"top_items must be [B, K'] with K' >= k={self.k}, got {list(top_items.shape)}")
        top = top_items[:, : self.k].long()
        bad = (top < 1) | (top >= self.n_items)
        if bad.any():
            raise ValueError(
                f"top_items hold ids outside [1, {self.n_items - 1}]: {top[bad].unique()[:5].tolist()} "
                "(PAD in a top-k list means a user had fewer than k rankable items)"
            )
        B, I = top.shape[0], self.n_items
        if (seen_rows is None) != (seen_items is None):
            raise ValueError("give both seen_rows and seen_items, or neither")
        if seen_rows is not None:
            if seen_rows.shape != seen_items.shape or ((seen_rows < 0) | (seen_rows >= B)).any():
                raise ValueError(f"seen_rows must index the {B} rows of the batch, one per seen item")
            if ((seen_items < 0) | (seen_items >= I)).any():
                raise ValueError(f"seen_items must be in [0, {I - 1}], got max {seen_items.max().item()}")
        if targets is not None and (targets.dim() != 2 or targets.shape[0] != B):
            raise ValueError(f"targets must be [{B}, M], got {list(targets.shape)}")
        if targets is not None and ((targets < 0) | (targets >= I)).any():
            raise ValueError(f"targets must be PAD (0) or ids in [1, {I - 1}], got {targets.unique()[-5:].tolist()}")
        ones = torch.ones(top.numel(), dtype=torch.float64, device=top.device)
        rank_weight = 1.0 / torch.log2(torch.arange(2, self.k + 2, dtype=torch.float64, device=top.device))
        self.exposure.index_add_(0, top.reshape(-1), ones)
        self.exposure_position.index_add_(0, top.reshape(-1), rank_weight.repeat(B))
        self.users += B
        seen_keys = None
        if seen_rows is not None:
            seen_keys = torch.unique(seen_rows.long() * I + seen_items.long())  # one count per (user, item)
            items = seen_keys % I
            items = items[items > 0]
            self.seen.index_add_(0, items, torch.ones_like(items, dtype=torch.float64))
        if targets is not None:
            targets = targets.long()
            valid = targets != 0
            if seen_keys is not None:
                rows = torch.arange(B, device=targets.device)[:, None]
                valid_unseen = valid & ~torch.isin(rows * I + targets, seen_keys)
            else:
                valid_unseen = valid
            hit = (targets[:, :, None] == top[:, None, :]).any(-1) & valid  # [B, M]
            for state, mask in ((self.relevant, valid_unseen), (self.hits, hit)):
                state.index_add_(0, targets[mask], torch.ones_like(targets[mask], dtype=state.dtype))
            self.target_users += B

    def _parity(self, groups: Tensor, n_groups: int) -> dict[str, Tensor]:
        """RSP and REO over ``groups [n]`` (ids of the real items)."""

        def per_group(x: Tensor) -> Tensor:
            return torch.zeros(n_groups, dtype=torch.float64, device=x.device).index_add_(0, groups, x[1:])

        size = per_group(torch.ones_like(self.exposure))
        out = {"rsp": std_over_mean(per_group(self.exposure), self.users * size - per_group(self.seen))}
        if self.target_users > 0:
            out["reo"] = std_over_mean(per_group(self.hits), per_group(self.relevant))
        return out

    def compute(self) -> dict[str, Tensor]:
        if self.users == 0:
            raise ValueError("ExposureMetrics.compute() called before any user was evaluated")
        if 0 < self.target_users < self.users:
            raise ValueError(
                f"targets were given for {int(self.target_users)} of {int(self.users)} users: "
                "pass them with every batch (for pop_reo/reo) or with none"
            )
        k, U = self.k, self.users
        c = self.exposure[1:]
        tail = ~self.head[1:]
        entropy = shannon_entropy(c)
        out = {
            f"coverage@{k}": (c > 0).sum() / c.numel(),
            f"gini@{k}": gini_index(c),
            f"gini_position@{k}": gini_index(self.exposure_position[1:]),
            f"entropy@{k}": entropy,
            f"entropy_recbole@{k}": entropy / (c > 0).sum(),
            f"arp@{k}": (c * self.popularity[1:]).sum() / (k * U),
            f"aplt@{k}": c[tail].sum() / (k * U),
            f"aclt@{k}": c[tail].sum() / U,
        }
        out.update({f"pop_{name}@{k}": v for name, v in self._parity(tail.long(), 2).items()})
        if self.group_names is not None:
            groups, n_groups = self.item_groups[1:], len(self.group_names)
            out.update({f"{name}@{k}": v for name, v in self._parity(groups, n_groups).items()})
            exposed = torch.zeros(n_groups, dtype=torch.float64, device=c.device).index_add_(0, groups, c)
            size = torch.bincount(groups, minlength=n_groups).double()
            for g, name in enumerate(self.group_names):
                out[f"exposure_share@{k}/{name}"] = exposed[g] / (k * U)
                out[f"catalogue_share/{name}"] = size[g] / c.numel()
        return out
