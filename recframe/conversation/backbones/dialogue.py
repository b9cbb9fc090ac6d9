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

import numpy as np
import torch
from torch import Tensor, nn

from recframe.backbones.contract import catalogue_scores
from recframe.conversation.context import event_column, utterance_vectors
from recframe.data.datamodule import DataSpec
from recframe.data.interactions import PAD
from recframe.experiments.config import schema_of, validate_section
from recframe.text.items import item_table, text_features

DEFAULT_TEXT = {"model": "minilm"}
SENTIMENT_INIT = (1.0, -1.0, 0.5)  # liked, disliked, unknown (recframe.conversation.sentiment.CLASSES)


def predicted_sentiment(spec: DataSpec, encode) -> tuple[np.ndarray, str]:
    """The sentiment class of every context mention, aligned with ``spec.train_items.items``.

    Fits a :class:`~recframe.conversation.sentiment.SentimentModel` on the labelled mentions of the
    training events (each (dialogue, item) once, with its latest context), then predicts them all.
    """
    from recframe.conversation.sentiment import CLASSES, Mention, SentimentModel

    if spec.train_items is None:
        raise ValueError("dialogue sentiment needs each event's context items (a conversational dataset)")
    mentions = event_column(spec, "mentions")
    labels = event_column(spec, "mention_labels")
    dialogues = event_column(spec, "dialogue")
    context = spec.train_items
    flat, train = [], {}
    for event in range(spec.n_users):
        said = mentions[event] if isinstance(mentions[event], list) else []
        items = context.items[context.indptr[event] : context.indptr[event + 1]]
        if len(said) != len(items):
            raise ValueError(f"event {event}: {len(said)} mention texts for {len(items)} context items")
        for k, (utterance, reply, by_seeker) in enumerate(said):
            m = Mention(str(dialogues[event]), str(items[k]), utterance, reply, bool(by_seeker))
            flat.append(m)
            if isinstance(labels[event], list):
                train[(m.dialogue, m.item)] = (m, CLASSES.index(labels[event][k]))
    if not train:
        raise ValueError("dialogue sentiment found no labelled training mentions")
    examples = list(train.values())
    model = SentimentModel(encode).fit([m for m, _ in examples], np.array([k for _, k in examples]))
    classes = model.predict(flat)
    shares = np.bincount(classes, minlength=len(CLASSES)) / max(len(classes), 1)
    line = (
        f"sentiment: fitted on {len(examples):,} labelled training mentions; context mentions predicted "
        + ", ".join(f"{name} {share:.0%}" for name, share in zip(CLASSES, shares, strict=True))
    )
    return classes.astype(np.int64), line


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
        sentiment: weight each mentioned item by the seeker's predicted sentiment towards it (a learned
            weight per class, starting at liked +1, disliked -1, unknown +0.5), predicted by the
            :class:`~recframe.conversation.sentiment.SentimentModel` fitted at construction on the
            training events' questionnaire labels (validation and test labels are never read).
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
        sentiment: bool = False,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if window < 1:
            raise ValueError(f"dialogue window must be >= 1, got {window}")
        settings = validate_section(schema_of(text_features, ("spec",)), text or DEFAULT_TEXT, "backbone.text")
        said = utterance_vectors(spec, settings, window=window, max_length=utterance_length)
        encoder = {k: settings[k] for k in ("model", "pooling", "normalize")}
        self.utterance_encoder = {**encoder, "max_length": utterance_length}  # what a live dialogue is encoded with
        self.register_buffer("utterances", said.table, persistent=False)
        self.register_buffer("index", said.index, persistent=False)
        self.items = item_table(spec, dim, items, init=lambda w: nn.init.normal_(w, std=0.02))
        self.recency = nn.Parameter(torch.zeros(said.index.shape[1]))  # softmax weights, latest utterance last
        self.project = nn.Linear(said.table.shape[1], dim)
        self.mention_weight = nn.Parameter(torch.ones(())) if mentions else None
        self.dropout = nn.Dropout(dropout)
        self.report = [said.report]
        self.sentiment_weight = None
        if sentiment:
            if not mentions:
                raise ValueError("dialogue sentiment weights the mentioned items: it needs mentions: true")
            classes, line = predicted_sentiment(spec, said.encode)
            self.register_buffer("context_indptr", torch.as_tensor(spec.train_items.indptr), persistent=False)
            self.register_buffer("context_sentiment", torch.as_tensor(classes), persistent=False)
            self.sentiment_weight = nn.Parameter(torch.tensor(SENTIMENT_INIT))
            self.report.append(line)

    def recency_weights(self, present: Tensor) -> Tensor:
        """Softmax weights ``[B, L]`` of right-padded utterance slots (``present`` marks the real ones)."""
        width = len(self.recency)
        if present.shape[1] > width:
            raise ValueError(f"the model reads the latest {width} utterances, got {present.shape[1]}")
        lengths = present.sum(1)  # [B]
        # weight position j by its distance from the latest utterance, so recency means the same in
        # short and long dialogues: row b's latest utterance reads recency[-1]
        shift = (width - lengths)[:, None]
        slot = (torch.arange(present.shape[1], device=present.device)[None, :] + shift).clamp(max=width - 1)
        logits = self.recency[slot].masked_fill(~present, float("-inf"))  # [B, L]
        return torch.nan_to_num(torch.softmax(logits, 1))  # a dialogue without utterances: zeros

    def _text(self, users: Tensor) -> Tensor:
        ids = self.index[users]  # [B, L], right-padded
        weights = self.recency_weights(ids > 0)
        pooled = (weights.unsqueeze(-1) * self.utterances[ids]).sum(1)  # [B, H]
        return self.project(self.dropout(pooled))  # [B, D]

    def parts(self, vectors: Tensor, history: Tensor, classes: Tensor | None = None) -> dict[str, Tensor]:
        """ψ of one live dialogue as a sum of its parts (eval mode): what explanations cite.

        Args:
            vectors: ``[L, H]`` frozen vectors of its latest utterances, oldest first.
            history: ``[T]`` items mentioned so far (dense ids, PAD-free).
            classes: ``[T]`` sentiment class per item (needed when the model weights by sentiment).

        Returns ``bias [D]``, ``utterances [L, D]`` (each utterance's share ``w_j A u_j``) and
        ``items [T, D]``; ψ = bias + utterances.sum(0) + items.sum(0), equal to ``forward``'s.
        """
        weights = self.recency_weights(torch.ones(1, len(vectors), dtype=torch.bool, device=vectors.device))[0]
        said = weights[:, None] * (vectors @ self.project.weight.T)  # [L, D]
        items = torch.zeros(len(history), said.shape[1], device=vectors.device)
        if self.mention_weight is not None and len(history):
            weight = torch.ones(len(history), device=vectors.device)
            if self.sentiment_weight is not None:
                if classes is None:
                    raise ValueError("this dialogue model weights mentions by sentiment: pass each item's class")
                weight = self.sentiment_weight[classes]
            items = self.mention_weight * self.items(history) * weight[:, None] / len(history)  # [T, D]
        return {"bias": self.project.bias, "utterances": said, "items": items}

    def _history_sentiment(self, users: Tensor, width: int) -> Tensor:
        """Predicted class of each ``history`` position ``[B, T]``: the batch holds the last ``T`` context items."""
        start, stop = self.context_indptr[users], self.context_indptr[users + 1]
        first = stop - torch.minimum(stop - start, torch.tensor(width, device=users.device))  # [B]
        position = first[:, None] + torch.arange(width, device=users.device)[None, :]  # [B, T]
        return self.context_sentiment[position.clamp(max=len(self.context_sentiment) - 1)]

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        psi = self._text(batch["user"])
        if self.mention_weight is not None:
            history = batch["history"]  # [B, T]
            real = (history != PAD).unsqueeze(-1).float()
            weight = real
            if self.sentiment_weight is not None:
                classes = self._history_sentiment(batch["user"], history.shape[1])
                weight = real * self.sentiment_weight[classes].unsqueeze(-1)  # [B, T, 1]
            mentioned = (self.items(history) * weight).sum(1) / real.sum(1).clamp(min=1)
            psi = psi + self.mention_weight * mentioned
        return psi[:, None]  # [B, 1, D]

    def item_embeddings(self) -> Tensor:
        return self.items.weight

    def query(self, batch: dict[str, Tensor]) -> Tensor:
        return self(batch)[:, 0]

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        return catalogue_scores(self.query(batch), self.item_embeddings())
