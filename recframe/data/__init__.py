"""Datasets: loaders registered by name, the DataModule, and the shared data structures.

A dataset loader is a function ``(**config) -> Interactions``; the ``dataset`` section of an
experiment names one and passes its keyword arguments. Conversational loaders return
:class:`~recframe.conversation.dialogue.Dialogues` instead; :func:`datamodule_class` names the
DataModule (and so the ``data`` section's keys) each dataset feeds.
"""

from __future__ import annotations

from collections.abc import Callable

from recframe.conversation.datamodule import ConversationDataModule
from recframe.conversation.ievalm import opendialkg, redial_ievalm
from recframe.conversation.inspired import inspired
from recframe.conversation.redial import redial
from recframe.conversation.synthetic import synthetic_dialogues
from recframe.data.datamodule import RecDataModule
from recframe.data.interactions import Interactions
from recframe.data.movielens import movielens
from recframe.data.s3rec import s3rec
from recframe.data.synthetic import synthetic
from recframe.data.table import csv
from recframe.registry import Registry

DATASETS: Registry[Callable[..., Interactions]] = Registry("dataset")
DATASETS.register("synthetic")(synthetic)
DATASETS.register("movielens")(movielens)
DATASETS.register("s3rec")(s3rec)
DATASETS.register("csv")(csv)
DATASETS.register("redial")(redial)
DATASETS.register("synthetic_dialogues")(synthetic_dialogues)
DATASETS.register("opendialkg")(opendialkg)
DATASETS.register("redial_ievalm")(redial_ievalm)
DATASETS.register("inspired")(inspired)
CONVERSATIONAL = (
    "redial",
    "synthetic_dialogues",
    "opendialkg",
    "redial_ievalm",
    "inspired",
)  # loaders that return dialogues, for the ConversationDataModule


def datamodule_class(dataset: str) -> type:
    """The DataModule that wraps what dataset loader ``dataset`` returns."""
    return ConversationDataModule if dataset in CONVERSATIONAL else RecDataModule


__all__ = ["DATASETS", "Interactions", "datamodule_class"]
