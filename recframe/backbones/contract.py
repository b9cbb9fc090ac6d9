"""The one backbone contract, and the two helpers every backbone's ``score`` uses.

A backbone maps a batch (see :mod:`recframe.data.batching` for the keys) to query vectors ψ and
exposes item vectors W; scores over the whole catalogue are ``ψ · Wᵀ``. Losses, metrics and
seen-item masking live elsewhere and need nothing else from a backbone.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor

from recframe.data.interactions import PAD


@runtime_checkable
class Backbone(Protocol):
    """What every registered backbone provides.

    ``sequential`` tells the DataModule whether to feed ``history``/``labels`` windows (True) or
    (user, item) pairs (False).
    """

    sequential: ClassVar[bool]

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        """Query vectors ``[B, T, D]``; position ``t`` predicts ``labels[:, t]``."""
        ...

    def item_embeddings(self) -> Tensor:
        """Item vectors ``[I, D]`` with ``I = n_items`` (row PAD included, never scored)."""
        ...

    def query(self, batch: dict[str, Tensor]) -> Tensor:
        """ψ ``[B, D]``: the query at each row's last real position (what ``score`` multiplies)."""
        ...

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        """Scores ``[B, I]`` = ``query(batch) @ item_embeddings().T`` with ``scores[:, PAD] = -inf``."""
        ...


@runtime_checkable
class RatingClassifier(Protocol):
    """A rating-prediction model that reads a (user, item) pair as a whole and outputs class logits.

    It is not a ψ · Wᵀ ranker: the pair interaction happens inside the model (a language model over
    the user's and the item's text). Under ``data.feedback: rating`` the module trains it with
    cross-entropy over the rating classes ``spec.rating_values`` and predicts the argmax class.
    """

    def rating_logits(self, users: Tensor, items: Tensor) -> Tensor:
        """Logits ``[B, C]`` over the C rating classes of the pairs ``(users [B], items [B])``."""
        ...


def last_query(queries: Tensor, batch: dict[str, Tensor]) -> Tensor:
    """Pick each row's query at its last real ``history`` position: ``[B, T, D] -> [B, D]``."""
    last = (batch["history"] != PAD).sum(1).clamp(min=1) - 1  # [B]
    return queries[torch.arange(len(last), device=queries.device), last]


def recency_positions(history: Tensor) -> Tensor:
    """Position ids counting back from each row's most recent item: ``[B, T]``, 0 at the last real item.

    With right-padded histories this gives every item the position it would have in a
    left-padded sequence of the original SASRec (``max_len - 1 -`` distance to the end), so learned
    position embeddings encode recency. PAD positions get 0 (they are never read by real ones).
    """
    lengths = (history != PAD).sum(1, keepdim=True)  # [B, 1]
    steps = torch.arange(history.shape[1], device=history.device)[None, :]
    return (lengths - 1 - steps).clamp(min=0)


def catalogue_scores(query: Tensor, items: Tensor) -> Tensor:
    """``query [B, D] @ items[I, D]ᵀ`` with the PAD column set to ``-inf``."""
    scores = query @ items.T  # [B, I]
    scores[:, PAD] = float("-inf")
    return scores
