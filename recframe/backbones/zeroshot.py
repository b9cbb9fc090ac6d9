"""Zero-shot text matching: ψ_t = the mean frozen text vector of the last ``window`` items read, W = the
items' frozen text vectors; nothing is trained.

The text-only baseline of the cold-start protocol: it knows items only by what their text says
(Reimers & Gurevych, "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks", EMNLP 2019,
the encoder family of the default all-MiniLM-L6-v2). Checked against a hand computation in
``tests/test_cold.py``; there is no reference implementation to match.
NOTE: the ``window`` most recent items are averaged with equal weights; with MiniLM's normalised
vectors the scores are then proportional to the mean cosine similarity to those items.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from recframe.backbones.contract import catalogue_scores, last_query
from recframe.data.datamodule import DataSpec
from recframe.data.interactions import PAD
from recframe.text.items import FrozenText


class ZeroShot(nn.Module):
    """Frozen text vectors of the history -> a causal moving average -> queries ``[B, T, H]``.

    Args:
        spec: dataset facts and the item table.
        text: settings of :func:`recframe.text.items.text_features` (model, template, ...).
        window: how many of the most recent items each query averages.
    """

    sequential: ClassVar[bool] = True

    def __init__(self, spec: DataSpec, *, text: dict[str, Any] | None = None, window: int = 10) -> None:
        super().__init__()
        if window < 1:
            raise ValueError(f"zeroshot window must be >= 1, got {window}")
        self.window = window
        self.items = FrozenText(spec, text or {})

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        history = batch["history"]  # [B, T]
        x = self.items(history)  # [B, T, H], PAD rows zero
        real = (history != PAD).to(x.dtype).unsqueeze(-1)  # [B, T, 1]
        sums, counts = x.cumsum(1), real.cumsum(1)
        if history.shape[1] > self.window:  # subtract what fell out of the window
            sums = sums - nn.functional.pad(sums, (0, 0, self.window, 0))[:, : history.shape[1]]
            counts = counts - nn.functional.pad(counts, (0, 0, self.window, 0))[:, : history.shape[1]]
        return sums / counts.clamp(min=1)

    def item_embeddings(self) -> Tensor:
        return self.items.weight

    def query(self, batch: dict[str, Tensor]) -> Tensor:
        return last_query(self(batch), batch)  # [B, H]

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        with torch.no_grad():
            return catalogue_scores(self.query(batch), self.item_embeddings())
