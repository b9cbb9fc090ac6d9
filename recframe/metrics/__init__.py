"""Metrics: a functional core (:mod:`~recframe.metrics.functional`) and ``torchmetrics`` classes."""

from recframe.metrics.functional import mask_items, ranking_metrics, target_ranks
from recframe.metrics.ranking import RankingMetrics

__all__ = ["RankingMetrics", "mask_items", "ranking_metrics", "target_ranks"]
