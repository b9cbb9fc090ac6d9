"""The conversational DataModule: recommendation turns as evaluation events over the whole catalogue.

Each (turn, target) pair is one *event*, the conversational counterpart of a user: its dense "user"
id indexes ``spec.user_info`` (the rendered context, dialogue and turn), its history is the items
mentioned in the context (first-mention order) and its label the target. Training events come from
the training dialogues (a seeded share is held out for validation), test events from the test
dialogues. Batches use the core's vocabulary (``user``, ``history``, ``labels``, ``targets``,
``seen_rows``/``seen_items``), so :class:`~recframe.module.RecModule`, the metrics, ``fit`` and the
run records work unchanged. Under the ``dedup`` variant the context items are the "seen" items the
module masks; under ``all`` nothing is masked.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from recframe.conversation.dialogue import EXTRA_TRAIN, Dialogue, Dialogues
from recframe.conversation.sentiment import first_mentions
from recframe.conversation.turns import VARIANTS, Turn, context_lines, recommendation_turns
from recframe.data.batching import batch_loader
from recframe.data.datamodule import DataSpec
from recframe.data.histories import Histories
from recframe.data.interactions import PAD, IdMap

STAGES = ("train", "val", "test")
UNITS = ("target", "turn")
# spec.user_info per event: where it comes from, its context (text, lines), and per context item
# (in history order) what was said about it and, for training events, its sentiment label
USER_COLUMNS = ["stage", "dialogue", "turn", "context", "utterances", "mentions", "mention_labels"]


@dataclass(frozen=True)
class ConversationLog:
    """What the run records need of a dataset: the id maps (events as users) and its name."""

    users: IdMap
    items: IdMap
    name: str


@dataclass(frozen=True)
class Events:
    """The events of one stage (dense ids); context items and targets are indexed by dense event id."""

    users: np.ndarray  # [E]
    context: Histories
    targets: Histories  # one target, or every target of a turn under ``unit: turn``

    def __len__(self) -> int:
        return len(self.users)


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.int64))


class EventBatches(Dataset):
    """Batches of events: ``history`` = the last ``max_len`` context items; ``labels`` (training) hold
    the target at the last real history position (sequence backbones) or in column 0 (the others),
    ``targets`` (evaluation) the event's targets."""

    def __init__(self, events: Events, max_len: int, *, train: bool, mask_context: bool, sequential: bool) -> None:
        self.events, self.max_len, self.train = events, max_len, train
        self.mask_context, self.sequential = mask_context, sequential

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, index: np.ndarray) -> dict[str, torch.Tensor]:
        ev = self.events
        users = ev.users[index]
        history = ev.context.last(users, self.max_len)  # [B, T], right-padded (all PAD without items)
        batch = {"user": _tensor(users), "history": _tensor(history)}
        if self.train:
            labels = np.zeros_like(history)
            last = np.maximum((history != PAD).sum(1) - 1, 0) if self.sequential else 0
            labels[np.arange(len(users)), last] = ev.targets.padded(users)[:, 0]  # one target per training event
            return batch | {"labels": _tensor(labels)}
        rows, items = ev.context.flat(users) if self.mask_context else (np.zeros(0), np.zeros(0))
        return batch | {
            "targets": _tensor(ev.targets.padded(users)),
            "seen_rows": _tensor(rows),
            "seen_items": _tensor(items),
        }


