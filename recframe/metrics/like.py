"""Metrics of the like protocol (binary "will the user like it?"): AUC, accuracy and log-loss.

AUC is TALLRec's metric (reported there ×100). torchmetrics' ``BinaryAUROC`` keeps every score, which
is fine here: the protocol evaluates ~1,000 examples, not users × items.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC


class LikeMetrics(nn.Module):
    """``auc``, ``accuracy`` (threshold 0.5 on the predicted probability) and ``logloss`` of like logits."""

    def __init__(self) -> None:
        super().__init__()
        self.auc, self.accuracy, self.logloss = BinaryAUROC(), BinaryAccuracy(), MeanMetric()

    def update(self, logits: Tensor, likes: Tensor) -> None:
        if not torch.isfinite(logits).all():
            raise ValueError("like logits hold NaN or inf; the model diverged")
        target = likes.long()
        self.auc.update(logits.sigmoid(), target)
        self.accuracy.update(logits.sigmoid(), target)
        self.logloss.update(nn.functional.binary_cross_entropy_with_logits(logits, likes, reduction="none"))

    def compute(self) -> dict[str, Tensor]:
        return {"auc": self.auc.compute(), "accuracy": self.accuracy.compute(), "logloss": self.logloss.compute()}

    def reset(self) -> None:
        for metric in (self.auc, self.accuracy, self.logloss):
            metric.reset()

    def exposure_counts(self) -> None:
        return None
