"""BM25 over item metadata, queried with the dialogue so far.

Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond", Foundations and
Trends in IR, 2009 (Okapi BM25 with ``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``, the Lucene form).
Checked against a hand computation in ``tests/test_conversation.py``. On OpenDialKG it is strong
because those dialogues walk knowledge-graph paths whose entities name the answer: measured here
R@10 0.514 on iEvaLM's turns (all targets; the ≈ 0.71 quoted in REFERENCE.md was not reproduced).
In the ψ · Wᵀ form ψ holds the context's term counts and W_i the item's BM25 term weights, a sparse
``[I, V]`` matrix.
NOTE: terms are lower-cased alphanumeric runs, no stemming and no stop words (idf discounts them).
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from recframe.conversation.context import event_column, words
from recframe.data.datamodule import DataSpec
from recframe.data.interactions import PAD
from recframe.text.templates import render


class BM25(nn.Module):
    """Okapi BM25 scores of every catalogue item for each event's context; no trainable parameters.

    Args:
        spec: a conversational dataset (event contexts in ``user_info``, item metadata in ``item_info``).
        template: how an item's document is rendered from its metadata (:mod:`recframe.text.templates`).
        k1 / b: BM25's term-frequency saturation and length normalisation.
        last: query with only the latest ``last`` utterances (None: the whole context).
    """

    sequential: ClassVar[bool] = False

    def __init__(
        self,
        spec: DataSpec,
        *,
        template: str = "{title} {genres} {directors} {actors} {plot}",
        k1: float = 1.2,
        b: float = 0.75,
        last: int | None = None,
    ) -> None:
        super().__init__()
        docs, _ = render(spec.item_info, template, spec.n_items)
        tokens = [words(d) for d in docs]
        vocab = {t: j for j, t in enumerate(sorted({t for doc in tokens for t in doc}))}
        rows, cols, tf = [], [], []
        for item, doc in enumerate(tokens):
            for term, count in Counter(doc).items():
                rows.append(item), cols.append(vocab[term]), tf.append(count)
        rows, cols, tf = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(tf, dtype=np.float64)
        lengths = np.array([len(d) for d in tokens], dtype=np.float64)
        n_docs = int((lengths[1:] > 0).sum())
        df = np.bincount(cols, minlength=len(vocab))
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        norm = k1 * (1 - b + b * lengths[rows] / max(lengths[1:].mean(), 1e-9))
        weights = idf[cols] * tf * (k1 + 1) / (tf + norm)
        self.n_terms = max(len(vocab), 1)
        self.register_buffer(
            "weights",
            torch.sparse_coo_tensor(
                torch.as_tensor(np.stack([rows, cols])), torch.as_tensor(weights, dtype=torch.float32),
                (spec.n_items, self.n_terms),
            ).coalesce().to_sparse_csr(),
            persistent=False,
        )  # fmt: skip
        query_rows, query_cols, query_counts = [], [], []
        for event, lines in enumerate(event_column(spec, "utterances")):
            text = " ".join((lines if last is None else lines[-last:]) if isinstance(lines, list) else [])
            for term, count in Counter(t for t in words(text) if t in vocab).items():
                query_rows.append(event), query_cols.append(vocab[term]), query_counts.append(count)
        indptr = np.zeros(spec.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(np.array(query_rows, dtype=np.int64), minlength=spec.n_users), out=indptr[1:])
        self.register_buffer("query_indptr", torch.as_tensor(indptr), persistent=False)
        self.register_buffer("query_terms", torch.as_tensor(query_cols, dtype=torch.int64), persistent=False)
        self.register_buffer("query_counts", torch.as_tensor(query_counts, dtype=torch.float32), persistent=False)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        users = batch["user"]
        start, stop = self.query_indptr[users], self.query_indptr[users + 1]
        rows = torch.repeat_interleave(torch.arange(len(users), device=users.device), stop - start)
        offsets = torch.arange(len(rows), device=users.device) - torch.repeat_interleave(
            torch.cumsum(stop - start, 0) - (stop - start), stop - start
        )
        flat = torch.repeat_interleave(start, stop - start) + offsets
        psi = torch.zeros(len(users), self.n_terms, device=users.device)
        psi[rows, self.query_terms[flat]] = self.query_counts[flat]
        return psi[:, None]  # [B, 1, V]

    def item_embeddings(self) -> Tensor:
        """W ``[I, V]`` as a dense matrix (large for real catalogues: scoring never builds it)."""
        return self.weights.to_dense()

    def query(self, batch: dict[str, Tensor]) -> Tensor:
        return self(batch)[:, 0]

    def score(self, batch: dict[str, Tensor]) -> Tensor:
        scores = (self.weights @ self.query(batch).T).T.contiguous()  # [B, I], sparse W times dense ψ
        scores[:, PAD] = float("-inf")
        return scores
