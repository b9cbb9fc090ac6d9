"""The text layer: templates, the text encoder and its cache, precomputed vectors, item fusion in every backbone."""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY_WORDS

from recframe.backbones import BACKBONES
from recframe.data.datamodule import DataSpec
from recframe.experiments.config import ConfigError
from recframe.text import cache as text_cache
from recframe.text import encoder as text_encoder
from recframe.text.encoder import TextEncoder
from recframe.text.items import ItemEncoder, item_reports, item_table
from recframe.text.templates import render, template_fields
from recframe.text.vectors import load_vectors

B, T, D, I, U = 3, 5, 8, 11, 7
# Every backbone with a learned item table takes the item encoder (pop and zeroshot learn no item vectors).
WITH_ITEMS = [n for n in BACKBONES.names() if "items" in inspect.signature(BACKBONES.get(n)).parameters]
SMALL = {
    "mf": {},
    "rnn": {},
    "sasrec": {"heads": 2},
    "gpt2": {"heads": 2},
    "lm": {"lm_dim": 8, "layers": 1, "item_tokens": 3},
    "dialogue": {},
}


def _item_info() -> pd.DataFrame:
    genres = [None] + [["horror", "space"], ["comedy"], [], ["love", "comedy"]] * 2 + [["horror"], ["space"]]
    titles = [None] + [f"film {k}" for k in range(1, I)]
    titles[3] = None  # item 3 has neither a title nor genres: the documented no-text fallback
    return pd.DataFrame({"title": titles, "genres": genres, "decade": [None] + ["1990s", "2000s"] * 5})


@pytest.fixture
def spec() -> DataSpec:
    return DataSpec(
        n_users=U,
        n_items=I,
        max_len=T,
        item_popularity=np.ones(I),
        item_info=_item_info(),
        item_ids=np.array([100 + k for k in range(1, I)]),
        user_info=pd.DataFrame({"utterances": [None] + [[f"Seeker: film {k}"] for k in range(1, U)]}),  # dialogue
    )


@pytest.fixture
def batch() -> dict[str, torch.Tensor]:
    return {
        "user": torch.tensor([1, 2, 6]),
        "history": torch.tensor([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [6, 7, 8, 9, 10]]),
        "labels": torch.tensor([[2, 3, 4, 0, 0], [5, 6, 0, 0, 0], [7, 8, 9, 10, 1]]),
    }


@pytest.fixture
def vectors_file(tmp_path: Path, spec: DataSpec) -> Path:
    """Image-like vectors of dimension 5 for every item, keyed by raw id, in shuffled order."""
    rng = np.random.default_rng(0)
    ids = rng.permutation(spec.item_ids)
    path = tmp_path / "vectors.npz"
    np.savez(path, ids=ids, vectors=rng.normal(size=(len(ids), 5)))
    return path


def test_every_learned_backbone_takes_the_item_encoder():
    assert WITH_ITEMS == ["dialogue", "gpt2", "lm", "mf", "rnn", "sasrec"]


def test_template_renders_lists_and_counts_items_without_text():
    texts, missing = render(_item_info(), "{title} ({genres})", I)
    assert texts[1] == "film 1 (horror, space)"
    assert texts[7] == "film 7 ()"  # empty genre list, title present: still text
    assert texts[3] == "" and missing[3] and missing.sum() == 1 and texts[0] == ""
    assert template_fields("{title}. Genres: {genres}.") == ["title", "genres"]


def test_template_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"unknown item column 'plot'; known: \['decade', 'genres', 'title'\]"):
        render(_item_info(), "{plot}", I)
    with pytest.raises(ValueError, match="must name item columns"):
        template_fields("no fields at all")
    with pytest.raises(ValueError, match="has none"):
        render(None, "{title}", I)


def test_local_model_mean_pooling_matches_a_hand_computation(tiny_bert):
    enc = TextEncoder(str(tiny_bert))
    assert enc.pooling == "mean" and not enc.normalize and enc.dim == 6
    texts = ["alien space", "love comedy film film"]
    vectors = enc.encode(texts, progress=False)
    tokens = enc.eval().tokenizer(texts[:1], return_tensors="pt")
    with torch.no_grad():
        hidden = enc.model(**tokens).last_hidden_state[0]
    assert torch.allclose(vectors[0], hidden.mean(0), atol=1e-6)
    assert torch.equal(enc.encode(["", texts[0]], progress=False)[0], torch.zeros(6))  # empty text: zero vector


