"""recframe's performance benchmarks in one command: against RecBole 1.2.1, against the hardware floor, scaling.

    OMP_NUM_THREADS=1 python benchmarks/run.py --suite cpu     # real datasets; about an hour on 2 vCPUs
    python benchmarks/run.py --suite gpu [--compile]           # needs CUDA; bf16-mixed, a few minutes
    python benchmarks/run.py --suite tiny --only floor,scaling # synthetic, seconds (the test runs this)

Parts (``--only``, comma-separated): ``recbole`` (``recbole_side.py``: both frameworks on the same data,
split, hyper-parameters and epochs, each in its own process; creates RecBole's virtual environment on
first use), ``floor`` (``floor.measure`` on the same rows: recframe vs bare torch), ``scaling``
(``scaling.py``: synthetic logs of growing size and catalogue). ``--rows`` keeps only the rows whose
experiment is listed (e.g. ``--rows ml-100k/mf``).

Writes ``<out>/<suite>-<date>.json`` (everything, each worker's raw output included) and
``<out>/<suite>-<date>.md`` (a machine/environment header, the tables and the protocol notes), plus
one scaling PNG per measurement. Scratch files (RecBole atomic files and logs) go to ``<out>/scratch``.
Timings are medians: of the training epochs of a run, of ``--repeats`` evaluation passes, and across
``--runs`` worker processes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import recbole_side
import scaling
from recbole_side import Row
from report import markdown
from workers import python_command, run_worker

HERE = Path(__file__).resolve().parent
PARTS = ("recbole", "floor", "scaling")

REAL_ROWS = (
    Row("BPR-MF · ML-100K", "ml-100k/mf", "BPR"),
    Row("GRU4Rec · ML-100K", "ml-100k/gru4rec", "GRU4Rec"),
    Row("SASRec · ML-100K", "ml-100k/sasrec", "SASRec"),
    Row("BPR-MF · Beauty", "beauty/mf", "BPR"),
    Row("GRU4Rec · Beauty", "beauty/gru4rec", "GRU4Rec"),
    Row("SASRec · Beauty", "beauty/sasrec", "SASRec"),
)
# The ML-100K experiments with their data swapped for a small synthetic world: every code path, no files.
TINY_DATA = (
    "~dataset.variant",
    "dataset.name=synthetic",
    "dataset.n_users=120",
    "dataset.n_items=60",
    "data.eval_batch_size=64",
)
TINY_ROWS = tuple(Row(r.label.replace("ML-100K", "synthetic"), r.experiment, r.model, TINY_DATA) for r in REAL_ROWS[:3])


@dataclass(frozen=True)
class Suite:
    """What one ``--suite`` runs; command-line options override the numbers."""

    name: str
    rows: tuple[Row, ...]
    floor_rows: tuple[Row, ...]
    epochs: int
    repeats: int
    sizes: tuple[int, ...]
    items: tuple[int, ...]
    steps: int | None
    parts: tuple[str, ...] = PARTS
    overrides: tuple[str, ...] = ()  # added to every recframe run of the suite
    gpu: bool = False
    timeout: float | None = None
    notes: tuple[str, ...] = ()


COMPILE_NOTE = [
    "--compile: recframe's backbone is torch.compile'd in place; each process compiles anew, so a scaling "
    "point's single epoch and evaluation include compilation (the RecBole rows' medians over epochs and "
    "passes mostly do not)."
]
GPU_OVERRIDES = ("trainer.accelerator=gpu", "trainer.precision=bf16-mixed")
SIZES, ITEMS = (10**5, 10**6, 10**7), (10**4, 10**5, 10**6)
SUITES = {
    "cpu": Suite("cpu", REAL_ROWS, floor_rows=REAL_ROWS, epochs=3, repeats=3, sizes=SIZES, items=ITEMS, steps=100),
    "gpu": Suite(
        "gpu",
        REAL_ROWS,
        floor_rows=(),
        epochs=3,
        repeats=3,
        sizes=SIZES,
        items=ITEMS,
        steps=100,
        parts=("recbole", "scaling"),
        overrides=GPU_OVERRIDES,
        gpu=True,
        notes=("floor.py times its bare loops on the CPU only, so the gpu suite has no floor part.",),
    ),
    "tiny": Suite(
        "tiny",
        TINY_ROWS,
        floor_rows=TINY_ROWS[2:],
        epochs=1,
        repeats=1,
        sizes=(2_000, 6_000),
        items=(100, 300),
        steps=5,
        timeout=600,
    ),
}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def recframe_versions() -> dict[str, str]:
    names = ("recframe", "torch", "lightning", "torchmetrics", "numpy", "pandas", "omegaconf")
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def header(suite: Suite, recbole_env: dict[str, str] | None) -> dict[str, Any]:
    return {
        "suite": suite.name,
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "platform": platform.platform(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "recframe_env": recframe_versions(),
        "recbole_env": recbole_env,
    }


def require_cuda() -> None:
    """Stop with a clear message unless this environment's torch sees a CUDA device."""
    probe = "import torch, sys; print(torch.__version__); sys.exit(0 if torch.cuda.is_available() else 1)"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    if proc.returncode != 0:
        version = proc.stdout.strip() or "?"
        raise SystemExit(
            f"--suite gpu needs a CUDA GPU, but torch {version} reports torch.cuda.is_available() == False here. "
            "Install a CUDA build of torch on a GPU machine, or run --suite cpu."
        )


