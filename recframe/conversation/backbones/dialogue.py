"""The conversational profile model: a dialogue becomes ψ, the catalogue W, scored ψ · Wᵀ and trained with CE.

ψ = a projection of the recency-weighted mean of the frozen sentence vectors of the latest
utterances, plus the mean vector of the items mentioned so far (the same W the catalogue is scored
with, so "more like the movies named" is one dot product). W = the text issue's item encoder
(:class:`~recframe.text.items.ItemEncoder`: a learned ID part fused with the projected frozen text
of the item's metadata), so the thousands of movies no training turn recommends are still placed
by what their text says. This is the founding document's p(i | dialogue) ∝ exp(W_i · ψ_dialogue);
the language-model conversational recommenders it is compared with are UniCRS (Wang et al., KDD
2022) and the zero-shot LLMs of He et al. (CIKM 2023). No reference implementation: it is ours.
NOTE: utterance vectors are frozen (encoded once and cached per text); only the projections, the
recency weights, the mention weight and the item encoder train, which keeps a ReDial epoch seconds
on a CPU.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from recframe.backbones.contract import catalogue_scores
from recframe.config import schema_of, validate_section
from recframe.conversation.context import utterance_index
from recframe.data.datamodule import DataSpec
from recframe.data.interactions import PAD
from recframe.text.items import frozen_vectors, item_table, text_features

DEFAULT_TEXT = {"model": "minilm"}


class Dialogue(nn.Module):
    """Frozen utterance vectors ``[B, L, H]`` -> weighted mean -> ``[B, D]``, plus mentioned items -> ψ.

    Args:
        spec: a conversational dataset (each event's utterances in ``spec.user_info``).
        dim: size ``D`` of ψ and of the item vectors.
        items: the item encoder's settings (``id``, ``text``, ``attributes``, ``fusion``, ...); None
            gives a plain learned ID table.
        text: the utterance encoder: settings of :func:`recframe.text.items.text_features`
            (``model``, ``pooling``, ``normalize``, ``batch_size``, ``cache``, ``progress``; the template
            is not used: utterances are encoded as they are).
        window: how many of the latest utterances ψ reads.
        utterance_length: tokens kept per utterance.
        mentions: add the mean vector of the items mentioned so far to ψ.
        dropout: dropout on the pooled utterance vector while training.
    """

    sequential: ClassVar[bool] = False

    def __init__(
        self,
        spec: DataSpec,
        *,
        dim: int = 128,
        items: dict[str, Any] | None = None,
        text: dict[str, Any] | None = None,
        window: int = 8,
        utterance_length: int = 64,
        mentions: bool = True,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if window < 1:
            raise ValueError(f"dialogue window must be >= 1, got {window}")
        settings = validate_section(schema_of(text_features, ("spec",)), text or DEFAULT_TEXT, "backbone.text")
        texts, index = utterance_index(spec, last=window)
        keep = ("model", "pooling", "normalize", "batch_size", "cache", "progress")
        vectors, identity, hit = frozen_vectors(
            texts, key=None, max_length=utterance_length, **{k: settings[k] for k in keep}
        )
        table = torch.cat([torch.zeros(1, vectors.shape[1]), torch.as_tensor(vectors)])  # row 0: no utterance
        self.register_buffer("utterances", table, persistent=False)
        self.register_buffer("index", index, persistent=False)
        self.items = item_table(spec, dim, items, init=lambda w: nn.init.normal_(w, std=0.02))
        self.recency = nn.Parameter(torch.zeros(index.shape[1]))  # softmax weights, latest utterance last
        self.project = nn.Linear(table.shape[1], dim)
        self.mention_weight = nn.Parameter(torch.ones(())) if mentions else None
        self.dropout = nn.Dropout(dropout)
        self.report = [f"utterances via {identity}: {len(texts):,} distinct{', all from the cache' if hit else ''}"]

    def _text(self, users: Tensor) -> Tensor:
        ids = self.index[users]  # [B, L], right-padded
        lengths = (ids > 0).sum(1)  # [B]
        # weight position j by its distance from the latest utterance, so recency means the same in
        # short and long dialogues: row b's latest utterance reads recency[-1]
        shift = (ids.shape[1] - lengths)[:, None]
        slot = (torch.arange(ids.shape[1], device=ids.device)[None, :] + shift).clamp(max=ids.shape[1] - 1)
        logits = self.recency[slot].masked_fill(ids == 0, float("-inf"))  # [B, L]
        weights = torch.nan_to_num(torch.softmax(logits, 1))  # a dialogue without utterances: zeros
        pooled = (weights.unsqueeze(-1) * self.utterances[ids]).sum(1)  # [B, H]
        return self.project(self.dropout(pooled))  # [B, D]

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        psi = self._text(batch["user"])
        if self.mention_weight is not None:
            history = batch["history"]  # [B, T]
            real = (history != PAD).unsqueeze(-1).float()
            mentioned = (self.items(history) * real).sum(1) / real.sum(1).clamp(min=1)
            psi = psi + self.mention_weight * mentioned
        return psi[:, None]  # [B, 1, D]

    def item_embeddings(self) -> Tensor:
        return self.items.weight

    def query(self, batch: dict[str, Tensor]) -> Tensor:
        return self(batch)[:, 0]

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        return catalogue_scores(self.query(batch), self.item_embeddings())
