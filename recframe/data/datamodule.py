"""The one LightningDataModule: filters, id remapping, split, and batch loaders for any dataset."""

from __future__ import annotations

from dataclasses import dataclass, field

import lightning.pytorch as pl
import numpy as np
import pandas as pd
from torch.utils.data import DataLoader, Dataset

from recframe.data import interactions as ix
from recframe.data.batching import EvalUsers, RatedPairs, SequenceWindows, UserItemPairs, batch_loader
from recframe.data.cold import hold_out_items
from recframe.data.histories import Histories
from recframe.data.like import LikeBatches, LikeExamples, like_examples, split_like
from recframe.data.negatives import sample_negatives
from recframe.data.splits import SPLITS, TEST, TRAIN, VALID, check_nonempty, summarize

FEEDBACK = ("implicit", "rating", "like")


@dataclass(frozen=True)
class DataSpec:
    """Dataset facts a backbone or metric may need; built by the DataModule, never from YAML.

    Attributes:
        n_users: dense user ids are ``1..n_users-1`` (0 = PAD).
        n_items: dense item ids are ``1..n_items-1`` (0 = PAD); scores have shape ``[B, n_items]``.
        max_len: longest history a sequence backbone sees.
        item_popularity: training interactions per dense item, float64 ``[n_items]``.
        user_activity: training interactions per dense user, float64 ``[n_users]``.
        item_users: distinct training users per dense item, float64 ``[n_items]`` (equal to
            ``item_popularity`` when no (user, item) pair repeats).
        rating_mean: mean training rating (the global bias of rating-prediction models).
        item_info / user_info: side tables indexed by dense id (row 0 = PAD), or None.
        name: dataset name for messages and records.
        item_ids: raw id of each dense item ``1..n_items-1`` (``item_ids[k]`` is dense id ``k + 1``),
            for side information keyed by raw id (precomputed item vectors).
        cold_items: bool ``[n_items]``, the items held out of training by the cold-item protocol
            (:mod:`recframe.data.cold`), or None.
        train_items: each user's training items, oldest first (text backbones render a user's
            most recent ones).
        rating_values: the distinct training ratings, sorted (the rating classes, e.g. 1..5).
        rating_counts: how many training ratings have each of those values.
        train_targets: conversational data only: the target item of each dense training event
            (:mod:`recframe.conversation.datamodule`), PAD for validation and test events.
    """

    n_users: int
    n_items: int
    max_len: int
    item_popularity: np.ndarray = field(repr=False)
    user_activity: np.ndarray | None = field(default=None, repr=False)
    item_users: np.ndarray | None = field(default=None, repr=False)
    rating_mean: float = 0.0
    item_info: pd.DataFrame | None = field(default=None, repr=False)
    user_info: pd.DataFrame | None = field(default=None, repr=False)
    name: str = "data"
    item_ids: np.ndarray | None = field(default=None, repr=False)
    cold_items: np.ndarray | None = field(default=None, repr=False)
    train_items: Histories | None = field(default=None, repr=False)
    rating_values: np.ndarray | None = field(default=None, repr=False)
    rating_counts: np.ndarray | None = field(default=None, repr=False)
    train_targets: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class EvalSet:
    """Who is evaluated at one stage, what they saw before it, and what they should find."""

    users: np.ndarray  # dense ids with at least one target and one earlier interaction
    seen: Histories
    targets: Histories
    cold_users: int  # users with targets but no earlier interaction (not evaluated; counted)
    candidates: np.ndarray | None = None  # [n_users, N] sampled negatives per dense user (sampled protocol)