def run_floor(suite: Suite, rows: tuple[Row, ...], out: Path, echo=print) -> dict[str, Any]:
    spec = {
        "rows": [
            {"label": r.label, "experiment": r.experiment, "overrides": [*r.overrides, *suite.overrides]} for r in rows
        ],
        "epochs": suite.epochs,
        "repeats": suite.repeats,
    }
    path = out / "scratch" / "floor.json"
    path.write_text(json.dumps(spec))
    echo(f"floor: {len(rows)} rows in one process")
    result = run_worker(python_command(sys.executable, "recframe_worker.py", "floor", str(path)), timeout=suite.timeout)
    for row in result.get("rows", []):
        row["eval_over_matmul_mask_topk"] = row["eval_s"] / row["floor_eval_matmul_mask_topk_s"]
    return result


def run_recbole(suite: Suite, rows: tuple[Row, ...], args: argparse.Namespace, echo=print) -> dict[str, Any]:
    from recframe.experiments.config import load_config

    rows = tuple(Row(r.label, r.experiment, r.model, (*r.overrides, *suite.overrides)) for r in rows)
    for row in rows:  # a bad --same-time-set override fails here, not after RecBole's epochs
        load_config(row.experiment, [*row.overrides, *args.same_time_set])
    python = recbole_side.ensure_venv(args.recbole_venv, echo=echo)
    results = []
    for row in rows:
        results.append(
            recbole_side.compare_row(
                row,
                python=python,
                scratch=args.out / "scratch",
                epochs=suite.epochs,
                eval_repeats=suite.repeats,
                runs=args.runs,
                gpu=suite.gpu,
                compile=args.compile,
                as_shipped=args.recbole_as_shipped,
                timeout=suite.timeout,
                same_time_cap=args.same_time_cap,
                same_time_overrides=tuple(args.same_time_set),
                echo=echo,
            )
        )
    notes = recbole_side.protocol_notes(suite.gpu, args.recbole_as_shipped)
    return {"rows": results, "notes": notes, "epochs": suite.epochs, "same_time_cap": args.same_time_cap}


def run_scaling(suite: Suite, args: argparse.Namespace, stem: Path, echo=print) -> dict[str, Any]:
    return scaling.measure(
        list(args.sizes or suite.sizes),
        list(args.items or suite.items),
        steps=suite.steps,
        eval_batch_size=args.eval_batch_size,
        overrides=suite.overrides,
        compile=args.compile,
        plots=stem.parent / f"{stem.name}-scaling",
        timeout=suite.timeout,
        echo=echo,
    )


