"""Everything measured at one evaluation stage, fed once per batch by the module.

:class:`EvaluationMetrics` owns the accuracy metrics and, when configured (the ``metrics`` section
of an experiment), the user-group fairness, item-exposure and beyond-accuracy metrics, all built
from the dataset's side information in :class:`~recframe.data.datamodule.DataSpec`. Its flat
``compute()`` keys are what the logger and ``metrics.json`` receive under the stage prefix:
``ndcg@10``, ``fair/ndcg@10/gender_gap``, ``fair/ndcg@10/gender=F``, ``exposure/gini@10``,
``exposure/share@10/genre=Drama``, ``beyond/novelty@10``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from recframe.metrics.beyond import IntraListDiversity, Novelty
from recframe.metrics.exposure import ExposureMetrics, short_head
from recframe.metrics.groups import GroupRankingMetrics, user_groups
from recframe.metrics.ranking import RankingMetrics

# MovieLens' age bands (the codes of ML-1M's users.dat), used for any column named "age".
AGE_EDGES = (0, 18, 25, 35, 45, 50, 56, math.inf)
ACTIVITY = "activity"  # user group: the 20 % most active users (training interactions) vs the rest
POPULARITY = "popularity"  # item group: short head vs long tail of training popularity


def _user_attribute(spec, name: str, activity: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Group ids per dense user for one configured attribute."""
    if name == ACTIVITY:
        return user_groups(activity, "top_share", share=0.2)
    info = spec.user_info
    if info is None or name not in info.columns:
        known = [ACTIVITY] + ([] if info is None else [str(c) for c in info.columns])
        raise ValueError(f"unknown user group attribute {name!r} for {spec.name}; known: {known}")
    column = info[name]
    if name == "age":
        return user_groups(pd.to_numeric(column), "bins", edges=AGE_EDGES)
    if pd.api.types.is_numeric_dtype(column) and column.nunique() > 10:
        return user_groups(column, "quantile", n_bins=4)
    return user_groups(column, "categorical")


def _item_groups(spec, name: str) -> tuple[Tensor, list[str]] | tuple[Tensor, list[str], bool]:
    """``(ids [n_items] or multi-hot [n_items, G], names, multi_label)`` for one item attribute."""
    if name == POPULARITY:
        head = short_head(torch.as_tensor(spec.item_users, dtype=torch.float64))
        return (~head).long(), ["short_head", "long_tail"], False
    info = spec.item_info
    if info is None or name not in info.columns:
        known = [POPULARITY] + ([] if info is None else [str(c) for c in info.columns])
        raise ValueError(f"unknown item group attribute {name!r} for {spec.name}; known: {known}")
    column = info[name]
    if column.iloc[1:].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():  # multi-label (genres)
        names = sorted({str(g) for v in column.iloc[1:] if isinstance(v, (list, tuple, np.ndarray)) for g in v})
        index = {g: j for j, g in enumerate(names)}
        hot = torch.zeros(spec.n_items, len(names), dtype=torch.float64)
        for item, values in column.iloc[1:].items():
            if isinstance(values, (list, tuple, np.ndarray)):
                for g in values:
                    hot[int(item), index[str(g)]] = 1.0
        return hot, names, True
    ids, names = user_groups(column, "categorical", n_users=spec.n_items)
    ids[0] = 0
    return torch.as_tensor(ids), names, False


def _select_rows(batch: dict[str, Tensor], keep: Tensor) -> dict[str, Tensor]:
    """The batch restricted to rows ``keep``; flat ``seen_*`` pairs are renumbered."""
    out = {
        k: v[keep] for k, v in batch.items() if k not in ("seen_rows", "seen_items") and v.dim() and len(v) == len(keep)
    }
    if "seen_rows" in batch:
        new_index = torch.cumsum(keep.long(), 0) - 1
        pair_kept = keep[batch["seen_rows"]]
        out["seen_rows"] = new_index[batch["seen_rows"][pair_kept]]
        out["seen_items"] = batch["seen_items"][pair_kept]
    return out


