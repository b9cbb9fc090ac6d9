"""Shared test fixtures: where the real datasets are, and an isolated, offline data environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis: CI replays the same examples on every run (``derandomize``), so a failure reproduces
# from the log alone; ``HYPOTHESIS_PROFILE=dev`` explores fresh random examples, ten times as many.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev", derandomize=False, deadline=None, print_blob=True)
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(HYPOTHESIS_PROFILE)


def examples(n: int) -> int:
    """A test's ``max_examples``: ``n`` under the ``ci`` profile, ``10 * n`` under ``dev``."""
    return 10 * n if HYPOTHESIS_PROFILE == "dev" else n


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real datasets: ``$RECFRAME_DATA`` or ``../shared/data`` beside the repository."""
    env = os.environ.get("RECFRAME_DATA")
    path = Path(env) if env else Path(__file__).parents[1].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"real datasets not found at {path}: set RECFRAME_DATA to a folder with ml-100k/, s3rec/, ...")
    return path


@pytest.fixture
def real_data(shared_data: Path) -> Callable[..., Path]:
    """``real_data("ml-100k", "u.data", ...)``: that dataset's folder, or skip naming what is missing."""

    def find(folder: str, *files: str) -> Path:
        path = shared_data / folder
        missing = [name for name in files if not (path / name).is_file()]
        if not path.is_dir() or missing:
            pytest.skip(f"{path} not found or lacks {missing}: set RECFRAME_DATA to a folder with {folder}/ in it")
        return path

    return find


@pytest.fixture
def data_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ``RECFRAME_DATA``, an empty cache in ``tmp_path``, downloads forbidden; returns the cache folder."""
    cache = tmp_path / "cache"
    monkeypatch.delenv("RECFRAME_DATA", raising=False)
    monkeypatch.setenv("RECFRAME_CACHE", str(cache))
    monkeypatch.setenv("RECFRAME_OFFLINE", "1")
    return cache


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Every test starts from the same random state (torch, numpy, random)."""
    import lightning.pytorch as pl

    pl.seed_everything(0, verbose=False)


@pytest.fixture
def saved_figures(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Every matplotlib ``Figure`` saved during the test, by file name: assert on what it draws."""
    from matplotlib.figure import Figure

    saved: dict = {}
    savefig = Figure.savefig

    def record(self, fname, *args, **kwargs):
        saved[Path(fname).name] = self
        return savefig(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    return saved


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_real_pngs(paths: list[Path]) -> None:
    """Each path is a PNG file with a real plot in it (not an empty canvas)."""
    for path in paths:
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000, path


TINY_WORDS = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "alien",
    "space",
    "horror",
    "comedy",
    "love",
    "film",
    "item",
]
TINY_WORDS += [str(k) for k in range(12)]


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WordPiece tokenizer over :data:`TINY_WORDS`, saved with ``save_pretrained``."""
    from transformers import BertTokenizerFast

    folder = tmp_path_factory.mktemp("tokenizer")
    BertTokenizerFast(vocab={w: i for i, w in enumerate(TINY_WORDS)}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer: Path) -> Path:
    """A 1-layer, 6-wide BERT with its tokenizer in a local folder (what ``save_pretrained`` writes)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    config = BertConfig(
        vocab_size=len(TINY_WORDS),
        hidden_size=6,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=12,
        max_position_embeddings=32,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_tokenizer).save_pretrained(folder)
    return folder


def wandb_summary(wandb_dir: str) -> dict:
    """The summary of the offline W&B run in a run record's ``wandb_dir`` (read with ``wandb leet``)."""
    wandb_run = next(Path(wandb_dir).parent.glob("offline-run-*"))
    out = subprocess.run(
        [str(Path(sys.executable).parent / "wandb"), "leet", "inspect", "--summary", "--json", str(wandb_run)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["summary"]