def _threads(result: dict[str, Any]) -> list[int]:
    """Every torch thread count a worker reported (the header shows them)."""
    found = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("torch_threads"), int):
                found.add(node["torch_threads"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return sorted(found)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--suite", choices=sorted(SUITES), default="cpu")
    p.add_argument("--only", help=f"comma-separated parts among {list(PARTS)} (default: the suite's)")
    p.add_argument("--rows", help="comma-separated experiments to keep, e.g. ml-100k/mf,beauty/sasrec")
    p.add_argument("--epochs", type=int, help="training epochs per run (default: the suite's)")
    p.add_argument("--repeats", type=int, help="evaluation passes per run and floor repeats (default: the suite's)")
    p.add_argument("--runs", type=int, default=1, help="worker processes per framework and row (default 1)")
    p.add_argument("--sizes", type=scaling.parse_sizes, help="scaling: interactions, e.g. 1e5,1e6")
    p.add_argument("--items", type=scaling.parse_sizes, help="scaling: catalogue sizes, e.g. 1e4,1e5")
    p.add_argument("--steps", type=int, help="scaling: training batches timed per point (0 = whole epoch)")
    p.add_argument("--eval-batch-size", type=int, default=256, help="scaling: users per evaluation batch")
    p.add_argument(
        "--same-time-cap",
        type=float,
        default=120.0,
        help="recbole part: also train recframe for RecBole's training time, capped at this many seconds, "
        "and compare test metrics (0 = off; default 120)",
    )
    p.add_argument(
        "--same-time-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="recbole part: a config override for recframe's same-time run only, e.g. data.batch_size=64 "
        "(repeatable; shown in the report beside the figures)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile recframe's backbone (in place)")
    p.add_argument("--recbole-venv", type=Path, default=recbole_side.DEFAULT_VENV)
    p.add_argument(
        "--recbole-as-shipped",
        action="store_true",
        help="keep the autograd anomaly detection that importing RecBole's models turns on (off by default)",
    )
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args()

    suite = SUITES[args.suite]
    parts = tuple(x.strip() for x in args.only.split(",")) if args.only else suite.parts
    unknown = [x for x in parts if x not in PARTS]
    if unknown:
        p.error(f"unknown part {unknown[0]!r}; known: {list(PARTS)}")
    if suite.gpu and "floor" in parts:
        p.error("the gpu suite has no floor part: floor.py times its bare loops on the CPU only")
    rows, floor_rows = suite.rows, suite.floor_rows
    if args.rows:
        keep = {x.strip() for x in args.rows.split(",")}
        known = sorted({r.experiment for r in suite.rows})
        if keep - set(known):
            p.error(f"unknown row {sorted(keep - set(known))[0]!r} for suite {suite.name}; known: {known}")
        rows = tuple(r for r in rows if r.experiment in keep)
        floor_rows = tuple(r for r in suite.rows if r.experiment in keep)
    overrides = {"epochs": args.epochs, "repeats": args.repeats}
    steps = suite.steps if args.steps is None else (args.steps or None)
    suite = Suite(**{**suite.__dict__, **{k: v for k, v in overrides.items() if v is not None}, "steps": steps})
    if suite.gpu:
        require_cuda()
    data = HERE.parent.parent / "shared" / "data"
    if "RECFRAME_DATA" not in os.environ and data.is_dir():
        os.environ["RECFRAME_DATA"] = str(data)  # as the Makefile does

    args.out = args.out.resolve()  # workers run in their own working directories
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scratch").mkdir(exist_ok=True)
    stem = args.out / f"{suite.name}-{dt.date.today().isoformat()}"
    recbole_env = None
    result: dict[str, Any] = {}
    if "recbole" in parts:
        print(f"recbole: {len(rows)} rows, {suite.epochs} epochs each side")
        result["recbole"] = run_recbole(suite, rows, args)
        recbole_env = recbole_side.recbole_versions(recbole_side.ensure_venv(args.recbole_venv))
    if "floor" in parts:
        result["floor"] = run_floor(suite, floor_rows, args.out)
    if "scaling" in parts:
        print(f"scaling: sizes {list(args.sizes or suite.sizes)}, items {list(args.items or suite.items)}")
        result["scaling"] = run_scaling(suite, args, stem)
    result = {
        "header": {**header(suite, recbole_env), "torch_threads": _threads(result)},
        "settings": {
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "parts": list(parts),
            "epochs": suite.epochs,
            "repeats": suite.repeats,
            "runs": args.runs,
            "overrides": list(suite.overrides),
            "compile": args.compile,
            "notes": list(suite.notes) + (COMPILE_NOTE if args.compile else []),
        },
        **result,
    }
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    text = markdown(result)
    stem.with_suffix(".md").write_text(text)
    print(text)
    print(f"wrote {stem.with_suffix('.json')} and {stem.with_suffix('.md')}")


if __name__ == "__main__":
    main()
