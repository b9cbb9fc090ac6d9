"""Matrix factorisation: ψ_u is a learned user vector, W a learned item table.

Trained with the ``bpr`` loss this is BPR-MF (Rendle, Freudenthaler, Gantner & Schmidt-Thieme,
"BPR: Bayesian Personalized Ranking from Implicit Feedback", UAI 2009); with ``ce`` it is the
full-softmax MF of the founding formula ``p(i | u) ∝ exp(W_i · ψ_u)``. Checked against RecBole
1.2.1 ``BPR`` (xavier-normal initialisation, no biases).

With ``biased=True`` it is the biased MF of Koren, Bell & Volinsky ("Matrix Factorization
Techniques for Recommender Systems", IEEE Computer 2009; Surprise's ``SVD``): ``r̂ = μ + b_u + b_i +
p_u·q_i``, written in the one ψ·W form with augmented vectors ``ψ_u = [p_u, b_u, 1, μ]`` and
``W_i = [q_i, 1, b_i, 1]``; μ is the mean training rating. Initialisation then follows Surprise:
factors ~ N(0, 0.1²), biases 0.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from recframe.backbones.contract import catalogue_scores
from recframe.data.datamodule import DataSpec
from recframe.text.items import item_table


class MF(nn.Module):
    """User and item embedding tables; the query for user ``u`` is ``users[u]`` at every position.

    Args:
        spec: dataset facts (``n_users``, ``n_items``, ``rating_mean``).
        dim: embedding size.
        biased: add user and item biases and the global mean (rating prediction).
        items: item side information fused into W (:mod:`recframe.text.items`); None = ID table only.
    """

    sequential: ClassVar[bool] = False

    def __init__(
        self, spec: DataSpec, *, dim: int = 64, biased: bool = False, items: dict[str, Any] | None = None
    ) -> None:
        super().__init__()
        self.users = nn.Embedding(spec.n_users, dim, padding_idx=0)
        init = functools.partial(nn.init.normal_, std=0.1) if biased else nn.init.xavier_normal_
        self.items = item_table(spec, dim, items, init=init)
        self.biased = biased
        for table in (self.users, self.items) if items is None else (self.users,):
            if biased:
                nn.init.normal_(table.weight, std=0.1)
            else:
                nn.init.xavier_normal_(table.weight)
            table.weight.data[0] = 0.0
        if biased:
            self.user_bias = nn.Embedding(spec.n_users, 1, padding_idx=0)
            self.item_bias = nn.Embedding(spec.n_items, 1, padding_idx=0)
            nn.init.zeros_(self.user_bias.weight)
            nn.init.zeros_(self.item_bias.weight)
            self.register_buffer("mean", torch.tensor([spec.rating_mean], dtype=torch.float32))

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        user = batch["user"]
        query = self.users(user)  # [B, D]
        if self.biased:
            one = torch.ones_like(query[:, :1])
            query = torch.cat([query, self.user_bias(user), one, self.mean.expand_as(one)], dim=1)  # [B, D + 3]
        return query[:, None, :]  # [B, 1, D(+3)]

    def item_embeddings(self) -> Tensor:
        if not self.biased:
            return self.items.weight  # [I, D]
        one = torch.ones_like(self.item_bias.weight)
        return torch.cat([self.items.weight, one, self.item_bias.weight, one], dim=1)  # [I, D + 3]

    def query(self, batch: dict[str, Tensor]) -> Tensor:
        return self(batch)[:, 0]  # [B, D]

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        return catalogue_scores(self.query(batch), self.item_embeddings())
