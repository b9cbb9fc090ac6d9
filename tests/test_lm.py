"""The lm backbone: the history rendered as text through a causal language model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recframe.backbones import BACKBONES
from recframe.data.datamodule import DataSpec

I, T, D = 9, 4, 8
TITLES = [
    None,
    "alien space horror film",
    "love",
    "comedy film",
    "space",
    "horror comedy love film",
    "item",
    "1 2 3",
    None,
]


@pytest.fixture
def spec() -> DataSpec:
    return DataSpec(
        n_users=5, n_items=I, max_len=T, item_popularity=np.ones(I), item_info=pd.DataFrame({"title": TITLES})
    )


def lm(spec, tokenizer, **kwargs):
    settings = {"dim": D, "lm_dim": 8, "layers": 2, "heads": 2, "item_tokens": 3, "dropout": 0.0} | kwargs
    return BACKBONES.get("lm")(spec, tokenizer=str(tokenizer), **settings).eval()


def test_queries_equal_the_lm_on_the_unpadded_text(spec, tiny_tokenizer):
    """Chunk padding is invisible: ψ_t = the LM's state at item t's separator in the compact token sequence."""
    model = lm(spec, tiny_tokenizer)
    history = torch.tensor([[1, 2, 5, 0], [3, 7, 0, 0]])
    with torch.no_grad():
        queries = model({"history": history})
    sep = model.tokenizer.sep_token_id
    for row in range(2):
        compact, ends = [], []
        for item in history[row][history[row] != 0].tolist():
            ids = model.tokenizer(TITLES[item], add_special_tokens=False)["input_ids"][:3]
            compact += [*ids, sep]
            ends.append(len(compact) - 1)
        with torch.no_grad():
            hidden = model.lm(input_ids=torch.tensor([compact])).last_hidden_state[0]
        expected = model.project(hidden[ends])
        assert torch.allclose(queries[row, : len(ends)], expected, atol=1e-5), row


def test_long_titles_are_truncated_to_item_tokens(spec, tiny_tokenizer):
    model = lm(spec, tiny_tokenizer, item_tokens=2)
    assert model.item_tokens.shape == (I, 3)
    assert model.item_real[1].tolist() == [True, True, True]  # "alien space" + separator
    assert model.item_real[2].tolist() == [True, False, True]  # "love" + padding + separator
    assert model.item_real[8].tolist() == [False, False, True]  # no title: the separator alone


def test_pretrained_causal_lm_loads_from_a_local_folder(spec, tmp_path, tiny_tokenizer):
    from transformers import AutoTokenizer, GPT2Config, GPT2Model

    saved = GPT2Model(
        GPT2Config(
            vocab_size=len(AutoTokenizer.from_pretrained(tiny_tokenizer)), n_positions=32, n_embd=8, n_layer=1, n_head=2
        )
    )
    saved.save_pretrained(tmp_path / "gpt2")
    AutoTokenizer.from_pretrained(tiny_tokenizer).save_pretrained(tmp_path / "gpt2")
    model = BACKBONES.get("lm")(spec, dim=D, model=str(tmp_path / "gpt2"), item_tokens=3)
    assert torch.equal(model.lm.wpe.weight, saved.wpe.weight)
    assert model.score({"history": torch.tensor([[1, 2, 0, 0]])}).shape == (1, I)
    with pytest.raises(ValueError, match="positions"):
        BACKBONES.get("lm")(spec, dim=D, model=str(tmp_path / "gpt2"), item_tokens=10)


def test_bidirectional_encoders_are_refused(spec, tiny_bert):
    with pytest.raises(ValueError, match="causal"):
        BACKBONES.get("lm")(spec, dim=D, model=str(tiny_bert))
