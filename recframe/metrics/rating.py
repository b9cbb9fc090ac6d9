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

from recframe.metrics.unfairness import RatingUnfairness


class RatingMetrics(nn.Module):
    """RMSE and MAE of predicted against true ratings; torchmetrics sum states (DDP-exact).

    Args:
        spec: the dataset's DataSpec (needed only with ``user_groups``).
        user_groups: user attributes for the unfairness family; only two-valued ones are used.

    ``compute()`` keys: ``rmse``, ``mae`` (lower is better), and the unfairness keys above.
    """

    def __init__(self, spec=None, user_groups: Sequence[str] = ()) -> None:
        super().__init__()
        self.rmse = MeanSquaredError(squared=False)
        self.mae = MeanAbsoluteError()
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
        for name, metric in self.unfairness.items():
            metric.update(predicted, true, items, getattr(self, f"group_ids_{name}")[users])

    def compute(self) -> dict[str, Tensor]:
        out = {"rmse": self.rmse.compute(), "mae": self.mae.compute()}
        for name, metric in self.unfairness.items():
            out.update({f"fair/{name}/{key}": value for key, value in metric.compute().items()})
        return out

    def reset(self) -> None:
        self.rmse.reset()
        self.mae.reset()
        for metric in self.unfairness.values():
            metric.reset()

    def exposure_counts(self) -> None:
        return None