class RecDataModule(pl.LightningDataModule):
    """Turns an interaction log into training windows/pairs and full-ranking evaluation batches.

    Args:
        log: the raw interaction log (from a ``dataset`` loader).
        sequential: build ``history``/``labels`` windows (sequence backbones) or (user, item) pairs.
        split: a registered split protocol (``leave_one_out``, ``temporal``, ``ratio``).
        split_args: keyword arguments of that protocol, e.g. ``{ratios: [0.8, 0.1, 0.1]}``.
        feedback: ``implicit`` (rank the catalogue; the default), ``rating`` (predict each held-out
            rating: training pairs carry ratings, evaluation reports RMSE and MAE) or ``like``
            (TALLRec's "will the user like the target?" from the previous ``like_window`` ratings,
            :mod:`recframe.data.like`; evaluation reports AUC).
        min_rating: keep interactions rated at least this (implicit feedback); None keeps all.
        k_core: iteratively keep users and items with at least this many interactions; None skips.
        duplicates: repeated (user, item) pairs: ``keep``, ``first``, ``last`` or ``error``.
        max_len: longest history fed to a sequence backbone.
        batch_size / eval_batch_size: examples per training / evaluation batch.
        fingerprint: expected ``{users, items, interactions}`` after filtering; a mismatch raises
            (a different "Beauty" must never be compared with the published one).
        eval_negatives: rank each target among this many sampled negatives instead of the whole
            catalogue (the *sampled* protocol; None = full ranking, the default).
        eval_sampling: ``uniform`` or ``popularity`` (proportional to training interactions).
        eval_seed: seed of the sampled negatives, fixed across training seeds.
        train_windows: ``last`` (one window per user) or ``all`` (tile the whole history).
        bucket_by_length: batch training windows of similar length together (less padding, same
            examples per epoch); off gives uniformly random batches.
        num_workers: DataLoader worker processes (0 = build batches in the main process).
        cold_items: hold this share of the items out of training entirely (the cold-item protocol of
            :mod:`recframe.data.cold`); their test interactions are the cold targets. None = off.
        cold_seed: seed of the cold-item draw, fixed across training seeds.
        like_window / like_threshold / like_keep_last / like_shares: the like protocol's history
            length, like threshold (rating > threshold), how many of the last examples are kept, and
            the train and validation shares (the rest is test).
        like_train_samples: train on this many examples drawn (with ``seed``) from the training
            share (TALLRec's 16 / 64 / 256); None uses them all.
        seed: shuffling seed (each epoch uses ``[seed, epoch]``).
    """

    def __init__(
        self,
        log: ix.Interactions,
        *,
        sequential: bool,
        split: str = "leave_one_out",
        split_args: dict | None = None,
        feedback: str = "implicit",
        min_rating: float | None = None,
        k_core: int | None = None,
        duplicates: str = "keep",
        max_len: int = 50,
        batch_size: int = 256,
        eval_batch_size: int = 1024,
        fingerprint: dict[str, int] | None = None,
        eval_negatives: int | None = None,
        eval_sampling: str = "uniform",
        eval_seed: int = 0,
        train_windows: str = "last",
        bucket_by_length: bool = True,
        num_workers: int = 0,
        cold_items: float | None = None,
        cold_seed: int = 0,
        like_window: int = 10,
        like_threshold: float = 3.0,
        like_keep_last: int | None = 10000,
        like_shares: list[float] = (0.8, 0.1),
        like_train_samples: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")
        self.sequential, self.max_len, self.seed = sequential, max_len, seed
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self.train_windows, self.bucket_by_length = train_windows, bucket_by_length
        self.split_name = split

        reports = []
        log, report = ix.duplicates(log, duplicates)
        reports.append(report)
        if min_rating is not None:
            log, report = ix.min_rating(log, min_rating)
            reports.append(report)
        if k_core is not None:
            log, report = ix.k_core(log, k_core, k_core)
            reports.append(report)
        self.log_ = ix.encode(log, reports)
        if fingerprint is not None and dict(fingerprint) != self.fingerprint:
            raise ValueError(
                f"dataset {self.log_.name} does not match the expected fingerprint: expected {dict(fingerprint)}, "
                f"got {self.fingerprint} after filters ({'; '.join(str(r) for r in reports)})"
            )
        if eval_sampling not in ("uniform", "popularity"):
            raise ValueError(f"unknown eval_sampling {eval_sampling!r}; known: ['popularity', 'uniform']")
        if eval_negatives is not None and eval_negatives < 1:
            raise ValueError(f"eval_negatives must be >= 1 or null (full ranking), got {eval_negatives}")
        self.eval_negatives, self.eval_sampling, self.eval_seed = eval_negatives, eval_sampling, eval_seed
        self.stage = SPLITS.get(split)(self.log_, **(split_args or {}))
        if feedback not in FEEDBACK:
            raise ValueError(f"unknown feedback {feedback!r}; known: {list(FEEDBACK)}")
        if feedback == "rating" and sequential:
            raise ValueError("feedback 'rating' (rating prediction) needs a non-sequential backbone such as mf")
        self.feedback = feedback
        self.like: dict[str, LikeExamples] | None = None
        if feedback == "like":
            if len(like_shares) != 2 or min(like_shares) <= 0 or sum(like_shares) >= 1:
                raise ValueError(
                    f"like_shares must be two positive train/val shares summing below 1, got {like_shares}"
                )
            if like_window > max_len:
                raise ValueError(f"like_window {like_window} exceeds data.max_len {max_len}")
            examples = like_examples(
                log, self.log_.users, self.log_.items, window=like_window, threshold=like_threshold
            )
            self.like = split_like(
                examples,
                keep_last=like_keep_last,
                shares=tuple(like_shares),
                train_samples=like_train_samples,
                seed=seed,
            )
        self.cold, self.cold_report = None, None
        if cold_items is not None:
            if feedback == "rating":
                raise ValueError("data.cold_items (the cold-item ranking protocol) needs feedback 'implicit'")
            self.stage, self.cold, self.cold_report = hold_out_items(self.log_, self.stage, cold_items, cold_seed)
        check_nonempty(self.log_, self.stage, split, allow_empty_val=split == "kfold")

        enc, stage = self.log_, self.stage
        rows = stage == TRAIN
        self.train = Histories.from_rows(enc.user[rows], enc.item[rows], enc.n_users)
        popularity = np.bincount(self.train.items, minlength=enc.n_items).astype(np.float64)
        self.eval_sets = {
            "val": self._eval_set(stage == TRAIN, stage == VALID, popularity, 1),
            "test": self._eval_set((stage == TRAIN) | (stage == VALID), stage == TEST, popularity, 2),
        }
        self.train_ratings = enc.rating[rows]  # aligned with self.train.items (same row order)
        activity = self.train.lengths().astype(np.float64)
        pairs = np.unique(enc.user[rows] * enc.n_items + enc.item[rows])
        item_users = np.bincount(pairs % enc.n_items, minlength=enc.n_items).astype(np.float64)
        self.spec = DataSpec(
            enc.n_users,
            enc.n_items,
            max_len,
            popularity,
            activity,
            item_users,
            float(self.train_ratings.mean()),
            enc.item_info,
            enc.user_info,
            enc.name,
            enc.items.raw,
            self.cold,
            self.train,
            *np.unique(self.train_ratings, return_counts=True),
        )
        self._rank, self._world = 0, 1
        self.skip_train_batches = 0  # set when resuming mid-epoch (recframe.training.callbacks.ResumeBatches)
        self.predict_users: np.ndarray | None = None  # dense ids to predict for; None = every test user

    def _eval_set(self, before: np.ndarray, target_rows: np.ndarray, popularity: np.ndarray, stream: int) -> EvalSet:
        enc = self.log_
        seen = Histories.from_rows(enc.user[before], enc.item[before], enc.n_users)
        # Targets are a set per user: a repeated (user, item) inside one stage is ranked once.
        pairs = np.unique(np.stack([enc.user[target_rows], enc.item[target_rows]]), axis=1)
        targets = Histories.from_rows(pairs[0], pairs[1], enc.n_users)
        has_target = targets.lengths() > 0
        has_history = seen.lengths() > 0
        users = np.flatnonzero(has_target & has_history)
        # Users sorted by history length: each batch pads to its own longest history, so batches of
        # similar lengths cost far less than a random mix padded to max_len. Order never changes
        # the metrics (sum states over users).
        users = users[np.argsort(np.minimum(seen.lengths(users), self.max_len), kind="stable")]
        candidates = None
        if self.eval_negatives:
            weights = popularity if self.eval_sampling == "popularity" else None
            candidates = sample_negatives(
                users, [seen, targets], enc.n_items, self.eval_negatives, weights, seed=self.eval_seed * 10 + stream
            )
        return EvalSet(users, seen, targets, int((has_target & ~has_history).sum()), candidates)

    @property
    def fingerprint(self) -> dict[str, int]:
        """Users, items and interactions after filtering (PAD not counted)."""
        return {"users": self.log_.n_users - 1, "items": self.log_.n_items - 1, "interactions": len(self.log_)}

    def summary(self) -> str:
        """Human-readable description of the data pipeline, printed at start-up."""
        lines = [f"dataset {self.log_.name}: {self.fingerprint}"]
        if self.eval_negatives:
            lines.append(
                f"  SAMPLED evaluation: each target ranked among {self.eval_negatives} {self.eval_sampling} negatives"
            )
        lines += [f"  filter {r}" for r in self.log_.reports]
        if self.cold_report:
            lines.append(f"  {self.cold_report}")
        lines.append(summarize(self.log_, self.stage, self.split_name))
        if self.like is not None:
            sizes = {k: len(v) for k, v in self.like.items()}
            liked = {k: f"{v.label.mean():.1%}" for k, v in self.like.items()}
            lines.append(f"  like protocol: examples {sizes}, liked share {liked}")
        for name, ev in self.eval_sets.items():
            cold = (
                f"; {ev.cold_users:,} users with {name} targets but no history are not evaluated"
                if ev.cold_users
                else ""
            )
            lines.append(f"  {name}: {len(ev.users):,} users evaluated{cold}")
        return "\n".join(lines)

    def setup(self, stage: str | None = None) -> None:
        if self.trainer is not None:
            self._rank, self._world = self.trainer.global_rank, self.trainer.world_size

    def _loader(self, data: Dataset, batch_size: int, *, train: bool) -> DataLoader:
        if len(data) == 0:
            raise ValueError(f"no {'training' if train else 'evaluation'} examples in {self.log_.name}")
        lengths = data.lengths if train and self.bucket_by_length and isinstance(data, SequenceWindows) else None
        return batch_loader(
            data,
            batch_size,
            train=train,
            seed=self.seed,
            rank=self._rank,
            world_size=self._world,
            num_workers=self.num_workers,
            lengths=lengths,
        )

    def train_keys(self) -> np.ndarray:
        """Sorted, unique ``user * n_items + item`` keys of the training interactions."""
        users = np.repeat(np.arange(self.train.n_users), self.train.lengths())
        return np.unique(users * self.spec.n_items + self.train.items)

    def train_dataset(self) -> Dataset:
        if self.like is not None:
            return LikeBatches(self.like["train"])
        if self.sequential:
            return SequenceWindows(self.train, self.max_len, self.train_windows)
        return UserItemPairs(self.train, self.train_ratings if self.feedback == "rating" else None)

    def eval_dataset(self, stage: str) -> Dataset:
        if self.like is not None:
            return LikeBatches(self.like[stage])
        if self.feedback == "rating":
            rows = self.stage == {"val": VALID, "test": TEST}[stage]
            return RatedPairs(self.log_.user[rows], self.log_.item[rows], self.log_.rating[rows])
        ev = self.eval_sets[stage]
        return EvalUsers(ev.users, ev.seen, ev.targets, self.max_len, self.sequential, ev.candidates)

    def train_dataloader(self) -> DataLoader:
        loader = self._loader(self.train_dataset(), self.batch_size, train=True)
        loader.sampler.start_batch, self.skip_train_batches = self.skip_train_batches, 0
        return loader

    def val_dataloader(self) -> DataLoader | list:
        data = self.eval_dataset("val")
        if len(data) == 0 and self.split_name == "kfold":
            return []  # k-fold without a validation share: train a fixed number of epochs
        return self._loader(data, self.eval_batch_size, train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.eval_dataset("test"), self.eval_batch_size, train=False)

    def predict_dataloader(self) -> DataLoader:
        data = self.eval_dataset("test")
        if self.predict_users is not None:
            ev = self.eval_sets["test"]
            data = EvalUsers(self.predict_users, ev.seen, ev.targets, self.max_len, self.sequential)
        return self._loader(data, self.eval_batch_size, train=False)
