"""Item co-occurrence: recommend what the training dialogues recommended after the items mentioned here.

The item-to-item neighbourhood baseline (Sarwar et al., "Item-based collaborative filtering
recommendation algorithms", WWW 2001) counted over conversations: ``C[i, c]`` is how many training
events recommended ``i`` when ``c`` was in the context. In the ψ · Wᵀ form ψ is the multi-hot of the
context items and W = C, a sparse ``[I, I]`` matrix.
NOTE: ties (most items co-occur with nothing here) are broken by training popularity scaled far
below one count, so an event without known items is ranked by popularity.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from recframe.data.datamodule import DataSpec
from recframe.data.interactions import PAD


class Cooccurrence(nn.Module):
    """Scores = Σ over context items c of C[i, c] (+ popularity far below one count); no parameters."""

    sequential: ClassVar[bool] = False

    def __init__(self, spec: DataSpec) -> None:
        super().__init__()
        if spec.train_targets is None or spec.train_items is None:
            raise ValueError(f"cooccurrence counts training conversations; {spec.name} is not a conversational dataset")
        events = np.flatnonzero(spec.train_targets)
        context = spec.train_items
        lengths = context.lengths(events)
        rows = np.repeat(spec.train_targets[events], lengths)
        cols = np.concatenate([context.items[context.indptr[e] : context.indptr[e + 1]] for e in events] or [[]])
        counts = torch.sparse_coo_tensor(
            torch.as_tensor(np.stack([rows, cols.astype(np.int64)])),
            torch.ones(len(rows)),
            (spec.n_items, spec.n_items),
        ).coalesce()
        self.register_buffer("counts", counts.to_sparse_csr(), persistent=False)
        popularity = torch.as_tensor(spec.item_popularity, dtype=torch.float32)
        self.register_buffer("tie_break", 1e-3 * popularity / (popularity.max() + 1), persistent=False)
        self.n_items = spec.n_items

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        history = batch["history"]
        psi = torch.zeros(len(history), self.n_items, device=history.device)
        psi.scatter_(1, history, 1.0)
        psi[:, PAD] = 0
        return psi[:, None]  # [B, 1, I]

    def item_embeddings(self) -> Tensor:
        """W = C ``[I, I]`` dense (scoring never builds it)."""
        return self.counts.to_dense()

    def query(self, batch: dict[str, Tensor]) -> Tensor:
        return self(batch)[:, 0]

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        scores = (self.counts @ self.query(batch).T).T + self.tie_break  # [B, I]
        scores[:, PAD] = float("-inf")
        return scores
