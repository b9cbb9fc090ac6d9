"""Every ``bash`` block of the README and docs/ is executed here, or skipped with the reason it states.

A block carries a marker in an HTML comment just above its fence (invisible on GitHub and on the
site): ``<!-- docs-test: run -->`` or ``<!-- docs-test: skip: <reason> -->``; a block without one
fails, so a new example cannot go unexecuted silently. Run blocks execute with ``bash -e`` in order,
in one sandbox shared by all blocks: a folder laid out like the repository (``experiments/``,
``benchmarks/``, ``scripts/`` linked; ``runs/`` and ``docs/`` its own) with ``../shared/data`` beside
it; a later block may use the runs of an earlier one, as a reader following the pages would.
``runs/X/<run>`` (also ``<run-id>``, ``<id>``, ``<B>``) stands for the newest run under ``runs/X``,
``<A>`` for the oldest.

Honest smoke runs, not reproductions: in the sandbox, ``python`` is a wrapper that appends smoke caps
(one epoch, a few batches, no progress bar, no W&B run: tests/test_cli.py reads a real offline one)
to the recframe commands that train or evaluate, so a documented ``fit beauty/sasrec-ce``
loads the real data, trains, tests and writes its run in seconds.
Blocks on real data need ``$RECFRAME_DATA`` (CI points it at ``../shared/data``) and skip without it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_doc_examples import FENCE, PAGES, ROOT

MARKER = re.compile(r"<!-- docs-test: (.*?) -->\n\Z")  # the line just above a fence
PLACEHOLDER = re.compile(r"(runs/[\w./-]+?)/<(run-id|run|id|A|B)>")
# Appended to the recframe commands that train or evaluate (later overrides win).
SMOKE_CAPS = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=2",
              "trainer.limit_test_batches=2", "trainer.enable_progress_bar=false", "logger.name=none"]  # fmt: skip
CAPPED = {"fit", "reproduce", "validate", "test", "evaluate-conversation", "sentiment"}
WRAPPER = f"""#!{sys.executable}
# docs sandbox: the real interpreter, with smoke caps appended to recframe's training commands
import os, sys
argv = sys.argv[1:]
if argv[:2] == ["-m", "recframe"] and len(argv) > 2 and argv[2] in {sorted(CAPPED)!r} and "--resume" not in argv:
    argv += {SMOKE_CAPS!r}
os.execv({sys.executable!r}, [{sys.executable!r}, *argv])
"""
NEEDS_DATA = re.compile(r"\b(beauty|sports|lastfm|ml-100k|ml-latest-small|redial|opendialkg|inspired)[/-]")


def bash_blocks() -> list[tuple[str, str | None, str]]:
    """``(where, marker, body)`` of every bash block, in page order."""
    out = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for found in FENCE.finditer(text):
            if found.group(1) == "bash":
                marker = MARKER.search(text, 0, found.start())
                line = text[: found.start(2)].count("\n")
                out.append((f"{page.relative_to(ROOT)}:{line}", marker and marker.group(1), found.group(2)))
    return out


BLOCKS = bash_blocks()


def resolve_placeholders(body: str) -> str:
    """``runs/X/<run>`` → the newest (``<A>``: oldest) run folder under ``runs/X`` at execution time."""

    def newest(found: re.Match) -> str:
        pick = "head -1" if found.group(2) == "A" else "tail -1"
        return f"\"$(ls -d {found.group(1)}/*/ | {pick} | sed 's:/$::')\""

    return PLACEHOLDER.sub(newest, body)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A folder and environment in which documented commands run as a reader would run them."""
    base = tmp_path_factory.mktemp("docs-sandbox")
    folder = base / "repo"
    folder.mkdir()
    for linked in ("experiments", "benchmarks", "scripts"):
        (folder / linked).symlink_to(ROOT / linked)
    bin_dir = base / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "python"
    wrapper.write_text(WRAPPER, encoding="utf-8")
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1",
           "WANDB_MODE": "offline", "COLUMNS": "120"}  # fmt: skip
    data = Path(os.environ.get("RECFRAME_DATA") or ROOT.parent / "shared" / "data")  # as tests/conftest.py
    if data.is_dir():
        (base / "shared").mkdir()
        (base / "shared" / "data").symlink_to(data.resolve())
        env["RECFRAME_DATA"] = str(base / "shared" / "data")
    return folder, env


def test_every_bash_block_is_marked():
    unmarked = [where for where, marker, _ in BLOCKS if marker is None]
    assert len(BLOCKS) > 15 and not unmarked, f"bash blocks without a docs-test marker: {unmarked}"
    bad = [where for where, marker, _ in BLOCKS if marker and not re.fullmatch(r"run|skip: .{10,}", marker)]
    assert not bad, f"markers must be 'run' or 'skip: <reason>': {bad}"


@pytest.mark.slow
@pytest.mark.parametrize(("where", "marker", "body"), BLOCKS, ids=[w for w, _, _ in BLOCKS])
def test_documented_shell_block_runs(where, marker, body, sandbox):
    if marker is None or marker.startswith("skip: "):
        pytest.skip(f"{where}: {marker[6:] if marker else 'unmarked (see test_every_bash_block_is_marked)'}")
    folder, env = sandbox
    if NEEDS_DATA.search(body) and not (env.get("RECFRAME_DATA") and Path(env["RECFRAME_DATA"]).is_dir()):
        pytest.skip(f"{where}: needs the real datasets (set RECFRAME_DATA)")
    script = "set -euo pipefail\n" + resolve_placeholders(body.replace("\\\n", " "))
    done = subprocess.run(["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (
        f"{where} failed ({done.returncode}):\n{script}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
