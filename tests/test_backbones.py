"""Contract tests over every registered backbone, plus backbone-specific checks."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from recframe.backbones import BACKBONES, Backbone
from recframe.data.datamodule import DataSpec
from recframe.data.histories import Histories
from recframe.losses import softmax_ce

B, T, D, I, U = 3, 5, 8, 11, 7
SMALL = {
    "mf": {"dim": D},
    "rnn": {"dim": D},
    "sasrec": {"dim": D, "heads": 2},
    "gpt2": {"dim": D, "heads": 2},
    "pop": {},
    "zeroshot": {},  # its text model (a tiny local BERT) is filled in by _text_models below
    "lm": {},  # a GPT-2 built from config over a tiny tokenizer, filled in by _text_models below
    "preference": {},  # like zeroshot
    "repeat": {},
    "bm25": {"template": "{title}"},
    "cooccurrence": {},
    "textmatch": {},  # like zeroshot
    "dialogue": {"dim": D},  # its utterance encoder is the tiny BERT too
}
# pop: one column; zeroshot: the text model's width; preference: that width plus its bias column
# repeat and cooccurrence: one column per item; bm25: one per term of "film 1" ... "film 10"
DIM = {name: D for name in SMALL} | {
    "pop": 1,
    "zeroshot": 6,
    "preference": 7,
    "repeat": I,
    "bm25": 11,
    "cooccurrence": I,
    "textmatch": 6,
}
PARAMETER_FREE = ("pop", "zeroshot", "repeat", "bm25", "cooccurrence", "textmatch")
# Rating classifiers read (user, item) pairs whole and rank nothing: tests/test_rating_text.py covers them.
CLASSIFIERS = ("majority", "text_rating")
RANKERS = [n for n in BACKBONES.names() if n not in CLASSIFIERS]


@pytest.fixture(autouse=True)
def _text_models(tiny_bert, tiny_tokenizer, monkeypatch):
    text = {"text": {"model": str(tiny_bert), "progress": False, "cache": False}}
    monkeypatch.setitem(SMALL, "zeroshot", text)
    monkeypatch.setitem(SMALL, "preference", text)
    monkeypatch.setitem(SMALL, "textmatch", text)
    monkeypatch.setitem(SMALL, "dialogue", {"dim": D, **text})
    lm = {"dim": D, "lm_dim": 8, "layers": 1, "heads": 2, "item_tokens": 3, "tokenizer": str(tiny_tokenizer)}
    monkeypatch.setitem(SMALL, "lm", lm)


@pytest.fixture
def spec() -> DataSpec:
    titles = pd.DataFrame({"title": [None] + [f"film {k}" for k in range(1, I)]})
    # what the conversational backbones read: each user's dialogue, and two "training events"
    dialogue = pd.DataFrame({"utterances": [None] + [[f"Seeker: film {k}", "Recommender: love"] for k in range(1, U)]})
    context = Histories.from_rows(np.array([1, 1, 2]), np.array([3, 4, 5]), U)
    targets = np.array([0, 2, 6, 0, 0, 0, 0])
    return DataSpec(
        n_users=U,
        n_items=I,
        max_len=T,
        item_popularity=np.ones(I),
        item_info=titles,
        user_info=dialogue,
        train_items=context,
        train_targets=targets,
    )


@pytest.fixture
def batch() -> dict[str, torch.Tensor]:
    return {
        "user": torch.tensor([1, 2, 6]),
        "history": torch.tensor([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [6, 7, 8, 9, 10]]),
        "labels": torch.tensor([[2, 3, 4, 0, 0], [5, 6, 0, 0, 0], [7, 8, 9, 10, 1]]),
    }


def build(name: str, spec: DataSpec) -> torch.nn.Module:
    return BACKBONES.get(name)(spec, **SMALL[name])


def test_every_backbone_has_small_settings():
    assert set(SMALL) == set(RANKERS) and set(RANKERS) | set(CLASSIFIERS) == set(BACKBONES.names())


# The paper each backbone implements or follows, as (first author, year) its module docstring must cite.
CITATIONS = {
    "bm25": ("Robertson", 2009),
    "cooccurrence": ("Sarwar", 2001),
    "dialogue": ("Wang", 2022),
    "gpt2": ("Radford", 2019),
    "lm": ("Radford", 2019),
    "majority": ("Hug", 2020),
    "mf": ("Rendle", 2009),
    "pop": ("Zhou", 2020),
    "preference": ("Bao", 2023),
    "repeat": ("Kostric", 2026),
    "rnn": ("Hidasi", 2016),
    "sasrec": ("Kang", 2018),
    "text_rating": ("Radford", 2019),
    "textmatch": ("Reimers", 2019),
    "zeroshot": ("Reimers", 2019),
}


@pytest.mark.parametrize("name", BACKBONES.names())
def test_registry_key_is_file_name_and_docstring_cites_paper(name):
    cls = BACKBONES.get(name)
    module = inspect.getmodule(cls)
    assert Path(module.__file__).stem == name
    author, year = CITATIONS[name]  # a new backbone names its paper here
    doc = " ".join((module.__doc__ or "").split())
    assert re.search(rf"\b{author}\b.{{0,150}}?\b{year}\b", doc), f"{name} does not cite {author} {year}"
    assert isinstance(cls.sequential, bool)


@pytest.mark.parametrize("name", RANKERS)
def test_shapes_and_pad_column(name, spec, batch):
    model = build(name, spec).eval()
    assert isinstance(model, Backbone)
    queries = model(batch)
    assert queries.shape[0] == B and queries.shape[2] == DIM[name]
    assert queries.shape[1] == (T if model.sequential else 1)
    assert model.item_embeddings().shape == (I, DIM[name])
    scores = model.score(batch)
    assert scores.shape == (B, I)
    assert torch.isneginf(scores[:, 0]).all() and torch.isfinite(scores[:, 1:]).all()


@pytest.mark.parametrize("name", RANKERS)
def test_trailing_padding_leaves_scores_unchanged(name, spec, batch):
    model = build(name, spec).eval()
    padded = dict(batch, history=torch.cat([batch["history"][:, :3], torch.zeros(B, 2, dtype=torch.long)], 1))
    short = dict(batch, history=batch["history"][:, :3])
    with torch.no_grad():
        assert torch.allclose(model.score(padded), model.score(short), atol=1e-5)


@pytest.mark.parametrize("name", [n for n in RANKERS if BACKBONES.get(n).sequential])
def test_causality(name, spec, batch):
    """Later items never change earlier outputs (the number of items may: see recency positions)."""
    model = build(name, spec).eval()
    later = (torch.arange(T) >= 3)[None, :] & (batch["history"] != 0)
    changed = torch.where(later, batch["history"] % (I - 1) + 1, batch["history"])
    assert (changed[later] != batch["history"][later]).all()
    with torch.no_grad():
        before, after = model(batch), model(dict(batch, history=changed))
    assert torch.allclose(before[:, :3], after[:, :3], atol=1e-5)
    assert not torch.allclose(before[2, 3:], after[2, 3:], atol=1e-5)


def test_recency_positions_match_left_padding():
    from recframe.backbones.contract import recency_positions

    history = torch.tensor([[4, 5, 6, 0], [7, 0, 0, 0]])
    assert recency_positions(history).tolist() == [[2, 1, 0, 0], [0, 0, 0, 0]]


@pytest.mark.parametrize("name", [n for n in RANKERS if n not in PARAMETER_FREE])
def test_every_parameter_gets_a_gradient(name, spec, batch):
    model = build(name, spec).train()
    queries = model(batch)
    labels = batch["labels"][:, : queries.shape[1]] if model.sequential else batch["labels"][:, :1]
    keep = labels != 0
    softmax_ce(queries[keep], model.item_embeddings(), labels[keep]).backward()
    missing = [
        n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)
    ]
    # The GPT-2 token table (vocab_size=1) is never used: items enter through inputs_embeds.
    assert [n for n in missing if not n.endswith("wte.weight")] == []


@pytest.mark.parametrize("name", RANKERS)
def test_eval_is_deterministic(name, spec, batch):
    """Eval scores repeat, and a training-mode forward pass in between (dropout, any running state) leaves
    them unchanged."""
    model = build(name, spec).eval()
    with torch.no_grad():
        before = model.score(batch)
        model.train()
        model(batch)
        model.score(batch)
        model.eval()
        after = model.score(batch)
        assert torch.equal(after, before) and torch.equal(model.score(batch), before)


def test_sasrec_heads_must_divide_dim(spec):
    with pytest.raises(ValueError, match="divisible"):
        BACKBONES.get("sasrec")(spec, dim=8, heads=3)


def test_rnn_lstm_cell_and_unknown_cell(spec, batch):
    assert BACKBONES.get("rnn")(spec, dim=D, cell="lstm")(batch).shape == (B, T, D)
    with pytest.raises(ValueError, match="known"):
        BACKBONES.get("rnn")(spec, dim=D, cell="transformer")


def test_gpt2_pretrained_loads_local_weights(tmp_path, spec, batch):
    from transformers import GPT2Model

    source = BACKBONES.get("gpt2")(spec, dim=D, heads=2)
    source.encoder.save_pretrained(tmp_path / "gpt2-tiny")
    loaded = BACKBONES.get("gpt2")(spec, pretrained=str(tmp_path / "gpt2-tiny"))
    for (name, a), (_, b) in zip(source.encoder.state_dict().items(), loaded.encoder.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert isinstance(loaded.encoder, GPT2Model) and loaded.items.embedding_dim == D


def test_gpt2_pretrained_missing_path_is_clear(spec):
    with pytest.raises(OSError, match="cannot load GPT-2 weights"):
        BACKBONES.get("gpt2")(spec, pretrained="/nonexistent/gpt2-folder")


def test_gpt2_pretrained_too_few_positions(tmp_path, spec):
    BACKBONES.get("gpt2")(spec, dim=D, heads=2).encoder.save_pretrained(tmp_path / "m")
    longer = DataSpec(n_users=U, n_items=I, max_len=T + 10, item_popularity=np.ones(I))
    with pytest.raises(ValueError, match="positions"):
        BACKBONES.get("gpt2")(longer, pretrained=str(tmp_path / "m"))


def test_pop_scores_are_training_counts_and_need_no_training(spec, batch):
    counts = np.arange(I, dtype=np.float64)
    model = BACKBONES.get("pop")(DataSpec(n_users=U, n_items=I, max_len=T, item_popularity=counts))
    assert list(model.parameters()) == []
    assert torch.equal(model.score(batch)[0, 1:], torch.arange(1, I, dtype=torch.float32))


def test_zeroshot_is_a_causal_moving_average_of_frozen_text_vectors(spec, batch):
    model = build("zeroshot", spec).eval()
    assert list(model.parameters()) == []
    text = model.item_embeddings()  # [I, 6] frozen vectors, PAD row zero
    assert torch.equal(text[0], torch.zeros(6))
    windowed = BACKBONES.get("zeroshot")(spec, window=2, **SMALL["zeroshot"])
    queries, last_two = model(batch), windowed(batch)
    history = batch["history"][2]  # [6, 7, 8, 9, 10]
    assert torch.allclose(queries[2, 4], text[history].mean(0), atol=1e-6)
    assert torch.allclose(last_two[2, 4], text[history[3:]].mean(0), atol=1e-6)
    assert torch.allclose(queries[1, 1], text[batch["history"][1, :2]].mean(0), atol=1e-6)
    expected = text[batch["history"][0, :3]].mean(0) @ text.T
    assert torch.allclose(model.score(batch)[0, 1:], expected[1:], atol=1e-6)
