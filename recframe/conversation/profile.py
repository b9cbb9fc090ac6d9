"""A trained backbone as a live conversation uses it: the dialogue so far -> ψ, scores ψ · Wᵀ, and their parts.

Two kinds of checkpoint are understood:

- the ``dialogue`` profile model: ψ reads the latest utterances (encoded by the same frozen encoder it
  was trained with) and the items mentioned so far; :class:`DialogueProfile` splits each score into
  the share of every utterance and every mentioned item, which is what explanations cite;
- any sequential backbone (``sasrec``, ``gpt2``, ``rnn``, ``lm``): ψ reads the items the user named or
  liked as a history; :class:`HistoryProfile` cites liked items by the similarity of their vectors.

Both compute W once (eval mode) and keep it, so a turn costs one encoder call and one ``[D] x [D, I]``
product.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from recframe.data.interactions import PAD


@dataclass
class Context:
    """What a profile reads: rendered utterances (``Seeker: ...``), mentioned items and their sentiment class."""

    lines: list[str] = field(default_factory=list)
    items: list[int] = field(default_factory=list)  # dense ids, oldest first
    classes: list[int] = field(default_factory=list)  # recframe.conversation.sentiment.CLASSES index per item


@dataclass
class Scored:
    """Scores ``[I]`` (PAD = -inf) and, per item, how much each utterance and each history item added."""

    scores: Tensor
    utterance_shares: Tensor | None  # [L, I]: utterance j's share of item i's score (lines[-L:])
    item_shares: Tensor  # [T, I]: history item h's share (similarity for a history model)


class DialogueProfile:
    """The ``dialogue`` backbone over a live dialogue, scores split by :meth:`~.backbones.dialogue.Dialogue.parts`."""

    reads_text = True

    def __init__(self, backbone: nn.Module) -> None:
        from recframe.text.encoder import TextEncoder

        self.backbone = backbone.eval()
        settings = backbone.utterance_encoder
        self.encoder = TextEncoder(
            settings["model"],
            pooling=settings["pooling"],
            max_length=settings["max_length"],
            normalize=settings["normalize"],
        ).eval()
        self.window = len(backbone.recency)
        self.weights_by_sentiment = backbone.sentiment_weight is not None
        self._vectors: dict[str, Tensor] = {}
        with torch.no_grad():
            self.items = backbone.item_embeddings().detach()  # [I, D]

    def _encode(self, lines: list[str]) -> Tensor:
        new = [t for t in dict.fromkeys(lines) if t not in self._vectors]
        if new:
            with torch.no_grad():
                for text, vector in zip(new, self.encoder.encode(new, progress=False), strict=True):
                    self._vectors[text] = vector
        if not lines:
            return torch.zeros(0, self.backbone.project.in_features)
        return torch.stack([self._vectors[t] for t in lines])  # [L, H]

    def score(self, context: Context) -> Scored:
        lines = context.lines[-self.window :]
        with torch.no_grad():
            parts = self.backbone.parts(
                self._encode(lines),
                torch.as_tensor(context.items, dtype=torch.long),
                torch.as_tensor(context.classes, dtype=torch.long) if self.weights_by_sentiment else None,
            )
            utterance_shares = parts["utterances"] @ self.items.T  # [L, I]
            item_shares = parts["items"] @ self.items.T  # [T, I]
            scores = parts["bias"] @ self.items.T + utterance_shares.sum(0) + item_shares.sum(0)
        scores[PAD] = float("-inf")
        return Scored(scores, utterance_shares, item_shares)


class HistoryProfile:
    """A sequential backbone over the items named or liked so far (disliked ones are left out)."""

    reads_text = False

    def __init__(self, backbone: nn.Module) -> None:
        self.backbone = backbone.eval()
        with torch.no_grad():
            self.items = backbone.item_embeddings().detach()  # [I, D]
        self.unit = nn.functional.normalize(self.items, dim=1)

    def score(self, context: Context) -> Scored:
        history = torch.as_tensor([context.items or [PAD]], dtype=torch.long)  # [1, T]
        with torch.no_grad():
            psi = self.backbone.query({"history": history, "user": torch.zeros(1, dtype=torch.long)})[0]
            scores = psi @ self.items.T
            shares = self.unit[history[0]] @ self.unit.T if context.items else torch.zeros(0, len(self.items))
        scores[PAD] = float("-inf")
        return Scored(scores, None, shares)


def profile_of(backbone: nn.Module, name: str) -> DialogueProfile | HistoryProfile:
    """The live profile of a trained backbone; backbones that read neither text nor a history raise."""
    if hasattr(backbone, "parts"):
        return DialogueProfile(backbone)
    if getattr(backbone, "sequential", False):
        return HistoryProfile(backbone)
    raise ValueError(
        f"backbone {name!r} scores known users or events only; a conversation needs one that reads the dialogue "
        "(dialogue) or an item history (sasrec, gpt2, rnn, lm)"
    )
