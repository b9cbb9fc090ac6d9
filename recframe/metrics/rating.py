"""Rating-prediction metrics (explicit feedback): RMSE and MAE over held-out ratings."""

from __future__ import annotations

from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError


class RatingMetrics(nn.Module):
    """RMSE and MAE of predicted against true ratings; torchmetrics sum states (DDP-exact).

    ``compute()`` keys: ``rmse``, ``mae`` (lower is better).
    """

    def __init__(self) -> None:
        super().__init__()
        self.rmse = MeanSquaredError(squared=False)
        self.mae = MeanAbsoluteError()

    def update(self, predicted: Tensor, true: Tensor) -> None:
        self.rmse.update(predicted, true)
        self.mae.update(predicted, true)

    def compute(self) -> dict[str, Tensor]:
        return {"rmse": self.rmse.compute(), "mae": self.mae.compute()}

    def reset(self) -> None:
        self.rmse.reset()
        self.mae.reset()

    def exposure_counts(self) -> None:
        return None