class EvaluationMetrics(nn.Module):
    """The metrics of one stage: accuracy always; fairness, exposure and beyond-accuracy on request.

    Args:
        spec: the dataset's :class:`~recframe.data.datamodule.DataSpec` (side information, popularity).
        ks: cut-offs of the accuracy and group metrics.
        user_groups: user attributes to break accuracy down by: columns of the user side table
            (``gender``, ``age`` in MovieLens bands, ``occupation``, ...) or ``activity`` (the 20 %
            most active users vs the rest).
        item_groups: an item attribute for exposure shares: ``popularity`` (short head vs long
            tail), a categorical column, or a list column such as ``genres`` (multi-label).
        exposure: compute coverage, Gini, entropy, ARP/APLT/ACLT, PopRSP/PopREO of the top-``k`` lists.
        beyond: compute novelty, and intra-list diversity when ``item_groups`` is multi-label or categorical.
        k: the list length of the exposure and beyond-accuracy metrics.
        group_metrics: which accuracy metrics are broken down by user group (keys stay readable
            for attributes with many values, such as occupation).
        cold_users: also report the accuracy metrics of the users with at most this many training
            interactions (``cold_users/ndcg@10``, with their count ``cold_users/users``).

    Under the cold-item protocol (``spec.cold_items``) the accuracy metrics are also reported for
    cold and warm targets apart (``cold/ndcg@10``, ``warm/ndcg@10``, counts ``cold/users``): a user
    belongs to a slice through the targets of that slice only.
    """

    def __init__(
        self,
        spec,
        *,
        ks: Sequence[int] = (1, 5, 10, 20),
        user_groups: Sequence[str] = (),
        item_groups: str | None = None,
        exposure: bool = False,
        beyond: bool = False,
        k: int = 10,
        group_metrics: Sequence[str] = ("hr", "ndcg"),
        cold_users: int | None = None,
    ) -> None:
        super().__init__()
        self.ranking = RankingMetrics(ks)
        self.slices = nn.ModuleDict()
        if spec.cold_items is not None:
            cold = torch.as_tensor(spec.cold_items, dtype=torch.bool)
            self.register_buffer("slice_items_cold", cold, persistent=False)
            self.register_buffer("slice_items_warm", ~cold, persistent=False)
            self.slices["cold"], self.slices["warm"] = RankingMetrics(ks), RankingMetrics(ks)
        if cold_users is not None:
            if cold_users < 1:
                raise ValueError(f"metrics.cold_users must be >= 1 training interactions, got {cold_users}")
            few = torch.as_tensor(np.asarray(spec.user_activity) <= cold_users)
            self.register_buffer("slice_users_cold_users", few, persistent=False)
            self.slices["cold_users"] = RankingMetrics(ks)
        self.k, self.group_metrics = k, tuple(group_metrics)
        activity = np.asarray(spec.user_activity, dtype=np.float64)
        self.attributes = list(user_groups)
        self.groups = nn.ModuleDict()
        for name in self.attributes:
            ids, names = _user_attribute(spec, name, activity)
            self.register_buffer(f"group_ids_{name}", torch.as_tensor(ids), persistent=False)
            self.groups[name] = GroupRankingMetrics(len(names), ks, names)
        self.multi_label: Tensor | None = None
        self.item_group_name, self.item_group_names = item_groups, None
        # Elliot's ARP/short head and novelty's self-information count distinct users per item.
        popularity = torch.as_tensor(spec.item_users, dtype=torch.float64)
        single = None
        if item_groups is not None:
            ids, names, multi = _item_groups(spec, item_groups)
            self.item_group_names = names
            if multi:
                self.register_buffer("multi_label", ids, persistent=False)
            else:
                single = ids
        self.exposure = None
        if exposure or item_groups is not None:
            names_single = self.item_group_names if single is not None else None
            self.exposure = ExposureMetrics(spec.n_items, k, popularity, single, names_single)
        self.novelty = Novelty(popularity, spec.n_users, k) if beyond else None
        # Not a metric state: under DDP each rank reports its own count (it only documents coverage).
        self.register_buffer("short_lists", torch.zeros((), dtype=torch.float64), persistent=False)
        self.diversity = None
        if beyond and item_groups is not None and item_groups != POPULARITY:
            if self.multi_label is not None:
                features = self.multi_label
            else:
                features = nn.functional.one_hot(single, len(self.item_group_names)).double()
            self.diversity = IntraListDiversity(features, k)

    @property
    def max_k(self) -> int:
        """The longest list any metric needs (top-k is computed once, to this length)."""
        return max(self.ranking.ks[-1], self.k if (self.exposure or self.novelty or self.diversity) else 1)

    @property
    def needs_lists(self) -> bool:
        return any(m is not None for m in (self.exposure, self.novelty, self.diversity))

    def update(
        self, batch: dict[str, Tensor], ranks: Tensor, top_items: Tensor | None, top_values: Tensor | None = None
    ) -> None:
        """Add one batch: target ``ranks [B, M]`` and, if lists are needed, the top-``K`` lists.

        A user with fewer than ``k`` rankable items (nearly the whole catalogue already seen) has
        empty (``-inf``) slots in the list; such lists are left out of the exposure and
        beyond-accuracy metrics and counted under ``exposure/short_lists@k``.
        """
        self.ranking.update(ranks)
        for name, metric in self.slices.items():
            if name == "cold_users":
                rows = self.slice_users_cold_users[batch["user"]]
                metric.update(ranks[rows])
            else:
                inside = getattr(self, f"slice_items_{name}")[batch["targets"]] & (batch["targets"] != 0)
                rows = inside.any(1)
                metric.update(torch.where(inside, ranks, 0)[rows])
        for name, metric in self.groups.items():
            metric.update(ranks, getattr(self, f"group_ids_{name}")[batch["user"]])
        if top_items is None:
            return
        if top_values is not None:
            full = torch.isfinite(top_values[:, : self.k]).all(1)
            self.short_lists += (~full).sum()
            if not full.all():
                top_items = top_items[full]
                batch = _select_rows(batch, full)
        if self.exposure is not None and len(top_items):
            self.exposure.update(top_items, batch["targets"], batch.get("seen_rows"), batch.get("seen_items"))
        for metric in (self.novelty, self.diversity):
            if metric is not None and len(top_items):
                metric.update(top_items)

    def compute(self) -> dict[str, Tensor]:
        """Flat keys (module docstring)."""
        if self.needs_lists:
            short = self.short_lists.clone()
            if self.exposure is not None and self.exposure.users == 0:
                raise ValueError(f"every evaluated user had fewer than {self.k} rankable items; lower metrics.k")
        out = dict(self.ranking.compute())
        for name, metric in self.slices.items():
            out[f"{name}/users"] = metric.users.clone()
            if metric.users > 0:
                out.update({f"{name}/{key}": value for key, value in metric.compute().items()})
        for attr, metric in self.groups.items():
            for key, value in metric.compute().items():
                head, tail = key.split("/", 1)
                if head != "users" and head.split("@")[0] not in self.group_metrics:
                    continue
                if head == "users":
                    out[f"fair/users/{attr}={tail}"] = value
                elif tail in ("gap", "ratio", "df_epsilon"):
                    out[f"fair/{head}/{attr}_{tail}"] = value
                else:
                    out[f"fair/{head}/{attr}={tail}"] = value
        if self.exposure is not None:
            attr = self.item_group_name
            for key, value in self.exposure.compute().items():
                if key.startswith(("exposure_share@", "catalogue_share/")):
                    head, group = key.split("/", 1)
                    key = f"{head.replace('exposure_share', 'share')}/{attr}={group}"
                out[f"exposure/{key}"] = value
            if self.multi_label is not None:
                counts = self.exposure.exposure @ self.multi_label  # [G]: recommendations per label
                catalogue = self.multi_label[1:].sum(0)
                for g, name in enumerate(self.item_group_names):
                    out[f"exposure/share@{self.k}/{self.item_group_name}={name}"] = counts[g] / counts.sum()
                    out[f"exposure/catalogue_share/{self.item_group_name}={name}"] = catalogue[g] / catalogue.sum()
        for metric in (self.novelty, self.diversity):
            if metric is not None:
                out.update({f"beyond/{k}": v for k, v in metric.compute().items()})
        if self.needs_lists:
            out[f"exposure/short_lists@{self.k}"] = short
        return out

    def exposure_counts(self) -> Tensor | None:
        """How often each item was recommended in the top-``k`` lists (``[n_items]``), if tracked."""
        return None if self.exposure is None else self.exposure.exposure.clone()

    def reset(self) -> None:
        self.short_lists.zero_()
        for metric in self.modules():
            if metric is not self and hasattr(metric, "reset") and not isinstance(metric, nn.ModuleDict):
                metric.reset()
