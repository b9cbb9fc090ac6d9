"""RecModule: the one LightningModule — training loss, full-catalogue evaluation, top-K prediction."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn

from recframe.backbones.contract import RatingClassifier
from recframe.data.interactions import PAD
from recframe.metrics import mask_items, target_ranks
from recframe.metrics.chunked import chunked_ranks
from recframe.metrics.like import LikeMetrics
from recframe.metrics.rating import RatingMetrics
from recframe.metrics.suite import EvaluationMetrics


def top_k(scores: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Top-``k`` ``(values, items)`` per row, ties broken towards the lower item id (reproducible)."""
    values, items = torch.sort(scores, dim=1, descending=True, stable=True)
    return values[:, :k], items[:, :k]


FUSED_ADAM_DEVICES = ("cpu", "cuda")  # where torch's fused AdamW kernel exists
PAIR_TABLE_MAX = 2**26  # user x item grids up to this size get a dense training-pair table (64 MiB)


class RecModule(pl.LightningModule):
    """Trains any backbone with any loss and evaluates it by ranking the whole catalogue.

    Args:
        backbone: an object following :class:`~recframe.backbones.contract.Backbone`.
        loss: a function ``(query [N, D], items [I, D], labels [N]) -> scalar`` from ``recframe.losses``.
        lr / weight_decay / betas: AdamW settings.
        fused_optimizer: use torch's fused AdamW kernel (one pass over each parameter instead of
            one per operation; 8x faster steps on CPU for Beauty's BPR tables, same updates up
            to float rounding). Falls back to torch's default where the kernel is unavailable.
        val_metrics / test_metrics: the :class:`~.EvaluationMetrics` of each stage (the engine builds
            accuracy-only metrics for validation and the experiment's full ``metrics`` for test),
            or :class:`~.RatingMetrics` under the rating-prediction protocol.
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
        train_items: bool ``[I]``: the items the training loss ranks over (the engine passes the
            warm items under the cold-item protocol, so cold items never enter the training
            softmax); None = the whole catalogue. Needs a loss that samples nothing (``ce``).
        meta: the resolved config and data fingerprint, saved into every checkpoint.
    """

    def __init__(
        self,
        backbone: nn.Module,
        loss: Callable[..., Tensor],
        *,
        val_metrics: EvaluationMetrics | RatingMetrics | LikeMetrics,
        test_metrics: EvaluationMetrics | RatingMetrics | LikeMetrics,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        betas: Sequence[float] = (0.9, 0.999),
        fused_optimizer: bool = True,
        exclude_seen: bool = True,
        score_chunk: int | None = None,
        compile: bool = False,
        negatives: str = "unseen",
        train_keys: Tensor | None = None,
        train_items: Tensor | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        # the logger gets the config itself; the training keys are data (a tensor per interaction), not settings
        self.save_hyperparameters(
            ignore=["backbone", "loss", "val_metrics", "test_metrics", "train_keys", "train_items"], logger=False
        )
        self.backbone, self.loss = backbone, loss
        self.lr, self.weight_decay, self.betas = lr, weight_decay, tuple(betas)
        self.fused_optimizer = fused_optimizer
        self.exclude_seen = exclude_seen
        if score_chunk is not None and score_chunk < 1:
            raise ValueError(f"score_chunk must be >= 1 or null, got {score_chunk}")
        self.score_chunk = score_chunk
        if negatives not in ("unseen", "uniform"):
            raise ValueError(f"unknown negatives {negatives!r}; known: ['uniform', 'unseen']")
        samples = "sample" in inspect.signature(loss).parameters
        if samples and negatives == "unseen" and train_keys is None:
            raise ValueError("negatives='unseen' needs the training interactions (train_keys)")
        keys = train_keys if samples and negatives == "unseen" else None
        # Plain attributes, not buffers: DDP would broadcast buffers on every step. They follow
        # the batches' device on first use (_trained_on).
        self.train_keys, self.train_pairs = keys, self._pair_table(keys)
        self.train_index: Tensor | None = None
        self.train_remap: Tensor | None = None
        if train_items is not None:
            if samples:
                raise ValueError(
                    "the cold-item protocol trains over the warm items only, which needs a full-softmax loss (ce); "
                    "this loss samples negatives from the whole catalogue"
                )
            allowed = train_items.clone().bool()
            allowed[PAD] = True  # PAD keeps row 0, so label 0 stays 0
            index = torch.nonzero(allowed).squeeze(1)
            remap = torch.full_like(allowed, -1, dtype=torch.long)
            remap[index] = torch.arange(len(index))
            del self.train_index, self.train_remap  # plain attributes above; buffers follow the device
            self.register_buffer("train_index", index, persistent=False)
            self.register_buffer("train_remap", remap, persistent=False)
        if compile:
            self.backbone.compile()
        self.metrics = nn.ModuleDict({"val": val_metrics, "test": test_metrics})
        self.test_exposure: Tensor | None = None  # item exposure counts of the last test pass
        self.predict_k = 10
        self.record_per_user = False  # set by the engine for the final test pass
        self.per_user: list[tuple[Tensor, Tensor]] = []  # (users [B], ranks [B, M]) of that pass

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = self.training_loss(batch)
        if self._logger_writes_this_step():
            self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["user"]))  # no host sync per step
        return loss

    def like_logits(self, batch: dict[str, Tensor]) -> Tensor:
        """The like protocol's logit of each example: ψ(history) · W_target, ``[B]``."""
        return (self.backbone.query(batch) * self.backbone.item_embeddings()[batch["target"]]).sum(-1)

    def training_loss(self, batch: dict[str, Tensor]) -> Tensor:
        """The loss of one training batch: every real label position, negatives as configured.

        Under the like protocol (a ``like`` key), binary cross-entropy of :meth:`like_logits`.
        """
        if "like" in batch:
            return nn.functional.binary_cross_entropy_with_logits(self.like_logits(batch), batch["like"])
        if isinstance(self.backbone, RatingClassifier):  # cross-entropy over the rating classes
            logits = self.backbone.rating_logits(batch["user"], batch["labels"][:, 0])
            classes = self.metrics["val"].nearest_class(batch["ratings"][:, 0])
            return nn.functional.cross_entropy(logits, classes)
        queries = self.backbone(batch)  # [B, T, D]
        labels = batch["labels"]  # [B, T]
        if self.backbone.sequential:
            keep = labels != PAD
            queries, labels, users = queries[keep], labels[keep], batch["user"][:, None].expand_as(keep)[keep]
            ratings = batch["ratings"][keep] if "ratings" in batch else None
        else:  # (user, item) pairs: one real label per row, nothing to mask
            queries, labels, users = queries[:, 0], labels[:, 0], batch["user"]
            ratings = batch["ratings"][:, 0] if "ratings" in batch else None
        extra = {"ratings": ratings} if ratings is not None else {}
        if self.train_keys is not None:
            extra["sample"] = functools.partial(self._unseen_items, users)
        items = self.backbone.item_embeddings()
        if self.train_index is not None:  # cold items are absent from the training softmax
            items, labels = items[self.train_index], self.train_remap[labels]
        return self.loss(queries, items, labels, **extra)

    def _logger_writes_this_step(self) -> bool:
        """True on the steps whose ``train/loss`` Lightning writes to the logger (every
        ``log_every_n_steps`` optimiser steps) and on the first, which the progress bar shows.

        Logging on the other steps changes no record and costs ~2 ms of Lightning bookkeeping per
        step (``ResultCollection.log`` moves its state with ``Metric.to``), a quarter of a BPR step.
        """
        if self._trainer is None:
            return True
        every = max(self._trainer.log_every_n_steps, 1)
        return self.global_step == 0 or (self.global_step + 1) % every == 0

    def _unseen_items(
        self, users: Tensor, shape: tuple[int, ...], rounds: int = 4, sync_free: bool | None = None
    ) -> Tensor:
        """Item ids ``shape = (N, K)`` drawn uniformly among those row ``n``'s user never trained on.

        Fixed rejection rounds; a clash survives all four with probability ``density⁴`` (1e-5 for a
        user who saw 6 % of the catalogue) and is then kept. On accelerators every round re-checks
        the whole draw (no host sync); on CPU, where a sync is free (``sync_free``, default: the
        device is the CPU), later rounds re-check only the entries that clashed.
        """
        n_items = self.backbone.item_embeddings().shape[0]
        negatives = torch.randint(1, n_items, shape, device=users.device)
        row_users = users[:, None].expand(shape)
        if not (users.device.type == "cpu" if sync_free is None else sync_free):
            for _ in range(rounds):
                clash = self._trained_on(row_users, negatives, n_items)
                negatives = torch.where(clash, torch.randint(1, n_items, shape, device=users.device), negatives)
            return negatives
        flat_users, flat = row_users.reshape(-1), negatives.view(-1)
        todo = torch.arange(len(flat), device=flat.device)
        for _ in range(rounds):
            todo = todo[self._trained_on(flat_users[todo], flat[todo], n_items)]
            if not len(todo):
                break
            flat[todo] = torch.randint(1, n_items, (len(todo),), device=flat.device)
        return negatives

    def _pair_table(self, keys: Tensor | None) -> Tensor | None:
        """``table[user * n_items + item]`` is True for training pairs, when the table is small.

        One gather per lookup instead of a binary search over all training keys (negative sampling
        0.45 instead of 0.78 ms per 2,048 draws on ML-100K); catalogues whose user x item grid
        exceeds ``PAIR_TABLE_MAX`` keep the search. Training batches only hold users with training
        pairs, so the grid ends at the last user in ``keys``.
        """
        if keys is None or not len(keys):
            return None
        n_items = self.backbone.item_embeddings().shape[0]
        size = (int(keys.max()) // n_items + 1) * n_items
        if size > PAIR_TABLE_MAX:
            return None
        table = torch.zeros(size, dtype=torch.bool, device=keys.device)
        table[keys] = True
        return table

    def _trained_on(self, users: Tensor, items: Tensor, n_items: int) -> Tensor:
        """Whether each ``(user, item)`` pair is a training interaction."""
        wanted = users * n_items + items
        if self.train_pairs is not None:
            if self.train_pairs.device != wanted.device:
                self.train_pairs = self.train_pairs.to(wanted.device)
            return self.train_pairs[wanted]
        if self.train_keys.device != wanted.device:
            self.train_keys = self.train_keys.to(wanted.device)
        keys = self.train_keys
        return keys[torch.searchsorted(keys, wanted).clamp(max=len(keys) - 1)] == wanted

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
        if "like" in batch:
            suite.update(self.like_logits(batch), batch["like"])
            return
        if "ratings" in batch and isinstance(self.backbone, RatingClassifier):  # the most likely rating class
            logits = self.backbone.rating_logits(batch["user"], batch["items"])
            suite.update(suite.values[logits.argmax(1)], batch["ratings"], batch["user"], batch["items"])
            return
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
            self.log(
                f"{stage}/{name}", value.float(), prog_bar=name in ("ndcg@10", "hr@10", "rmse", "auc"), sync_dist=False
            )
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
        """Whether there is anything to train (parameter-free backbones such as popularity skip training)."""
        return any(p.requires_grad for p in self.parameters())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        params = list(self.parameters())
        fusable = all(p.device.type in FUSED_ADAM_DEVICES and p.is_floating_point() for p in params)
        fused = self.fused_optimizer and fusable
        return torch.optim.AdamW(
            params, lr=self.lr, weight_decay=self.weight_decay, betas=self.betas, fused=True if fused else None
        )
