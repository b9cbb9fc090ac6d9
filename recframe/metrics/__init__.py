"""Metrics: a functional core (:mod:`~recframe.metrics.functional`) and ``torchmetrics`` classes."""

from recframe.metrics.beyond import IntraListDiversity, Novelty, self_information
from recframe.metrics.exposure import (
    ExposureMetrics,
    gini_index,
    lorenz_curve,
    shannon_entropy,
    short_head,
    std_over_mean,
)
from recframe.metrics.functional import mask_items, ranking_metrics, target_ranks
from recframe.metrics.groups import GroupRankingMetrics, differential_fairness, gap_and_ratio, user_groups
from recframe.metrics.ranking import RankingMetrics
from recframe.metrics.unfairness import RatingUnfairness, yao_huang_unfairness

__all__ = [
    "ExposureMetrics",
    "GroupRankingMetrics",
    "IntraListDiversity",
    "Novelty",
    "RankingMetrics",
    "RatingUnfairness",
    "differential_fairness",
    "gap_and_ratio",
    "gini_index",
    "lorenz_curve",
    "mask_items",
    "ranking_metrics",
    "self_information",
    "shannon_entropy",
    "short_head",
    "std_over_mean",
    "target_ranks",
    "user_groups",
    "yao_huang_unfairness",
]
