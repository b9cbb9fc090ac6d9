"""GRU4Rec and its LSTM variant: ψ_t is the recurrent state after reading items up to ``t``.

Hidasi, Karatzoglou, Baltrunas & Tikk, "Session-based Recommendations with Recurrent Neural
Networks", ICLR 2016. Layout checked against RecBole 1.2.1 ``GRU4Rec``: item embedding, embedding
dropout, a (multi-layer) GRU, a linear map from the hidden size back to the embedding size, and
scores against the same item table.
NOTE: trained on whole right-padded windows with a loss at every position (as SASRec is), not with
GRU4Rec's session-parallel mini-batches; RecBole makes the same choice.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn

from recframe.backbones.contract import catalogue_scores, last_query
from recframe.data.datamodule import DataSpec
from recframe.text.items import item_table

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


class RNN(nn.Module):
    """Item embeddings -> dropout -> GRU/LSTM -> linear -> queries ``[B, T, D]``.

    Args:
        spec: dataset facts (``n_items``).
        dim: item embedding size (also the query size).
        hidden: recurrent state size; defaults to ``dim``.
        layers: stacked recurrent layers.
        dropout: on the item embeddings (and between recurrent layers when ``layers > 1``).
        cell: ``gru`` (GRU4Rec) or ``lstm``.
        items: item side information fused into W (:mod:`recframe.text.items`); None = ID table only.
    """

    sequential: ClassVar[bool] = True

    def __init__(
        self,
        spec: DataSpec,
        *,
        dim: int = 64,
        hidden: int | None = None,
        layers: int = 1,
        dropout: float = 0.3,
        cell: str = "gru",
        items: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown rnn cell {cell!r}; known: {sorted(CELLS)}")
        hidden = hidden or dim
        self.items = item_table(spec, dim, items, init=nn.init.xavier_normal_)
        self.dropout = nn.Dropout(dropout)
        self.rnn = CELLS[cell](dim, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.out = nn.Linear(hidden, dim)
        if items is None:
            nn.init.xavier_normal_(self.items.weight)
            self.items.weight.data[0] = 0.0

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        # Right padding keeps every real position ahead of the PADs, so no packing is needed:
        # a causal recurrence never reads the padding that follows it.
        x = self.dropout(self.items(batch["history"]))  # [B, T, D]
        h, _ = self.rnn(x)  # [B, T, H]
        return self.out(h)  # [B, T, D]

    def item_embeddings(self) -> Tensor:
        return self.items.weight

    def query(self, batch: dict[str, Tensor]) -> Tensor:
        return last_query(self(batch), batch)  # [B, D]

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        return catalogue_scores(self.query(batch), self.item_embeddings())
