"""The seeker's sentiment towards each mentioned item — liked, disliked or unknown — from what was said.

ReDial's questionnaires label every mentioned movie with the seeker's answer ("liked": 1 liked,
0 disliked, 2 did not say). A classifier reads two texts per mention, frozen-encoded: the utterance
that first mentions the item, and the next utterance of the other speaker (when the recommender
names a movie, the seeker's reply carries the verdict: "I hated that one"). Multinomial logistic
regression over the two vectors and a seeker-mentioned flag, trained on the training dialogues'
labels (with class weights, since "liked" is 80 % of ReDial's labels). :func:`evaluate_sentiment`
reports accuracy and macro-F1 on test dialogues beside the majority class; the ``dialogue``
backbone uses the predictions to let liked movies pull ψ and disliked ones push it away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from recframe.conversation.dialogue import DISLIKED, LIKED, SEEKER, UNKNOWN, Dialogue, line

CLASSES = (LIKED, DISLIKED, UNKNOWN)


@dataclass(frozen=True)
class Mention:
    """The first mention of an item in a dialogue: its utterance, the other speaker's next one, who named it."""

    dialogue: str
    item: str
    utterance: str
    reply: str
    by_seeker: bool


def first_mentions(dialogue: Dialogue, titles: dict[str, str]) -> dict[str, Mention]:
    """Each mentioned item's first :class:`Mention`, texts as model input lines (``Seeker: ...``)."""
    out: dict[str, Mention] = {}
    utterances = dialogue.utterances
    for index, u in enumerate(utterances):
        for item in u.items:
            if item in out or item not in titles:
                continue
            reply = next((v for v in utterances[index + 1 :] if v.speaker != u.speaker), None)
            out[item] = Mention(
                dialogue.id, item, line(u, titles), line(reply, titles) if reply else "", u.speaker == SEEKER
            )
    return out


def labelled_mentions(dialogues: list[Dialogue], titles: dict[str, str]) -> tuple[list[Mention], np.ndarray]:
    """Every labelled first mention and its class index (``CLASSES`` order)."""
    mentions, labels = [], []
    for d in dialogues:
        for item, m in first_mentions(d, titles).items():
            if item in d.sentiment:
                mentions.append(m)
                labels.append(CLASSES.index(d.sentiment[item]))
    return mentions, np.asarray(labels, dtype=np.int64)


class SentimentModel(nn.Module):
    """Logistic regression over ``[vector(utterance), vector(reply), by_seeker]`` -> 3 logits.

    Args:
        encode: text -> frozen vectors (e.g. :func:`recframe.text.items.frozen_vectors` with MiniLM).
    """

    def __init__(self, encode: Any) -> None:
        super().__init__()
        self.encode = encode
        self.linear: nn.Linear | None = None

    def features(self, mentions: list[Mention]) -> torch.Tensor:
        texts = [m.utterance for m in mentions] + [m.reply for m in mentions]
        vectors = torch.as_tensor(self.encode(texts))  # [2N, H]
        n = len(mentions)
        flag = torch.tensor([[float(m.by_seeker)] for m in mentions])
        return torch.cat([vectors[:n], vectors[n:], flag], 1)  # [N, 2H + 1]

    def fit(self, mentions: list[Mention], labels: np.ndarray, *, steps: int = 300, weight_decay: float = 1e-3):
        """Full-batch L-BFGS on class-weighted cross-entropy; deterministic."""
        if not mentions:
            raise ValueError("no labelled mentions to train the sentiment classifier on")
        x, y = self.features(mentions), torch.as_tensor(labels)
        counts = torch.bincount(y, minlength=len(CLASSES)).float()
        weight = torch.where(counts > 0, counts.sum() / (len(CLASSES) * counts.clamp(min=1)), 0.0)
        torch.manual_seed(0)
        self.linear = nn.Linear(x.shape[1], len(CLASSES))
        optimizer = torch.optim.LBFGS(self.linear.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(self.linear(x), y, weight=weight)
            loss = loss + weight_decay * self.linear.weight.pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
        return self

    @torch.no_grad()
    def predict(self, mentions: list[Mention]) -> np.ndarray:
        """Class index per mention (``CLASSES`` order)."""
        if self.linear is None:
            raise RuntimeError("SentimentModel.predict before fit")
        if not mentions:
            return np.zeros(0, dtype=np.int64)
        return self.linear(self.features(mentions)).argmax(1).numpy()


def scores(true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1 over the three classes, and each class's F1."""
    out = {"accuracy": float((true == predicted).mean())}
    f1s = []
    for k, name in enumerate(CLASSES):
        tp = float(((predicted == k) & (true == k)).sum())
        precision = tp / max(float((predicted == k).sum()), 1.0)
        recall = tp / max(float((true == k).sum()), 1.0)
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        out[f"f1/{name}"] = f1
        f1s.append(f1)
    out["macro_f1"] = float(np.mean(f1s))
    return out


def evaluate_sentiment(
    train: list[Dialogue], test: list[Dialogue], titles: dict[str, str], encode: Any
) -> dict[str, dict[str, float]]:
    """Train on ``train``'s labels, score ``test``'s: ``{"classifier": ..., "majority": ..., "counts": ...}``."""
    train_mentions, train_labels = labelled_mentions(train, titles)
    test_mentions, test_labels = labelled_mentions(test, titles)
    if not len(test_labels):
        raise ValueError("the test dialogues carry no sentiment labels")
    model = SentimentModel(encode).fit(train_mentions, train_labels)
    majority = np.full_like(test_labels, np.bincount(train_labels, minlength=len(CLASSES)).argmax())
    counts = {name: int((test_labels == k).sum()) for k, name in enumerate(CLASSES)}
    return {
        "classifier": scores(test_labels, model.predict(test_mentions)),
        "majority": scores(test_labels, majority),
        "test_counts": counts,
        "train_mentions": {"n": len(train_labels)},
    }


def sentiment_report(experiment: str, overrides: list[str] = (), model: str = "minilm") -> dict[str, Any]:
    """:func:`evaluate_sentiment` on the dataset of a conversational ``experiment`` (train -> test dialogues)."""
    from recframe.data import CONVERSATIONAL, DATASETS
    from recframe.experiments.config import ConfigError, load_config
    from recframe.text.items import frozen_vectors

    cfg = load_config(experiment, overrides)
    kwargs = dict(cfg["dataset"])
    name = kwargs.pop("name")
    if name not in CONVERSATIONAL:
        raise ConfigError(
            f"sentiment needs a conversational dataset ({list(CONVERSATIONAL)}); {experiment} uses {name!r}"
        )
    data = DATASETS.get(name)(**kwargs)
    titles = data.catalogue["title"].astype(str).to_dict()

    def encode(texts: list[str]) -> np.ndarray:
        return frozen_vectors(texts, key=None, model=model, max_length=64)[0]

    report = evaluate_sentiment(data.dialogues["train"], data.dialogues["test"], titles, encode)
    return {"experiment": experiment, "dataset": data.name, "model": model, **report}
