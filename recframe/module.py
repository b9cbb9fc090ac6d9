"""RecModule: the one LightningModule — training loss, full-catalogue evaluation, top-K prediction."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn

from recframe.data.interactions import PAD
from recframe.metrics import mask_items, target_ranks
from recframe.metrics.chunked import chunked_ranks
from recframe.metrics.rating import RatingMetrics
from recframe.metrics.suite import EvaluationMetrics


def top_k(scores: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Top-``k`` ``(values, items)`` per row, ties broken towards the lower item id (reproducible)."""
    values, items = torch.sort(scores, dim=1, descending=True, stable=True)
    return values[:, :k], items[:, :k]


class RecModule(pl.LightningModule):
    """Trains any backbone with any loss and evaluates it by ranking the whole catalogue.

    Args:
        backbone: an object following :class:`~recframe.backbones.contract.Backbone`.
        loss: a function ``(query [N, D], items [I, D], labels [N]) -> scalar`` from ``recframe.losses``.
        lr / weight_decay / betas: AdamW settings.
        val_metrics / test_metrics: the :class:`EvaluationMetrics` of each stage (the engine builds
            accuracy-only metrics for validation and the experiment's full ``metrics`` for test),
            or :class:`RatingMetrics` under the rating-prediction protocol.
        exclude_seen: mask each user's earlier items out of the ranking (the standard protocol).
        negatives: how BPR/BCE-style losses sample negatives: ``unseen`` avoids the user's own
            training items (as the SASRec and RecBole samplers do), ``uniform`` draws from the whole
            catalogue.
        train_keys: sorted ``user * n_items + item`` keys of the training interactions (the engine
            passes them; needed by ``negatives="unseen"``).
        score_chunk: score the catalogue this many items at a time (top-K and ranks merged per
            chunk; for catalogues too large for a ``[batch, n_items]`` block). None scores it whole.
        compile: ``torch.compile`` the backbone in place (state-dict keys unchanged, checkpoints
            stay interchangeable); worth it on GPUs for long runs, mostly compile time on small CPUs.
        meta: the resolved config and data fingerprint, saved into every checkpoint.
    """

    def __init__(
        self,
        backbone: nn.Module,
        loss: Callable[..., Tensor],
        *,
        val_metrics: EvaluationMetrics | RatingMetrics,
        test_metrics: EvaluationMetrics | RatingMetrics,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        betas: Sequence[float] = (0.9, 0.999),
        exclude_seen: bool = True,
        score_chunk: int | None = None,
        compile: bool = False,
        negatives: str = "unseen",
        train_keys: Tensor | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(
            ignore=["backbone", "loss", "val_metrics", "test_metrics"], logger=False
        )  # the logger gets the config itself
        self.backbone, self.loss = backbone, loss
        self.lr, self.weight_decay, self.betas = lr, weight_decay, tuple(betas)
        self.exclude_seen = exclude_seen
        if score_chunk is not None and score_chunk < 1:
            raise ValueError(f"score_chunk must be >= 1 or null, got {score_chunk}")
        self.score_chunk = score_chunk
        if negatives not in ("unseen", "uniform"):
            raise ValueError(f"unknown negatives {negatives!r}; known: ['uniform', 'unseen']")
        samples = "sample" in inspect.signature(loss).parameters
        if samples and negatives == "unseen" and train_keys is None:
            raise ValueError("negatives='unseen' needs the training interactions (train_keys)")
        self.register_buffer("train_keys", train_keys if samples and negatives == "unseen" else None, persistent=False)
        if compile:
            self.backbone.compile()
        self.metrics = nn.ModuleDict({"val": val_metrics, "test": test_metrics})
        self.test_exposure: Tensor | None = None  # item exposure counts of the last test pass
        self.predict_k = 10
        self.record_per_user = False  # set by the engine for the final test pass
        self.per_user: list[tuple[Tensor, Tensor]] = []  # (users [B], ranks [B, M]) of that pass

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        queries = self.backbone(batch)  # [B, T, D]
        labels = batch["labels"]  # [B, T]
        keep = labels != PAD
        extra = {"ratings": batch["ratings"][keep]} if "ratings" in batch else {}
        if self.train_keys is not None:
            users = batch["user"][:, None].expand_as(labels)[keep]
            extra["sample"] = functools.partial(self._unseen_items, users)
        loss = self.loss(queries[keep], self.backbone.item_embeddings(), labels[keep], **extra)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(labels))  # no host sync per step
        return loss

    def _unseen_items(self, users: Tensor, shape: tuple[int, ...], rounds: int = 4) -> Tensor:
        """Item ids ``shape = (N, K)`` drawn uniformly among those row ``n``'s user never trained on.

        Fixed rejection rounds (no host sync); a clash survives all four with probability
        ``density⁴`` (1e-5 for a user who saw 6 % of the catalogue) and is then kept.
        """
        n_items = self.backbone.item_embeddings().shape[0]
        keys = self.train_keys
        negatives = torch.randint(1, n_items, shape, device=users.device)
        for _ in range(rounds):
            wanted = users[:, None] * n_items + negatives
            position = torch.searchsorted(keys, wanted).clamp(max=len(keys) - 1)
            clash = keys[position] == wanted
            negatives = torch.where(clash, torch.randint(1, n_items, shape, device=users.device), negatives)
        return negatives

    def scores(self, batch: dict[str, Tensor]) -> Tensor:
        """Catalogue scores ``[B, I]`` with PAD and (if ``exclude_seen``) earlier items at ``-inf``.

        Under the sampled protocol (a ``candidates`` batch key) every item that is neither a target
        nor a sampled negative is also ``-inf``, so ranks are ranks among the candidates.
        """
        scores = self.backbone.score(batch)
        if self.exclude_seen:
            mask_items(scores, batch["seen_rows"], batch["seen_items"])
        if "candidates" in batch:
            keep = torch.zeros_like(scores, dtype=torch.bool)
            rows = torch.arange(len(scores), device=scores.device)[:, None]
            keep[rows, batch["candidates"]] = True
            keep[rows, batch["targets"]] = True
            scores = scores.masked_fill(~keep, float("-inf"))
        return scores

    def _evaluate(self, batch: dict[str, Tensor], stage: str) -> None:
        suite = self.metrics[stage]
        if "ratings" in batch:  # rating prediction: ψ_u · W_i of each held-out (user, item)
            predicted = (self.backbone.query(batch) * self.backbone.item_embeddings()[batch["items"]]).sum(-1)
            suite.update(predicted, batch["ratings"], batch["user"], batch["items"])
            return
        if self.score_chunk:
            ranks, top_values, top_items = self._chunked(batch, suite.max_k)
        else:
            scores = self.scores(batch)
            top = scores.topk(min(suite.max_k, scores.shape[1]), dim=1)  # one top-k serves ranks and lists
            ranks = target_ranks(scores, batch["targets"], max_rank=suite.ranking.ks[-1], top=top)
            top_values, top_items = top
        suite.update(batch, ranks, *((top_items, top_values) if suite.needs_lists else (None, None)))
        if stage == "test" and self.record_per_user:
            self.per_user.append((batch["user"].cpu(), ranks.cpu()))

    def _chunked(self, batch: dict[str, Tensor], k: int) -> tuple[Tensor, Tensor, Tensor]:
        seen = (batch["seen_rows"], batch["seen_items"]) if self.exclude_seen else (None, None)
        return chunked_ranks(
            self.backbone.query(batch),
            self.backbone.item_embeddings(),
            batch["targets"],
            k,
            self.score_chunk,
            *seen,
            candidates=batch.get("candidates"),
        )

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def _log_metrics(self, stage: str) -> None:
        values = self.metrics[stage].compute()  # already reduced across processes
        if stage == "test":
            self.test_exposure = self.metrics[stage].exposure_counts()
        for name, value in values.items():
            self.log(f"{stage}/{name}", value.float(), prog_bar=name in ("ndcg@10", "hr@10", "rmse"), sync_dist=False)
        self.metrics[stage].reset()

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test")
        if self.record_per_user and self.trainer.world_size > 1:
            # every rank evaluated its own users: rank 0 collects them all for the per-user file
            parts: list = [None] * self.trainer.world_size
            torch.distributed.all_gather_object(parts, self.per_user)
            self.per_user = [x for part in parts for x in part] if self.trainer.is_global_zero else []

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        if self.score_chunk:
            _, values, items = self._chunked(batch, self.predict_k)
        else:
            values, items = top_k(self.scores(batch), self.predict_k)
        return {"user": batch["user"], "items": items, "scores": values}

    @property
    def trainable(self) -> bool:
        """False for parameter-free backbones (popularity): they skip training."""
        return any(p.requires_grad for p in self.parameters())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay, betas=self.betas)
