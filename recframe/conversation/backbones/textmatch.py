"""Zero-shot text matching of a dialogue against the catalogue: ψ = the mean frozen vector of the latest
utterances, W = the items' frozen text vectors; nothing is trained.

Sentence-embedding retrieval (Reimers & Gurevych, "Sentence-BERT: Sentence Embeddings using Siamese
BERT-Networks", EMNLP 2019; all-MiniLM-L6-v2 is of that family) used as a conversational
recommender, the "zero-shot MiniLM similarity" row of the conversational tables. Checked against
a hand computation in ``tests/test_conversation.py``.
NOTE: utterances are encoded one by one (each once, cached) and averaged with equal weights; with
normalised vectors the score is the mean cosine similarity of the item to the latest utterances.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from recframe.backbones.contract import catalogue_scores
from recframe.conversation.context import utterance_vectors
from recframe.data.datamodule import DataSpec
from recframe.experiments.config import schema_of, validate_section
from recframe.text.items import FrozenText, text_features


class TextMatch(nn.Module):
    """Frozen utterance vectors -> mean of the latest ``window`` -> ψ ``[B, 1, H]``; W = frozen item text.

    Args:
        spec: a conversational dataset.
        text: settings of :func:`recframe.text.items.text_features` for the items (model, template, ...);
            the utterances use the same model, pooling and normalisation.
        window: how many of the latest context utterances ψ averages.
        utterance_length: tokens kept per utterance.
    """

    sequential: ClassVar[bool] = False

    def __init__(
        self, spec: DataSpec, *, text: dict[str, Any] | None = None, window: int = 5, utterance_length: int = 64
    ) -> None:
        super().__init__()
        if window < 1:
            raise ValueError(f"textmatch window must be >= 1, got {window}")
        settings = validate_section(schema_of(text_features, ("spec",)), text or {}, "text")
        self.items = FrozenText(spec, settings)
        said = utterance_vectors(spec, settings, window=window, max_length=utterance_length)
        self.register_buffer("utterances", said.table, persistent=False)
        self.register_buffer("index", said.index, persistent=False)
        self.items.report.append(said.report)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        ids = self.index[batch["user"]]  # [B, L]
        x = self.utterances[ids]  # [B, L, H]
        count = (ids > 0).sum(1, keepdim=True).clamp(min=1)
        return (x.sum(1) / count)[:, None]  # [B, 1, H]

    def item_embeddings(self) -> Tensor:
        return self.items.weight

    def query(self, batch: dict[str, Tensor]) -> Tensor:
        return self(batch)[:, 0]

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        with torch.no_grad():
            return catalogue_scores(self.query(batch), self.item_embeddings())