def test_gpt2_from_pretrained_local_folder_and_last_token_pooling(tmp_path, tiny_tokenizer):
    from transformers import AutoTokenizer, GPT2Config, GPT2Model

    folder = tmp_path / "tiny-gpt2"
    saved = GPT2Model(GPT2Config(vocab_size=len(TINY_WORDS), n_positions=16, n_embd=8, n_layer=1, n_head=2))
    saved.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_tokenizer).save_pretrained(folder)
    enc = TextEncoder(str(folder))
    assert enc.pooling == "last" and enc.identity.startswith("tiny-gpt2@")
    assert torch.equal(enc.model.wpe.weight, saved.wpe.weight)  # the saved weights, not a fresh model
    long, short = "alien space horror film", "love"
    both = enc.encode([long, short], progress=False)
    alone = enc.encode([short], progress=False)
    assert torch.allclose(both[1], alone[0], atol=1e-5)  # right padding never reaches the last real token


def test_gpt2_built_from_config_trains_end_to_end(tiny_tokenizer):
    enc = TextEncoder("gpt2", tokenizer=str(tiny_tokenizer), dim=8, layers=1, heads=2, max_length=16)
    assert not enc.pretrained and enc.dim == 8
    out = enc(["alien space", "love"])
    out.sum().backward()
    assert all(p.grad is not None for p in enc.model.parameters() if p.requires_grad and p.dim() > 1)
    with pytest.raises(ValueError, match="random weights"):
        item_table(DataSpec(U, I, T, np.ones(I), item_info=_item_info()), D, {"text": {"model": "gpt2"}})


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(OSError, match="cannot load text encoder"):
        TextEncoder(str(tmp_path / "nowhere"))


def test_second_build_reads_the_cache_without_loading_the_encoder(spec, tiny_bert, data_env, monkeypatch):
    calls = []
    real = text_encoder.TextEncoder.encode

    def counting(self, texts, **kwargs):
        calls.append(len(texts))
        return real(self, texts, **kwargs)

    monkeypatch.setattr(text_encoder.TextEncoder, "encode", counting)
    settings = {"text": {"model": str(tiny_bert), "template": "{title} {genres}", "progress": False}}
    first = ItemEncoder(spec, D, **settings)
    assert calls == [I] and list(data_env.joinpath("text").glob("*.npy"))
    second = ItemEncoder(spec, D, **settings)
    assert calls == [I], "the second build encoded again instead of reading the cache"
    assert torch.equal(first.text.features, second.text.features) and "from the cache" in second.report[0]
    assert "1 without text" in second.report[0]
    assert torch.equal(second.text.features[3], torch.zeros(6))  # no text -> zero vector
    ItemEncoder(spec, D, text={**settings["text"], "template": "{title}"})  # another template: another key
    assert calls == [I, I]


def test_damaged_cache_entry_is_re_encoded(spec, tiny_bert, data_env):
    settings = {"model": str(tiny_bert), "template": "{title}", "progress": False}
    good = ItemEncoder(spec, D, text=settings).text.features
    (entry,) = data_env.joinpath("text").glob("*.npy")
    np.save(entry, np.full((I, 6), np.nan, dtype=np.float32))
    with pytest.warns(UserWarning, match="stale or damaged"):
        again = ItemEncoder(spec, D, text=settings).text.features
    assert torch.allclose(good, again)


def test_cache_key_changes_with_model_template_and_any_text():
    base = text_cache.cache_key("m", "{title}", ["a", "b"])["key"]
    assert text_cache.cache_key("m2", "{title}", ["a", "b"])["key"] != base
    assert text_cache.cache_key("m", "{title}!", ["a", "b"])["key"] != base
    assert text_cache.cache_key("m", "{title}", ["a", "c"])["key"] != base
    assert (
        text_cache.cache_key("m", "{title}", ["ab"])["key"] != text_cache.cache_key("m", "{title}", ["a", "b"])["key"]
    )


def test_folder_identity_changes_when_weights_change(tiny_bert):
    before = text_encoder.encoder_identity(str(tiny_bert))
    config = tiny_bert / "config.json"
    config.write_text(config.read_text().replace('"hidden_act"', '"initializer_range": 0.5, "hidden_act"'))
    assert text_encoder.encoder_identity(str(tiny_bert)) != before


