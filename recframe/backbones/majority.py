"""The majority-class rating baseline: every (user, item) pair gets the most frequent training rating.

The floor of the rating-classification table of the founding document's GPT-2 experiment (its
accuracy is the majority share; its macro-F1 is low by construction). A classifier in the sense of
:class:`~recframe.backbones.contract.RatingClassifier`, with no trainable parameter (evaluated
without training), as the trivial predictors of Hug, "Surprise", JOSS 2020 (``NormalPredictor``,
``BaselineOnly``) are the floor of rating-prediction tables. Nothing to check it against beyond a
hand count (``tests/test_rating_text.py``).
NOTE: its logits are the log class frequencies, so the argmax is the majority class.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from recframe.data.datamodule import DataSpec


class Majority(nn.Module):
    """Log training frequencies of the rating classes, the same for every pair.

    Args:
        spec: dataset facts (``rating_values``, ``rating_counts``).
    """

    sequential: ClassVar[bool] = False

    def __init__(self, spec: DataSpec) -> None:
        super().__init__()
        if spec.rating_counts is None or len(spec.rating_counts) < 2:
            raise ValueError("the majority baseline needs explicit ratings with at least two values (feedback: rating)")
        self.register_buffer(
            "log_prior", torch.as_tensor(np.log(spec.rating_counts / spec.rating_counts.sum())).float()
        )

    def rating_logits(self, users: Tensor, items: Tensor) -> Tensor:
        return self.log_prior.expand(len(users), -1)  # [B, C]