class ConversationDataModule(pl.LightningDataModule):
    """Recommendation turns of a :class:`~recframe.conversation.dialogue.Dialogues` as ranking events.

    Args:
        dialogues: the parsed dataset (train and test dialogues, catalogue).
        sequential: whether the backbone reads ``labels`` at each row's last history position (sequence
            backbones) or in column 0; batches always carry the context items as ``history``.
        variant: ``dedup`` (targets already mentioned are not evaluated and the context's items are
            removed from the ranking; the headline) or ``all``.
        unit: what one evaluation event is: each ``target`` of a turn (the default: every ground-truth
            item counts once) or each ``turn`` (recall = share of its targets found, averaged over
            turns, as Kostric & Balog report). Training always uses one event per target.
        train_repeats: also train on targets already mentioned in the context (off: the model is not
            taught to repeat what the dialogue already said).
        train_seeker_turns: also train on the items each *seeker* utterance names (predicting what the
            seeker brings up next: more training events from the same training dialogues).
        val_share: share of the training dialogues held out (by dialogue) for validation, when the
            source has no validation split of its own.
        split_seed: seed of that hold-out, fixed across training seeds.
        train_share: share of the training dialogues kept (seeded by ``split_seed``; validation and test
            unchanged): for learning curves, i.e. how recall grows with the number of dialogues.
        context_utterances: how many of the latest utterances the context keeps (None: all).
        max_len: most context items a batch carries (the latest ones).
        batch_size / eval_batch_size / num_workers: as in the core DataModule.
        seed: shuffling seed of the training batches.
    """

    def __init__(
        self,
        dialogues: Dialogues,
        *,
        sequential: bool = True,
        variant: str = "dedup",
        unit: str = "target",
        train_repeats: bool = False,
        train_seeker_turns: bool = False,
        val_share: float = 0.1,
        split_seed: int = 0,
        train_share: float = 1.0,
        context_utterances: int | None = None,
        max_len: int = 50,
        batch_size: int = 64,
        eval_batch_size: int = 256,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown data.variant {variant!r}; known: {list(VARIANTS)}")
        if unit not in UNITS:
            raise ValueError(f"unknown data.unit {unit!r}; known: {list(UNITS)}")
        if not 0 < val_share < 1:
            raise ValueError(f"data.val_share must be in (0, 1), got {val_share}")
        if not 0 < train_share <= 1:
            raise ValueError(f"data.train_share must be in (0, 1], got {train_share}")
        if max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")
        self.variant, self.unit, self.sequential, self.max_len = variant, unit, sequential, max_len
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self.seed, self.feedback, self.split_name = seed, "implicit", f"dialogue turns ({variant})"
        catalogue = dialogues.catalogue
        items = IdMap(np.sort(np.asarray(catalogue.index, dtype=str)), "item")
        titles = catalogue["title"].astype(str).to_dict()
        self.reports = list(dialogues.reports)
        rows = []
        stages = self._stages(dialogues, val_share, split_seed)
        if train_share < 1:
            kept = np.random.default_rng([split_seed, 1]).random(len(stages["train"])) < train_share
            stages["train"] = [d for d, k in zip(stages["train"], kept, strict=True) if k]
            self.reports.append(f"train: {len(stages['train']):,} dialogues kept (data.train_share={train_share})")
            if not stages["train"]:
                raise ValueError(f"{dialogues.name}: no training dialogues left (data.train_share={train_share})")
        for stage, stage_dialogues in stages.items():
            every = train_seeker_turns and stage == "train"
            turns = [t for d in stage_dialogues for t in recommendation_turns(d, every_speaker=every)]
            repeats = train_repeats if stage == "train" else variant == "all"
            stage_unit = "target" if stage == "train" else unit
            rows += self._events(stage, turns, repeats, stage_unit, set(items.raw), titles, context_utterances)
        table = pd.DataFrame(rows)
        users = IdMap(np.sort(table["event"].to_numpy(dtype=str)), "event")
        table.index = users.encode(table["event"].to_numpy(dtype=str))
        table = table.sort_index()
        self.log_ = ConversationLog(users, items, dialogues.name)
        context, targets = (
            Histories.from_rows(
                np.repeat(table.index.to_numpy(), table[column].map(len).to_numpy()),
                items.encode(np.asarray([i for values in table[column] for i in values], dtype=str)),
                users.size,
            )
            for column in ("context_items", "targets")
        )
        self.events = {s: Events(table.index[table["stage"] == s].to_numpy(), context, targets) for s in STAGES}
        train_targets = np.zeros(users.size, dtype=np.int64)
        train_users = self.events["train"].users
        train_targets[train_users] = targets.padded(train_users)[:, 0]
        popularity = np.bincount(train_targets[train_users], minlength=items.size).astype(np.float64)
        item_info = catalogue.reindex(items.raw)
        item_info.index = np.arange(1, items.size)
        self.spec = DataSpec(
            n_users=users.size,
            n_items=items.size,
            max_len=max_len,
            item_popularity=popularity,
            user_activity=context.lengths().astype(np.float64),
            item_users=popularity,
            item_info=item_info.reindex(np.arange(items.size)),
            user_info=table[USER_COLUMNS].reindex(np.arange(users.size)),
            name=dialogues.name,
            item_ids=items.raw,
            train_items=context,
            train_targets=train_targets,
        )
        self._rank, self._world = 0, 1
        self.skip_train_batches = 0
        self.predict_users: np.ndarray | None = None

    @staticmethod
    def _stages(dialogues: Dialogues, val_share: float, split_seed: int) -> dict[str, list]:
        """Train / val / test dialogues: the source's own validation split, or a seeded hold-out of the
        training dialogues; the source's extra training dialogues (``train_extra``) join training only."""
        train, test = list(dialogues.dialogues["train"]), list(dialogues.dialogues["test"])
        extra = list(dialogues.dialogues.get(EXTRA_TRAIN, []))  # training only, never held out
        if "val" in dialogues.dialogues:
            return {"train": train + extra, "val": list(dialogues.dialogues["val"]), "test": test}
        held = np.random.default_rng(split_seed).random(len(train)) < val_share
        stages = {
            "train": [d for d, h in zip(train, held, strict=True) if not h] + extra,
            "val": [d for d, h in zip(train, held, strict=True) if h],
            "test": test,
        }
        for stage, part in stages.items():
            if not part:
                raise ValueError(f"{dialogues.name}: no {stage} dialogues (data.val_share={val_share})")
        return stages

    def _events(
        self,
        stage: str,
        turns: list[Turn],
        repeats: bool,
        unit: str,
        known: set[str],
        titles: dict[str, str],
        last: int | None,
    ) -> list[dict]:
        """One row per event; targets outside the catalogue and turns left without a target are counted."""
        rows, unknown, empty, n_targets = [], 0, 0, 0
        for turn in turns:
            wanted = turn.targets if repeats else turn.new_targets
            inside = [t for t in wanted if t in known]
            unknown += len(wanted) - len(inside)
            if not inside:
                empty += 1
                continue
            n_targets += len(inside)
            lines = context_lines(turn, titles, last)
            context_items = [i for i in turn.mentioned if i in known]
            # what was said about each context item, from the context alone (never a later reply)
            said = first_mentions(Dialogue(turn.dialogue, turn.context), titles)
            mentions = [[said[i].utterance, said[i].reply, said[i].by_seeker] for i in context_items]
            labels = dict(zip(turn.mentioned, turn.sentiment, strict=True))
            for group in [[t] for t in inside] if unit == "target" else [inside]:
                rows.append(
                    {
                        "event": f"{stage}:{turn.dialogue}:{turn.index:03d}:{group[0]}",
                        "stage": stage,
                        "dialogue": turn.dialogue,
                        "turn": turn.index,
                        "context": "\n".join(lines),
                        "utterances": lines,
                        "context_items": context_items,
                        "mentions": mentions,
                        # the questionnaire's sentiment labels: training events only, never an input
                        "mention_labels": [labels[i] for i in context_items] if stage == "train" else None,
                        "targets": group,
                    }
                )
        line = f"{stage}: {len(turns) - empty:,} turns, {n_targets:,} targets, {len(rows):,} events"
        if empty:
            line += f"; {empty:,} turns without a{'' if repeats else ' new'} target left out"
        if unknown:
            line += f"; {unknown:,} targets not in the catalogue left out"
        self.reports.append(line)
        if not rows:
            raise ValueError(f"no {stage} events: {line}")
        return rows

    @property
    def fingerprint(self) -> dict[str, int]:
        """Catalogue items and evaluation events per stage (what must match before comparing numbers)."""
        return {"items": self.log_.items.size - 1, **{f"{s}_events": len(self.events[s]) for s in STAGES}}

    def summary(self) -> str:
        """Human-readable description of the turns, printed at start-up."""
        head = (
            f"dataset {self.log_.name}: {self.log_.items.size - 1:,} catalogue items, "
            f"variant {self.variant}, one event per {self.unit}"
        )
        return "\n".join([head, *(f"  {r}" for r in self.reports)])

    def train_keys(self) -> np.ndarray:
        """Sorted ``event * n_items + target`` keys of the training events (for 'unseen' negatives)."""
        users = self.events["train"].users
        return np.unique(users * self.spec.n_items + self.spec.train_targets[users])

    def setup(self, stage: str | None = None) -> None:
        if self.trainer is not None:
            self._rank, self._world = self.trainer.global_rank, self.trainer.world_size

    def _loader(self, stage: str, *, train: bool) -> DataLoader:
        mask = self.variant == "dedup"
        data = EventBatches(
            self.events[stage], self.max_len, train=train, mask_context=mask, sequential=self.sequential
        )
        return batch_loader(
            data,
            self.batch_size if train else self.eval_batch_size,
            train=train,
            seed=self.seed,
            rank=self._rank,
            world_size=self._world,
            num_workers=self.num_workers,
        )

    def train_dataloader(self) -> DataLoader:
        loader = self._loader("train", train=True)
        loader.sampler.start_batch, self.skip_train_batches = self.skip_train_batches, 0
        return loader

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