@pytest.mark.parametrize("name", WITH_ITEMS)
@pytest.mark.parametrize("fusion", ["sum", "concat", "gated"])
def test_fusion_shapes_and_gradients_for_every_backbone(
    name, fusion, spec, batch, tiny_bert, tiny_tokenizer, vectors_file, data_env
):
    items = {
        "text": {"model": str(tiny_bert), "template": "{title}. {genres}", "progress": False},
        "attributes": ["genres", "decade"],
        "vectors": {"path": str(vectors_file)},
        "fusion": fusion,
    }
    extra = {"tokenizer": str(tiny_tokenizer)} if name == "lm" else {}
    if name == "dialogue":  # its utterance encoder
        extra = {"text": {"model": str(tiny_bert), "progress": False, "cache": False}}
    model = BACKBONES.get(name)(spec, dim=D, items=items, **SMALL[name], **extra)
    table = model.item_embeddings()
    assert table.shape == (I, D) and torch.equal(table[0], torch.zeros(D))
    assert len(model.items.parts()) == 5  # id, text, two attributes, vectors
    scores = model.score(batch)
    assert scores.shape == (B, I) and torch.isneginf(scores[:, 0]).all()
    queries = model(batch)
    loss = (queries.sum(1) @ model.item_embeddings().T).logsumexp(-1).sum()
    loss.backward()
    for key, p in model.items.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}/{fusion}: no gradient reaches items.{key}"
    assert len(item_reports(model)) == 4 + (name == "dialogue")  # + the dialogue's utterance encoder


def test_attributes_only_without_id_embedding(spec):
    enc = ItemEncoder(spec, D, id=False, attributes=["genres"])
    table = enc.weight
    # items 2 and 6 both have exactly ["comedy"]: with no ID part they must get the same vector
    assert torch.allclose(table[2], table[6]) and not torch.allclose(table[1], table[2])
    assert "4 values, 2 items without one" in enc.report[0]  # items 3 and 7 have no genre


def test_id_only_item_table_is_the_plain_embedding(spec):
    assert isinstance(item_table(spec, D, None), torch.nn.Embedding)
    torch.manual_seed(0)
    before = BACKBONES.get("sasrec")(spec, dim=D, heads=2).state_dict()
    assert "items.weight" in before  # checkpoints of ID-only models keep their keys


def test_item_settings_errors_name_the_key(spec):
    with pytest.raises(ConfigError, match=r"unknown key backbone.items.fusionn"):
        item_table(spec, D, {"fusionn": "sum"})
    with pytest.raises(ConfigError, match=r"unknown key items.text.templat"):
        item_table(spec, D, {"text": {"templat": "{title}"}})
    with pytest.raises(ValueError, match=r"unknown item fusion 'max'"):
        item_table(spec, D, {"fusion": "max"})
    with pytest.raises(ValueError, match="no part"):
        item_table(spec, D, {"id": False})
    with pytest.raises(ValueError, match=r"unknown item attribute column 'brand'"):
        item_table(spec, D, {"attributes": ["brand"]})
    with pytest.raises(ConfigError, match=r"missing required value items.vectors.path"):
        item_table(spec, D, {"vectors": {}})


def test_vectors_align_to_dense_ids_whatever_the_file_order(spec, vectors_file):
    table, report = load_vectors(str(vectors_file), spec.item_ids)
    with np.load(vectors_file) as z:
        expected = dict(zip(z["ids"].tolist(), z["vectors"], strict=True))
    for dense, raw in enumerate(spec.item_ids, start=1):
        assert np.allclose(table[dense], expected[raw])
    assert np.all(table[0] == 0) and "10 items matched" in report


def test_vectors_from_parquet_and_npy(tmp_path, spec):
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(len(spec.item_ids), 3))
    pd.DataFrame({"item": spec.item_ids.astype(str), "vector": list(vecs)}).to_parquet(tmp_path / "v.parquet")
    wide = pd.DataFrame(vecs, columns=["a", "b", "c"]).assign(item=spec.item_ids)
    wide.to_parquet(tmp_path / "w.parquet")
    np.save(tmp_path / "v.npy", vecs)
    np.save(tmp_path / "ids.npy", spec.item_ids)
    for table in (
        load_vectors(str(tmp_path / "v.parquet"), spec.item_ids)[0],
        load_vectors(str(tmp_path / "w.parquet"), spec.item_ids)[0],
        load_vectors(str(tmp_path / "v.npy"), spec.item_ids, ids=str(tmp_path / "ids.npy"))[0],
    ):
        assert np.allclose(table[1:], vecs, atol=1e-6)


