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


def test_lora_trains_adapters_only_and_starts_from_the_base_model(spec, tmp_path, tiny_tokenizer):
    pytest.importorskip("peft")
    from transformers import AutoTokenizer, GPT2Config, GPT2Model

    folder = tmp_path / "gpt2"
    vocab = len(AutoTokenizer.from_pretrained(tiny_tokenizer))
    GPT2Model(GPT2Config(vocab_size=vocab, n_positions=32, n_embd=8, n_layer=1, n_head=2)).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_tokenizer).save_pretrained(folder)
    torch.manual_seed(0)
    plain = BACKBONES.get("lm")(spec, dim=D, model=str(folder), item_tokens=3).eval()
    torch.manual_seed(0)
    adapted = BACKBONES.get("lm")(spec, dim=D, model=str(folder), item_tokens=3, lora={"r": 2}).eval()
    adapted.project.load_state_dict(plain.project.state_dict())  # LoRA's init drew from the generator first
    batch = {"history": torch.tensor([[1, 2, 5, 0], [3, 7, 0, 0]])}
    with torch.no_grad():
        assert torch.allclose(plain(batch), adapted(batch), atol=1e-6)  # LoRA's B starts at zero
    trainable = [n for n, p in adapted.lm.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    base = {n: p.detach().clone() for n, p in adapted.lm.named_parameters() if not p.requires_grad}
    optimiser = torch.optim.AdamW([p for p in adapted.parameters() if p.requires_grad], lr=0.1)
    adapted.train()
    adapted(batch).square().sum().backward()
    optimiser.step()
    assert all(torch.equal(p, base[n]) for n, p in adapted.lm.named_parameters() if not p.requires_grad)
    with torch.no_grad():
        assert not torch.allclose(plain.eval()(batch), adapted.eval()(batch), atol=1e-4)
