"""PopRec: every user gets the same ranking, by number of training interactions.

The popularity baseline of the S3-Rec paper's table (Zhou et al., CIKM 2020) and of most
sequential-recommendation papers since SASRec (Kang & McAuley, ICDM 2018). In the ψ · Wᵀ form,
ψ = 1 and W is the column of training counts, so it needs no parameters and no training.
NOTE: items with equal counts tie; ties count against the target, as everywhere in recframe.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from recframe.backbones.contract import catalogue_scores
from recframe.data.datamodule import DataSpec


class Pop(nn.Module):
    """Scores = training popularity of each item (a fixed buffer, no trainable parameters)."""

    sequential: ClassVar[bool] = False

    def __init__(self, spec: DataSpec) -> None:
        super().__init__()
        self.register_buffer("popularity", torch.as_tensor(spec.item_popularity, dtype=torch.float32)[:, None])

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return torch.ones(len(batch["user"]), 1, 1, device=self.popularity.device)  # [B, 1, 1]

    def item_embeddings(self) -> Tensor:
        return self.popularity  # [I, 1]

    def query(self, batch: dict[str, Tensor]) -> Tensor:
        return self(batch)[:, 0]  # [B, D]

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        return catalogue_scores(self.query(batch), self.item_embeddings())