def test_vector_file_problems_are_errors(tmp_path, spec):
    ids = spec.item_ids
    rng = np.random.default_rng(2)

    def write(name, file_ids, vectors):
        np.savez(tmp_path / name, ids=file_ids, vectors=vectors)
        return str(tmp_path / name)

    with pytest.raises(ValueError, match=r"1 ids are not in the catalogue \(first: '999'\)"):
        load_vectors(write("u.npz", np.append(ids, 999), rng.normal(size=(len(ids) + 1, 4))), ids)
    _, report = load_vectors(str(tmp_path / "u.npz"), ids, unknown="ignore")
    assert "1 file ids outside the catalogue ignored" in report
    with pytest.raises(ValueError, match="dimension 4, expected 7"):
        load_vectors(str(tmp_path / "u.npz"), ids, dim=7, unknown="ignore")
    nan = rng.normal(size=(len(ids), 4))
    nan[2, 1] = np.nan
    with pytest.raises(ValueError, match=rf"1 vectors hold NaN or inf \(first: item '{ids[2]}'\)"):
        load_vectors(write("n.npz", ids, nan), ids)
    with pytest.raises(ValueError, match=rf"item id '{ids[0]}' appears 2 times"):
        load_vectors(write("d.npz", np.append(ids, ids[0]), rng.normal(size=(len(ids) + 1, 4))), ids)
    with pytest.raises(ValueError, match=r"1 catalogue items have no vector"):
        load_vectors(write("m.npz", ids[1:], rng.normal(size=(len(ids) - 1, 4))), ids)
    zero, report = load_vectors(str(tmp_path / "m.npz"), ids, missing="zero")
    assert np.all(zero[1] == 0) and "1 zero-filled" in report
    with pytest.raises(ValueError, match="needs its raw item ids"):
        np.save(tmp_path / "x.npy", rng.normal(size=(len(ids), 4)))
        load_vectors(str(tmp_path / "x.npy"), ids)
    with pytest.raises(ValueError, match=r"unknown format '\.csv'"):
        (tmp_path / "x.csv").write_text("item,a\n")
        load_vectors(str(tmp_path / "x.csv"), ids)


def test_minilm_from_pypi_encodes_meaningfully(data_env):
    pytest.importorskip(text_encoder.MINILM_PACKAGE, reason=f"MiniLM not installed: {text_encoder.MINILM_INSTALL}")
    enc = TextEncoder("minilm")
    assert enc.dim == 384 and enc.normalize
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = enc.encode(
            ["Alien (1979), science fiction horror", "a scary space monster film", "a romantic comedy"], progress=False
        )
    assert torch.allclose(v.norm(dim=1), torch.ones(3), atol=1e-5)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2]) + 0.1


def test_encoding_runs_in_batches_and_never_sees_the_whole_catalogue(tiny_bert, monkeypatch):
    enc = TextEncoder(str(tiny_bert))
    seen = []
    real = enc.model.forward

    def recording(*args, **kwargs):
        seen.append(tuple(kwargs["input_ids"].shape))
        return real(*args, **kwargs)

    monkeypatch.setattr(enc.model, "forward", recording)
    texts = [f"film {k % 10}" for k in range(11)]
    out = enc.encode(texts, batch_size=4, progress=False)
    assert out.shape == (11, 6) and [rows for rows, _ in seen] == [4, 4, 3]


def test_id_dropout_only_acts_while_training(spec):
    torch.manual_seed(0)
    enc = ItemEncoder(spec, D, attributes=["genres"], id_dropout=0.5)
    attributes_only = enc.attributes["genres"](enc.all_ids)
    enc.eval()
    assert torch.equal(enc.weight, enc.weight)  # deterministic, ID part always on
    assert not torch.allclose(enc.weight[1:], attributes_only[1:])
    enc.train()
    table = enc.weight
    dropped = torch.isclose(table, attributes_only).all(1)[1:]  # rows whose ID part was zeroed
    assert 0 < int(dropped.sum()) < I - 1
    with pytest.raises(ValueError, match=r"id_dropout must be in \[0, 1\)"):
        ItemEncoder(spec, D, id_dropout=1.0)


def test_per_text_store_encodes_only_new_texts(tmp_path):
    from recframe.text.cache import cached_encode_each

    calls: list[list[str]] = []

    def encode(batch: list[str]) -> np.ndarray:
        calls.append(batch)
        return np.array([[len(t), t.count("a")] for t in batch], dtype=np.float32)

    first, n = cached_encode_each(encode, ["a b", "banana", "a b"], encoder="toy", folder=tmp_path)
    assert n == 3 and sorted(calls[0]) == ["a b", "banana"]  # a repeated text is encoded once
    assert first.tolist() == [[3, 1], [6, 3], [3, 1]]
    second, n = cached_encode_each(encode, ["banana", "cab", "a b"], encoder="toy", folder=tmp_path)
    assert n == 1 and calls[1] == ["cab"] and second.tolist() == [[6, 3], [3, 1], [3, 1]]
    _, n = cached_encode_each(encode, ["cab"], encoder="other", folder=tmp_path)
    assert n == 1  # another encoder never reads this one's vectors
    store = next(tmp_path.glob("each-*.npz"))
    for damaged in tmp_path.glob("each-*.npz"):
        damaged.write_bytes(b"not an npz")
    with pytest.warns(UserWarning, match="unusable"):
        again, n = cached_encode_each(encode, ["banana"], encoder="toy", folder=tmp_path)
    assert n == 1 and again.tolist() == [[6, 3]] and store.is_file()
