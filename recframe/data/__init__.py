"""Datasets: loaders registered by name, the DataModule, and the shared data structures.

A dataset loader is a function ``(**config) -> Interactions``; the ``dataset`` section of an
experiment names one and passes its keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable

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

__all__ = ["DATASETS", "Interactions"]
