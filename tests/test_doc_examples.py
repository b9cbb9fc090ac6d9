"""The examples in the README and docs/ cannot drift from the code.

Every ``python -m recframe ...`` line of a ``bash`` block is parsed by the real argument parser (a
renamed command or option fails here), and where it names an experiment its config is loaded with
the line's overrides (an unknown experiment or override key fails here). ``python`` blocks are
executed, with the run directories they name replaced by a run trained here on synthetic data.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.M | re.S)
LOOP = re.compile(r"for (\w+) in ([^;]+); do (.+); done")
EXPERIMENT_COMMANDS = {"fit": "experiment", "reproduce": "experiment", "sentiment": "experiment"}


def blocks(language: str) -> list[tuple[str, str]]:
    """``(where, body)`` of every fenced block of ``language`` in the pages."""
    out = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for found in FENCE.finditer(text):
            if found.group(1) == language:
                line = text[: found.start()].count("\n") + 1
                out.append((f"{page.relative_to(ROOT)}:{line}", found.group(2)))
    return out


def commands() -> list[tuple[str, list[str]]]:
    """``(where, argv)`` of every recframe command line in the bash blocks (loops expanded)."""
    out = []
    for where, body in blocks("bash"):
        for line in body.replace("\\\n", " ").splitlines():
            line = line.split(" # ")[0].strip()
            loop = LOOP.search(line)
            lines = [loop.group(3).replace(f"${loop.group(1)}", v) for v in loop.group(2).split()] if loop else [line]
            for text in lines:
                for part in re.split(r"&&|;", text):
                    part = part.strip()
                    if part.startswith("python -m recframe"):
                        usage = part.replace("[", "").replace("]", "")  # "[--k 10]": an optional part shown
                        argv = [t.split("|")[0] for t in shlex.split(usage)[3:]]  # "all|dedup": either one
                        out.append((where, argv))
    return out


COMMANDS = commands()


def test_the_pages_hold_commands():
    assert len(COMMANDS) > 30  # the extraction works (a broken pattern would make every check vacuous)


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[f"{w} {' '.join(a)[:40]}" for w, a in COMMANDS])
def test_documented_command_parses_and_its_experiment_loads(where, argv):
    from recframe.cli import parser
    from recframe.experiments.config import load_config

    try:
        args, extra = parser().parse_known_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: `python -m recframe {' '.join(argv)}` does not parse")
    stray = [e for e in extra if "=" not in e and not e.startswith("~")]
    assert not stray, f"{where}: unknown arguments {stray}"
    overrides = [*getattr(args, "overrides", []), *extra]
    name = getattr(args, EXPERIMENT_COMMANDS.get(args.command, "-"), None)
    if args.command == "evaluate-conversation" and not args.target.startswith("runs/"):
        name = args.target
    if name and "=" not in name and not name.startswith("runs/"):
        load_config(name, overrides)


@pytest.fixture(scope="module")
def dialogue_run(tmp_path_factory) -> Path:
    from recframe.training.fitting import fit

    overrides = ["dataset.name=synthetic_dialogues", "~dataset.train", "trainer.max_epochs=1",
                 f"run.dir={tmp_path_factory.mktemp('doc-runs')}", "trainer.enable_progress_bar=false",
                 "logger.name=none"]  # fmt: skip
    return fit("redial/dialogue", overrides, echo=lambda *a, **k: None)[0].dir


@pytest.mark.slow
@pytest.mark.parametrize(("where", "body"), blocks("python"), ids=[w for w, _ in blocks("python")])
def test_documented_python_runs(where, body, dialogue_run):
    code = re.sub(r"runs/[\w./-]*<run>", str(dialogue_run), body)
    try:
        exec(compile(code, where, "exec"), {"__name__": "__doc_example__"})
    except Exception as err:  # any failure of a documented example is the finding
        pytest.fail(f"{where}: {type(err).__name__}: {err}")
