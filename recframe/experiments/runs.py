"""Run directories and their records, all written atomically (write to a temp file, then rename).

A run directory holds ``config.yaml`` (resolved), ``run.json`` (command, git commit, versions,
hardware, data fingerprint, status, times), ``metrics.json`` (``{"test/ndcg@10": ...}``),
``checkpoints/`` and the logger's files. A kill at any moment leaves either the old file or the new
one, never a half-written file that a later command would trust.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("recframe", "torch", "lightning", "torchmetrics", "transformers", "wandb", "omegaconf", "numpy", "pandas")


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON, written atomically."""
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: Path) -> Any:
    """The JSON in ``path``; a corrupted file raises naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the file is corrupted") from err


def git_commit(cwd: Path | None = None) -> dict[str, Any]:
    """The current commit and whether the tree has uncommitted changes (None outside a repository)."""
    cwd = cwd or Path(__file__).resolve().parents[2]

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def environment() -> dict[str, Any]:
    """Package versions and hardware, recorded with every run."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    import torch

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "packages": versions,
    }


@dataclass
class Run:
    """One run directory and its record."""

    dir: Path

    @classmethod
    def create(cls, root: Path, experiment: str) -> Run:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = root.resolve() / experiment / f"{stamp}-{secrets.token_hex(3)}"
        path.mkdir(parents=True, exist_ok=False)
        return cls(path)

    @property
    def id(self) -> str:
        return self.dir.name

    @property
    def checkpoints(self) -> Path:
        return self.dir / "checkpoints"

    def record(self) -> dict[str, Any]:
        path = self.dir / "run.json"
        return read_json(path) if path.is_file() else {}

    def update(self, **fields: Any) -> None:
        write_json(self.dir / "run.json", {**self.record(), **fields})

    def metrics(self) -> dict[str, float]:
        path = self.dir / "metrics.json"
        return read_json(path) if path.is_file() else {}

    def write_metrics(self, metrics: dict[str, float]) -> None:
        write_json(self.dir / "metrics.json", {**self.metrics(), **metrics})

    def start(self, experiment: str, config_yaml: str, seed: int) -> None:
        atomic_write(self.dir / "config.yaml", config_yaml)
        self.update(
            id=self.id,
            experiment=experiment,
            status="running",
            command=command_line(),
            started=dt.datetime.now().isoformat(timespec="seconds"),
            seed=seed,
            git=git_commit(),
            environment=environment(),
        )


def command_line() -> str:
    """The command that started this process, as a user would type it."""
    program = Path(sys.argv[0]).name
    program = "python -m recframe" if program == "__main__.py" else program
    return " ".join([program, *sys.argv[1:]])


def now() -> str:
    """The local time in ISO format, to the second (run records)."""
    return dt.datetime.now().isoformat(timespec="seconds")
