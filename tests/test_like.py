"""TALLRec's like protocol: example construction, split, sampling, metrics, the preference backbone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recframe.backbones import BACKBONES
from recframe.data.datamodule import DataSpec, RecDataModule
from recframe.data.interactions import Interactions, encode
from recframe.data.like import like_examples, split_like
from recframe.metrics.like import LikeMetrics

# user "b" appears first in the file, so its examples come first (TALLRec keeps first-appearance order)
ROWS = [  # user, item, rating, time
    ("b", 10, 5, 3), ("a", 1, 4, 9), ("b", 11, 2, 1), ("a", 2, 1, 2), ("b", 12, 4, 2), ("a", 3, 5, 5),
    ("a", 4, 3, 7), ("b", 13, 5, 4), ("a", 5, 4, 8), ("b", 14, 1, 4),
]  # fmt: skip


def hand_log() -> Interactions:
    user, item, rating, time = (np.array(c) for c in zip(*ROWS, strict=True))
    return Interactions(user, item, rating.astype(np.float32), time.astype(np.int64), name="hand")


def test_examples_follow_tallrecs_construction():
    log = hand_log()
    enc = encode(log)
    ex = like_examples(log, enc.users, enc.items, window=2, threshold=3)
    raw = enc.items.raw
    # user b in time order (ties keep file order): 11(t1), 12(t2), 10(t3), 13(t4), 14(t4)
    # user a in time order: 2(t2), 3(t5), 4(t7), 5(t8), 1(t9)
    assert [raw[t - 1] for t in ex.target] == [10, 13, 14, 4, 5, 1]
    assert [list(raw[h - 1]) for h in ex.history[:3]] == [[11, 12], [12, 10], [10, 13]]
    assert ex.history_likes[:3].tolist() == [[0, 1], [1, 1], [1, 1]]
    assert ex.label.tolist() == [1, 1, 0, 0, 1, 1]  # rating > 3
    assert enc.users.raw[ex.user[0] - 1] == "b" and enc.users.raw[ex.user[-1] - 1] == "a"


def test_split_keeps_the_last_examples_in_order_and_draws_training_samples():
    log = hand_log()
    enc = encode(log)
    ex = like_examples(log, enc.users, enc.items, window=1, threshold=3)  # 8 examples
    parts = split_like(ex, keep_last=5, shares=(0.6, 0.2), train_samples=None, seed=0)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [3, 1, 1]
    assert np.array_equal(parts["test"].target, ex.target[-1:]) and np.array_equal(
        parts["train"].target, ex.target[3:6]
    )
    drawn = split_like(ex, keep_last=None, shares=(0.75, 0.125), train_samples=2, seed=1)["train"]
    again = split_like(ex, keep_last=None, shares=(0.75, 0.125), train_samples=2, seed=1)["train"]
    assert len(drawn) == 2 and np.array_equal(drawn.target, again.target)
    assert set(drawn.target.tolist()) <= set(ex.target[:6].tolist())
    with pytest.raises(ValueError, match=r"train_samples must be in \[1, 6\], got 7"):
        split_like(ex, keep_last=None, shares=(0.75, 0.125), train_samples=7, seed=0)


def test_like_datamodule_batches_and_bad_settings():
    log = hand_log()
    dm = RecDataModule(log, sequential=True, feedback="like", like_window=2, like_keep_last=None,
                       like_shares=[0.5, 0.25], max_len=2)  # fmt: skip
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"user", "history", "history_likes", "target", "like"} and batch["history"].shape[1] == 2
    assert "like protocol: examples {'train': 3, 'val': 1, 'test': 2}" in dm.summary()
    with pytest.raises(ValueError, match=r"exceeds data\.max_len"):
        RecDataModule(log, sequential=True, feedback="like", like_window=5, max_len=2)
    with pytest.raises(ValueError, match="like_shares"):
        RecDataModule(log, sequential=True, feedback="like", like_window=2, max_len=2, like_shares=[0.9, 0.2])


def test_like_metrics_against_hand_values():
    metrics = LikeMetrics()
    metrics.update(torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1.0, 0.0, 0.0]))
    metrics.update(torch.tensor([0.1]), torch.tensor([1.0]))
    out = metrics.compute()
    # positives score 2.0 and 0.1; negatives -1.0 and 0.5: 3 of 4 pairs ordered right
    assert out["auc"] == pytest.approx(0.75) and out["accuracy"] == pytest.approx(0.75)
    p = torch.tensor([2.0, -1.0, 0.5, 0.1]).sigmoid()
    y = torch.tensor([1.0, 0.0, 0.0, 1.0])
    assert out["logloss"] == pytest.approx(float(-(y * p.log() + (1 - y) * (1 - p).log()).mean()), abs=1e-6)
    with pytest.raises(ValueError, match="NaN"):
        metrics.update(torch.tensor([float("nan")]), torch.tensor([1.0]))


def test_preference_logit_is_the_written_out_formula(tiny_bert):
    titles = pd.DataFrame({"title": [None, "alien space", "love comedy", "horror film", "space film", "love"]})
    spec = DataSpec(n_users=3, n_items=6, max_len=4, item_popularity=np.ones(6), item_info=titles)
    model = BACKBONES.get("preference")(spec, text={"model": str(tiny_bert), "progress": False, "cache": False})
    with torch.no_grad():
        model.weights.copy_(torch.tensor([0.7, -0.4, 1.5, 0.2]))
    batch = {"history": torch.tensor([[1, 2, 3, 0]]), "history_likes": torch.tensor([[1.0, 0.0, 1.0, 0.0]])}
    text = model.items.weight
    liked, disliked = text[[1, 3]].mean(0), text[2]
    expected = 0.7 * liked @ text[4] - 0.4 * disliked @ text[4] + 1.5 * (2 / 3) + 0.2
    got = (model.query(batch) * model.item_embeddings()[4]).sum(-1)
    assert torch.allclose(got, expected.reshape(1), atol=1e-6)
