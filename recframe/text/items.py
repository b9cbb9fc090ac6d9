"""The one item-encoder path of every backbone: W_i = fuse(ID embedding, text, attributes, vectors).

Configured by a backbone's ``items`` key (absent: the plain ID table, exactly as before)::

    backbone:
      name: sasrec
      items:
        id: true                                   # learned ID embedding (the cold-start split turns it off)
        text: {model: minilm, template: "{title}. Genres: {genres}."}   # frozen, cached, projected
        attributes: [genres, decade]               # categorical columns -> learned embeddings (mean per item)
        vectors: {path: image_vectors.npz}         # another modality keyed by raw item id, projected
        fusion: gated                              # sum | concat (+ projection) | gated

Every part maps item ids to ``[..., D]``; a fused table is computed per requested id, so looking
up a history never builds the whole catalogue, and ``weight`` (all ``I`` rows) is one pass over
cached ``[I, H]`` features — the text model itself runs once, at construction, in batches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from recframe.data.datamodule import DataSpec
from recframe.data.interactions import PAD
from recframe.experiments.config import schema_of, validate_section
from recframe.text.templates import is_missing, render

FUSIONS = ("sum", "concat", "gated")


def text_features(
    spec: DataSpec,
    *,
    model: str = "minilm",
    template: str = "{title}",
    pooling: str | None = None,
    max_length: int = 64,
    normalize: bool | None = None,
    batch_size: int = 128,
    cache: bool = True,
    progress: bool = True,
) -> tuple[np.ndarray, str]:
    """Frozen text vectors ``[n_items, H]`` of every item (PAD and items without text: zeros).

    Args:
        spec: the dataset (its ``item_info`` table is rendered with ``template``).
        model / pooling / max_length / normalize: the :class:`~recframe.text.encoder.TextEncoder`.
        batch_size: texts per encoder batch.
        cache: read and write the on-disk cache (:mod:`recframe.text.cache`).
        progress: show a progress bar while encoding.

    Returns:
        The vectors and a one-line report (encoder, items without text, cache hit or miss).
    """
    if model == "gpt2":
        raise ValueError(
            "a GPT-2 built from config has random weights, so its frozen vectors carry no text: give a "
            "pretrained model ('minilm', a folder or a hub name) for item text, or train GPT-2 in the lm backbone"
        )
    texts, missing = render(spec.item_info, template, spec.n_items)
    vectors, identity, hit = frozen_vectors(
        texts,
        key=template,
        model=model,
        pooling=pooling,
        max_length=max_length,
        normalize=normalize,
        batch_size=batch_size,
        cache=cache,
        progress=progress,
    )
    report = (
        f"text {template!r} via {identity}: {spec.n_items - 1 - int(missing.sum()):,} items encoded, "
        f"{int(missing.sum()):,} without text (zero text vector){', from the cache' if hit else ''}"
    )
    return vectors, report


def frozen_vectors(
    texts: list[str],
    *,
    key: str | None,
    model: str = "minilm",
    pooling: str | None = None,
    max_length: int = 64,
    normalize: bool | None = None,
    truncation_side: str = "right",
    batch_size: int = 128,
    cache: bool = True,
    progress: bool = True,
) -> tuple[np.ndarray, str, bool]:
    """Frozen encoder vectors ``[N, H]`` of ``texts`` (empty texts: zeros), through the on-disk cache.

    ``key`` names what the texts are (a template) in the cache key; ``key=None`` caches each text
    on its own instead (:func:`~recframe.text.cache.cached_encode_each`: for utterance sets that
    overlap between runs). Returns the vectors, the encoder's identity string and whether the cache
    answered every text.
    """
    from recframe.text.cache import cached_encode, cached_encode_each
    from recframe.text.encoder import TextEncoder, encoder_identity

    side = "" if truncation_side == "right" else f"|trunc={truncation_side}"
    identity = f"{encoder_identity(model)}|pool={pooling or 'auto'}|norm={normalize}|len={max_length}{side}"

    def encode(batch: list[str]) -> np.ndarray:
        enc = TextEncoder(
            model, pooling=pooling, max_length=max_length, normalize=normalize, truncation_side=truncation_side
        )
        return enc.encode(batch, batch_size=batch_size, progress=progress).numpy()

    if not cache:
        return encode(texts), identity, False
    if key is None:
        vectors, encoded = cached_encode_each(encode, texts, encoder=identity)
        return vectors, identity, encoded == 0
    vectors, hit = cached_encode(encode, texts, encoder=identity, template=key)
    return vectors, identity, hit


def attribute_index(spec: DataSpec, column: str) -> tuple[np.ndarray, int, int]:
    """Values of a categorical column as a padded id matrix ``[n_items, L]`` (0 = none).

    Scalars and lists (genres, S3-Rec attribute ids) are both accepted; values are numbered in
    sorted order from 1. Returns ``(index, n_values, items_without_value)``.
    """
    info = spec.item_info
    if info is None:
        raise ValueError(f"item attribute {column!r} needs item side information, but {spec.name} has none")
    if column not in info.columns:
        raise ValueError(f"unknown item attribute column {column!r}; known: {sorted(info.columns)}")
    rows = []
    for item, value in enumerate(info[column].tolist()):
        if item == PAD or is_missing(value):
            rows.append([])
        else:
            rows.append([str(v) for v in value] if isinstance(value, (list, tuple, np.ndarray)) else [str(value)])
    vocab = {v: k + 1 for k, v in enumerate(sorted({v for r in rows for v in r}))}
    width = max((len(r) for r in rows), default=0) or 1
    index = np.zeros((len(rows), width), dtype=np.int64)
    for item, r in enumerate(rows):
        index[item, : len(r)] = [vocab[v] for v in r]
    return index, len(vocab), sum(1 for r in rows[1:] if not r)


class ItemEncoder(nn.Module):
    """Item vectors from an ID embedding and side information, fused into ``[I, D]``.

    Args:
        spec: dataset facts and side tables.
        dim: the backbone's item vector size ``D``.
        id: include a learned ID embedding.
        text: settings of :func:`~recframe.text.items.text_features` (None: no text part).
        attributes: categorical item columns, each a learned embedding (mean over list values).
        vectors: settings of :func:`recframe.text.vectors.load_vectors` (``path`` required).
        fusion: ``sum`` of the parts, ``concat`` then a linear projection, or ``gated`` (a softmax
            gate per item over the parts, computed from their concatenation).
        id_dropout: while training, zero an item's ID part with this probability (per lookup), so
            the side-information parts learn to score items alone — what a cold item, whose ID part
            is always zero, needs (DropoutNet: Volkovs, Yu & Poutanen, NeurIPS 2017).
        init: initialiser of the ID embedding's weight (the backbone's own scheme).
    """

    def __init__(
        self,
        spec: DataSpec,
        dim: int,
        *,
        id: bool = True,
        text: dict[str, Any] | None = None,
        attributes: list[str] = (),
        vectors: dict[str, Any] | None = None,
        fusion: str = "sum",
        id_dropout: float = 0.0,
        init: Callable[[Tensor], Any] | None = None,
    ) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"unknown item fusion {fusion!r}; known: {list(FUSIONS)}")
        if not 0.0 <= id_dropout < 1.0:
            raise ValueError(f"items.id_dropout must be in [0, 1), got {id_dropout}")
        self.id_dropout = id_dropout
        self.fusion, self.report = fusion, []
        self.register_buffer("all_ids", torch.arange(spec.n_items), persistent=False)
        self.id = nn.Embedding(spec.n_items, dim, padding_idx=PAD) if id else None
        if self.id is not None and init is not None:
            init(self.id.weight)
            self.id.weight.data[PAD] = 0.0
        # Cold items (held out of training) are scored through their side information alone.
        known = np.ones(spec.n_items, dtype=bool) if spec.cold_items is None else ~spec.cold_items
        self.register_buffer("id_known", torch.as_tensor(known), persistent=False)
        self.text = self.vectors = None
        if text is not None:
            features, line = text_features(
                spec, **validate_section(schema_of(text_features, ("spec",)), text, "items.text")
            )
            self.text = _Projected(features, dim)
            self.report.append(line)
        self.attributes = nn.ModuleDict()
        for column in attributes:
            index, n_values, without = attribute_index(spec, column)
            self.attributes[column] = _Categorical(index, n_values, dim)
            self.report.append(f"attribute {column!r}: {n_values:,} values, {without:,} items without one")
        if vectors is not None:
            from recframe.text.vectors import load_vectors

            if spec.item_ids is None:
                raise ValueError("precomputed item vectors need the raw item ids (DataSpec.item_ids)")
            settings = validate_section(schema_of(load_vectors, ("raw_ids",)), vectors, "items.vectors")
            features, line = load_vectors(raw_ids=spec.item_ids, **settings)
            self.vectors = _Projected(features, dim)
            self.report.append(line)
        n_parts = len(self.parts())
        if n_parts == 0:
            raise ValueError("the item encoder has no part: enable id, text, attributes or vectors")
        self.mix = nn.Linear(n_parts * dim, dim) if fusion == "concat" else None
        self.gate = nn.Linear(n_parts * dim, n_parts) if fusion == "gated" else None

    def parts(self) -> list[nn.Module]:
        """The enabled parts, in a fixed order (id, text, attributes, vectors)."""
        found = [self.id, self.text, *self.attributes.values(), self.vectors]
        return [p for p in found if p is not None]

    def forward(self, ids: Tensor) -> Tensor:
        """Fused vectors ``[..., D]`` of item ids ``[...]``; PAD rows are zero."""
        parts = [part(ids) for part in self.parts()]  # each [..., D]
        if self.id is not None:
            keep = self.id_known[ids]
            if self.training and self.id_dropout:
                keep = keep & (torch.rand(ids.shape, device=ids.device) >= self.id_dropout)
            parts[0] = parts[0] * keep.unsqueeze(-1)
        if self.fusion == "sum":
            out = torch.stack(parts).sum(0)
        elif self.fusion == "concat":
            out = self.mix(torch.cat(parts, -1))
        else:
            weights = self.gate(torch.cat(parts, -1)).softmax(-1)  # [..., P]
            out = (torch.stack(parts, -1) * weights.unsqueeze(-2)).sum(-1)
        return out * (ids != PAD).unsqueeze(-1)

    @property
    def weight(self) -> Tensor:
        """All item vectors ``[I, D]`` (what ``backbone.item_embeddings()`` returns)."""
        return self(self.all_ids)


class _Projected(nn.Module):
    """Fixed features ``[I, H]`` (a non-persistent buffer, rebuilt from the cache) -> linear -> ``[..., D]``."""

    def __init__(self, features: np.ndarray, dim: int) -> None:
        super().__init__()
        self.register_buffer("features", torch.as_tensor(features, dtype=torch.float32), persistent=False)
        self.project = nn.Linear(features.shape[1], dim)

    def forward(self, ids: Tensor) -> Tensor:
        return self.project(self.features[ids])


class _Categorical(nn.Module):
    """A padded value-id matrix ``[I, L]`` -> mean of learned value embeddings ``[..., D]``."""

    def __init__(self, index: np.ndarray, n_values: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("index", torch.as_tensor(index), persistent=False)
        self.values = nn.Embedding(n_values + 1, dim, padding_idx=0)

    def forward(self, ids: Tensor) -> Tensor:
        values = self.index[ids]  # [..., L]
        count = (values != 0).sum(-1, keepdim=True).clamp(min=1)
        return self.values(values).sum(-2) / count


class FrozenText(nn.Module):
    """The frozen text vectors of every item, with no trainable parameter (the ``zeroshot`` backbone's W)."""

    def __init__(self, spec: DataSpec, text: dict[str, Any]) -> None:
        super().__init__()
        features, line = text_features(spec, **validate_section(schema_of(text_features, ("spec",)), text, "text"))
        self.register_buffer("features", torch.as_tensor(features), persistent=False)
        self.report = [line]

    def forward(self, ids: Tensor) -> Tensor:
        return self.features[ids]  # [..., H]; PAD's row is zero

    @property
    def weight(self) -> Tensor:
        return self.features


def item_table(
    spec: DataSpec, dim: int, items: dict[str, Any] | None, init: Callable[[Tensor], Any] | None = None
) -> nn.Module:
    """The backbone's item table: a plain ``nn.Embedding`` when ``items`` is None, else an :class:`ItemEncoder`.

    Both are called with item ids and expose ``weight`` ``[I, D]``. ``init`` initialises the ID
    embedding (the plain table is returned uninitialised, as the backbone has always done).
    """
    if items is None:
        return nn.Embedding(spec.n_items, dim, padding_idx=PAD)
    settings = validate_section(schema_of(ItemEncoder, ("spec", "dim", "init")), items, "backbone.items")
    return ItemEncoder(spec, dim, init=init, **settings)


def id_table(table: nn.Module) -> nn.Embedding | None:
    """The learned ID embedding inside an item table (None when an item encoder has none)."""
    return table if isinstance(table, nn.Embedding) else table.id


def item_reports(model: nn.Module) -> list[str]:
    """What every text/item encoder inside ``model`` built (its ``report`` lines: printed at start-up,
    saved in ``run.json``)."""
    return [line for m in model.modules() if isinstance(getattr(m, "report", None), list) for line in m.report]
