"""SASRec: a causal self-attention encoder over the item history; ψ_t is the state at position t.

Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018. Checked line by line
against the authors' TensorFlow code (kang205/SASRec ``model.py``/``modules.py``): item embeddings
scaled by sqrt(D) plus learned positions, dropout; each block is LayerNorm -> causal attention with
Q/K/V projections and *no* output projection, whose residual adds the *normalised* queries ->
LayerNorm -> two-layer ReLU feed-forward of width D with the same normalised residual; padding is
zeroed after every block; a final LayerNorm; scores against the shared item table.
NOTE: histories are right-padded; with ``positions="recency"`` (default) position ids count back
from the most recent item, which is exactly what the original's left padding gives its absolute
positions. ``positions="absolute"`` counts from the start of the window instead.
NOTE: attention uses ``F.scaled_dot_product_attention``; dropout on the attention weights as in
the original. Causality alone hides the (trailing) padding from every real position.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recframe.backbones.contract import catalogue_scores, last_query, recency_positions
from recframe.data.datamodule import DataSpec
from recframe.data.interactions import PAD
from recframe.text.items import id_table, item_table


class SASRecBlock(nn.Module):
    """One pre-norm block of the original SASRec (normalised-query residuals, no attention out-proj)."""

    def __init__(self, dim: int, heads: int, inner: int, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"sasrec dim {dim} is not divisible by heads {heads}")
        self.heads, self.dropout = heads, dropout
        self.attn_norm = nn.LayerNorm(dim, eps=1e-8)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.ffn_norm = nn.LayerNorm(dim, eps=1e-8)
        self.ffn = nn.Sequential(
            nn.Linear(dim, inner), nn.ReLU(), nn.Dropout(dropout), nn.Linear(inner, dim), nn.Dropout(dropout)
        )

    def forward(self, x: Tensor) -> Tensor:
        B, T, D = x.shape
        q_in = self.attn_norm(x)  # queries are normalised, keys/values are not (as in the original)
        w_q, w_kv = self.qkv.weight.split([D, 2 * D])
        b_q, b_kv = self.qkv.bias.split([D, 2 * D])
        q = F.linear(q_in, w_q, b_q)
        k, v = F.linear(x, w_kv, b_kv).split(D, dim=-1)
        q, k, v = (t.view(B, T, self.heads, D // self.heads).transpose(1, 2) for t in (q, k, v))  # [B, H, T, D/H]
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        x = q_in + a.transpose(1, 2).reshape(B, T, D)
        h = self.ffn_norm(x)
        return h + self.ffn(h)


class SASRec(nn.Module):
    """Item + position embeddings -> ``layers`` SASRec blocks -> LayerNorm -> queries ``[B, T, D]``.

    Args:
        spec: dataset facts (``n_items``, ``max_len``).
        dim: embedding and hidden size (the paper's ``d``).
        layers: number of blocks.
        heads: attention heads.
        dropout: embedding, attention-weight and feed-forward dropout.
        inner: feed-forward width; defaults to ``dim`` as in the original.
        positions: ``recency`` (distance to the most recent item, as left padding gives the
            original) or ``absolute`` (index in the window).
        items: item side information fused into W (:mod:`recframe.text.items`); None = ID table only.
    """

    sequential: ClassVar[bool] = True

    def __init__(
        self,
        spec: DataSpec,
        *,
        dim: int = 64,
        layers: int = 2,
        heads: int = 1,
        dropout: float = 0.2,
        inner: int | None = None,
        positions: str = "recency",
        items: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if positions not in ("recency", "absolute"):
            raise ValueError(f"unknown positions {positions!r}; known: ['absolute', 'recency']")
        self.dim, self.recency = dim, positions == "recency"
        self.items = item_table(spec, dim, items)
        self.positions = nn.Embedding(spec.max_len, dim)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(SASRecBlock(dim, heads, inner or dim, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim, eps=1e-8)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_normal_(p)
        if id_table(self.items) is not None:
            id_table(self.items).weight.data[PAD] = 0.0

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        history = batch["history"]  # [B, T]
        keep = (history != PAD).unsqueeze(-1)  # [B, T, 1]
        if self.recency:
            positions = recency_positions(history)  # [B, T]
        else:
            positions = torch.arange(history.shape[1], device=history.device)[None, :]
        x = self.items(history) * self.dim**0.5 + self.positions(positions)  # [B, T, D]
        x = self.dropout(x) * keep
        for block in self.blocks:
            x = block(x) * keep
        return self.norm(x)

    def item_embeddings(self) -> Tensor:
        return self.items.weight

    def query(self, batch: dict[str, Tensor]) -> Tensor:
        return last_query(self(batch), batch)  # [B, D]

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        return catalogue_scores(self.query(batch), self.item_embeddings())
