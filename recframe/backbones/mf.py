"""Matrix factorisation: ψ_u is a learned user vector, W a learned item table.

Trained with the ``bpr`` loss this is BPR-MF (Rendle, Freudenthaler, Gantner & Schmidt-Thieme,
"BPR: Bayesian Personalized Ranking from Implicit Feedback", UAI 2009); with ``ce`` it is the
full-softmax MF of the founding formula ``p(i | u) ∝ exp(W_i · ψ_u)``. Checked against RecBole
1.2.1 ``BPR`` (xavier-normal initialisation, no biases).
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from recframe.backbones.contract import catalogue_scores
from recframe.data.datamodule import DataSpec


class MF(nn.Module):
    """User and item embedding tables; the query for user ``u`` is ``users[u]`` at every position.

    Args:
        spec: dataset facts (``n_users``, ``n_items``).
        dim: embedding size.
    """

    sequential: ClassVar[bool] = False

    def __init__(self, spec: DataSpec, *, dim: int = 64) -> None:
        super().__init__()
        self.users = nn.Embedding(spec.n_users, dim, padding_idx=0)
        self.items = nn.Embedding(spec.n_items, dim, padding_idx=0)
        for table in (self.users, self.items):
            nn.init.xavier_normal_(table.weight)
            table.weight.data[0] = 0.0

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.users(batch["user"])[:, None, :]  # [B, 1, D]

    def item_embeddings(self) -> Tensor:
        return self.items.weight  # [I, D]

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        return catalogue_scores(self(batch)[:, 0], self.item_embeddings())
