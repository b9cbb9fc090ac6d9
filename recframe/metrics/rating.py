"""Rating-prediction metrics (explicit feedback): RMSE and MAE, and the rating-unfairness family.

With ``user_groups``, every two-valued user attribute (e.g. gender) also gets the value, absolute,
under-, over-estimation and non-parity unfairness of Yao & Huang (NeurIPS 2017,
:mod:`recframe.metrics.unfairness`) between its two groups, under keys
``fair/<attribute>/value_unfairness`` etc.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from recframe.metrics.unfairness import RatingUnfairness


class RatingMetrics(nn.Module):
    """RMSE and MAE of predicted against true ratings; torchmetrics sum states (DDP-exact).

    Args:
        spec: the dataset's DataSpec (needed with ``user_groups``; its ``rating_values`` give the
            rating classes).
        user_groups: user attributes for the unfairness family; only two-valued ones are used.

    ``compute()`` keys: ``rmse``, ``mae`` (lower is better), the unfairness keys above and, when the
    rating scale is known (``spec.rating_values``, e.g. 1..5 stars), ``accuracy`` and ``macro_f1`` of
    the predictions rounded to the nearest rating class — so a regression model (biased MF) and a
    classifier (the text rating model, whose predictions are classes) share one table.
    """

    def __init__(self, spec=None, user_groups: Sequence[str] = ()) -> None:
        super().__init__()
        self.rmse = MeanSquaredError(squared=False)
        self.mae = MeanAbsoluteError()
        values = None if spec is None else spec.rating_values
        self.accuracy = self.macro_f1 = None
        if values is not None and len(values) > 1:
            self.register_buffer("values", torch.as_tensor(values, dtype=torch.float32), persistent=False)
            self.accuracy = MulticlassAccuracy(len(values), average="micro")
            self.macro_f1 = MulticlassF1Score(len(values), average="macro")
        self.unfairness = nn.ModuleDict()
        if user_groups:
            from recframe.metrics.suite import _user_attribute

            activity = spec.user_activity
            for name in user_groups:
                ids, names = _user_attribute(spec, name, activity)
                if len(names) != 2:
                    continue
                self.register_buffer(f"group_ids_{name}", torch.as_tensor(ids), persistent=False)
                self.unfairness[name] = RatingUnfairness(spec.n_items)

    def update(self, predicted: Tensor, true: Tensor, users: Tensor | None = None, items: Tensor | None = None) -> None:
        self.rmse.update(predicted, true)
        self.mae.update(predicted, true)
        if self.accuracy is not None:
            guess, truth = self.nearest_class(predicted), self.nearest_class(true)
            self.accuracy.update(guess, truth)
            self.macro_f1.update(guess, truth)
        for name, metric in self.unfairness.items():
            metric.update(predicted, true, items, getattr(self, f"group_ids_{name}")[users])

    def compute(self) -> dict[str, Tensor]:
        out = {"rmse": self.rmse.compute(), "mae": self.mae.compute()}
        if self.accuracy is not None:
            out |= {"accuracy": self.accuracy.compute(), "macro_f1": self.macro_f1.compute()}
        for name, metric in self.unfairness.items():
            out.update({f"fair/{name}/{key}": value for key, value in metric.compute().items()})
        return out

    def reset(self) -> None:
        self.rmse.reset()
        self.mae.reset()
        if self.accuracy is not None:
            self.accuracy.reset()
            self.macro_f1.reset()
        for metric in self.unfairness.values():
            metric.reset()

    def nearest_class(self, ratings: Tensor) -> Tensor:
        """Index of the nearest rating class (ties towards the lower one) of each rating ``[B]``."""
        return (ratings[:, None] - self.values[None, :]).abs().argmin(1)

    def exposure_counts(self) -> None:
        return None
