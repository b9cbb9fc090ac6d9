"""Mutation testing of the data, metric, loss, module and config code: do the tests catch real bugs?

Runs `mutmut <https://github.com/boxed/mutmut>`_ 3 (``pip install -e ".[mutation]"``) over one target
at a time — a set of source files and the test files that cover them — so each run takes minutes,
not the hours that the whole suite against every mutant would. mutmut forks each mutant from a
process that has already imported torch and Lightning and runs only the tests that call the mutated
function, which is what makes it fit a 2-core machine (cosmic-ray and mutatest start a fresh
interpreter and the whole test command per mutant: ~10 s of imports each here).

Each target is prepared in its own scratch copy of the working tree (``--workdir``), never in the
checkout. ``--sample N`` draws N mutants per target with a fixed seed (the same names before and
after a test change, as long as the source is unchanged); ``--time-cap`` stops a target after that
many seconds and reports the mutants it did not reach as *not run*. The score is
``killed / (killed + survived)``: timeouts count as killed, mutants with no covering test as
survived, and the mutants in :data:`EQUIVALENT` (no test can tell them from the original) are
left out by name with the reason.

Run: ``OMP_NUM_THREADS=1 RECFRAME_DATA=../shared/data python benchmarks/mutation.py --targets losses
--sample 60 --json benchmarks/results/scratch/losses.json``; ``--report`` turns one or more of those
JSON files into the Markdown report. A benchmark, not a CI gate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# target -> (files mutmut mutates, the test files that cover them). Slow tests stay out: they
# repeat, at length, paths the fast tests already cover.
TARGETS: dict[str, tuple[list[str], list[str]]] = {
    "losses": (["recframe/losses.py"], ["tests/test_losses.py"]),
    "module": (
        ["recframe/module.py"],
        [
            "tests/test_module.py",
            "tests/test_protocols.py",
            "tests/test_optimiser.py",
            "tests/test_losses.py",
            "tests/test_rating.py",
            "tests/test_cold.py",
            "tests/test_like.py",
            "tests/test_config.py",
        ],
    ),
    "config": (["recframe/experiments/config.py"], ["tests/test_config.py", "tests/test_bad_input.py"]),
    "metrics": (
        ["recframe/metrics/*"],
        [
            "tests/test_metrics.py",
            "tests/test_metrics_beyond.py",
            "tests/test_metrics_exposure.py",
            "tests/test_metrics_fairness.py",
            "tests/test_rating.py",
            "tests/test_like.py",
            "tests/test_protocols.py",
            "tests/test_properties.py",
            "tests/test_cold.py",
            "tests/test_module.py",
        ],
    ),
    "data": (
        ["recframe/data/*"],
        [
            "tests/test_data_core.py",
            "tests/test_data_table.py",
            "tests/test_data_movielens.py",
            "tests/test_data_s3rec.py",
            "tests/test_download.py",
            "tests/test_bad_input.py",
            "tests/test_cold.py",
            "tests/test_like.py",
            "tests/test_properties.py",
            "tests/test_protocols.py",
        ],
    ),
}

# Mutants no test can kill because the mutated program behaves identically; name -> why.
CPU_ONLY = "only a device argument changed: the same tensors on a CPU-only machine, where the tests run"
SAME_AXIS = "sums the last axis of a 2-D tensor either way (dim -1 is dim 1)"
EQUIVALENT: dict[str, str] = {
    "recframe.losses.xǁBlockedSoftmaxCEǁforward__mutmut_16": SAME_AXIS,
    "recframe.module.xǁRecModuleǁlike_logits__mutmut_6": SAME_AXIS,
    "recframe.metrics.beyond.xǁIntraListDiversityǁupdate__mutmut_16": SAME_AXIS,
    "recframe.losses.x__pos_neg_logits__mutmut_9": CPU_ONLY,
    "recframe.module.x_top_k__mutmut_7": "torch.sort's default dim is -1, which is dim 1 of [B, I] scores",
    "recframe.module.xǁRecModuleǁ__init____mutmut_114": "the flag is only ever tested for truth: None reads as False",
    "recframe.metrics.chunked.x_chunked_ranks__mutmut_45": 'float("-INF") is float("-inf")',
    "recframe.metrics.beyond.xǁIntraListDiversityǁ__init____mutmut_22": "persistent=None is read as False",
    "recframe.module.xǁRecModuleǁ_trained_on__mutmut_6": (
        "dropping the pair table when it is on another device falls back to the key search: same answers"
    ),
    "recframe.data.batching.xǁBatchIndexSamplerǁbatches__mutmut_45": (
        "another fixed random stream for the batch order: equally seeded and reproducible"
    ),
}


def _without_device(line: str) -> str:
    line = re.sub(r"device=[^,()]*(\([^()]*\))?[^,()]*", "", line)
    line = re.sub(r"\.to\([^()]*\)", "", line)
    return re.sub(r"[\s,]+\)", ")", re.sub(r"\(\s*,", "(", line)).replace(" ", "")


def equivalent(name: str, diff: str) -> str | None:
    """Why mutant ``name`` (its unified ``diff``) is equivalent, or None."""
    if name in EQUIVALENT:
        return EQUIVALENT[name]
    old = [line[1:] for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    new = [line[1:] for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    if old and len(old) == len(new) and [_without_device(x) for x in old] == [_without_device(x) for x in new]:
        return CPU_ONLY
    return None


# what mutmut's exit codes mean (mutmut.stats.status_by_exit_code, 3.8)
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 36: "timeout"}
STATUS |= {-24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout", -11: "segfault", -9: "segfault"}

GENERATE = """
import os
from mutmut.__main__ import (copy_also_copy_files, copy_src_dir, create_mutants, set_mutant_under_test,
                             setup_source_paths, store_lines_covered_by_tests)
set_mutant_under_test("mutant_generation")
os.makedirs("mutants", exist_ok=True)
copy_src_dir(); copy_also_copy_files(); setup_source_paths(); store_lines_covered_by_tests()
print(create_mutants(1))
"""


def prepare(workdir: Path, sources: list[str], tests: list[str], rev: str | None) -> list[str]:
    """A scratch copy of the working tree (tracked and untracked files), or of commit ``rev``, with
    mutmut's settings; returns the test files it has."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    if rev:
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(workdir)], input=archive, check=True)
    else:
        files = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
        for name in files:
            if (ROOT / name).is_file() and not name.startswith("benchmarks/results/"):
                (workdir / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, workdir / name)
    tests = [t for t in tests if (workdir / t).is_file()]
    also = [p for p in ("experiments/", "docs/", "benchmarks/", "scripts/", "README.md") if (workdir / p).exists()]
    settings = {
        "source_paths": ["recframe"],
        "only_mutate": sources,
        "also_copy": also,
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": ["-m", "not slow", "-p", "no:cacheprovider"],
        "use_git_change_detection": False,
        "timeout_multiplier": 3.0,  # a mutant that loops is cut after ~6x its tests' time, not mutmut's 30x
    }
    lines = ["", "[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    with open(workdir / "pyproject.toml", "a") as f:
        f.write("\n".join(lines) + "\n")
    return tests


def meta_files(workdir: Path) -> list[Path]:
    return sorted((workdir / "mutants").rglob("*.py.meta"))


def mutant_results(workdir: Path) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for meta in meta_files(workdir):
        out |= json.loads(meta.read_text())["exit_code_by_key"]
    return out


def mutmut(workdir: Path, args: list[str], timeout: float | None = None) -> subprocess.CompletedProcess | None:
    """``mutmut ARGS`` in ``workdir``; None when it ran past ``timeout`` (its process group is killed)."""
    exe = Path(sys.executable).parent / "mutmut"
    proc = subprocess.Popen(
        [str(exe), *args],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None
    return subprocess.CompletedProcess(args, proc.returncode, out)


def run_target(
    name: str, workdir: Path, sample: int | None, time_cap: float | None, seed: int, rev: str | None
) -> dict:
    sources, tests = TARGETS[name]
    start = time.time()
    tests = prepare(workdir, sources, tests, rev)
    subprocess.run([sys.executable, "-c", GENERATE], cwd=workdir, check=True, capture_output=True, text=True)
    every = sorted(mutant_results(workdir))
    chosen = sorted(random.Random(seed).sample(every, sample)) if sample and sample < len(every) else every
    done = mutmut(workdir, ["run", "--max-children", "1", *chosen], timeout=time_cap)
    if done is not None and done.returncode != 0:
        raise RuntimeError(f"mutmut run for {name} failed ({done.returncode}):\n{done.stdout[-4000:]}")
    results = mutant_results(workdir)
    mutants = []
    for key in chosen:
        status = STATUS.get(results[key], "suspicious") if results[key] is not None else "not run"
        entry = {"name": key, "status": status}
        if status in ("survived", "no tests", "suspicious"):
            shown = mutmut(workdir, ["show", key], timeout=120)
            entry["diff"] = shown.stdout.split("\n", 1)[-1].strip() if shown else ""
            reason = equivalent(key, entry["diff"])
            if reason:
                entry |= {"status": "equivalent", "reason": reason, "checked": status}
        mutants.append(entry)
    return {
        "target": name,
        "sources": sources,
        "tests": tests,
        "rev": rev or "working tree",
        "total_mutants": len(every),
        "sampled": len(chosen),
        "seconds": round(time.time() - start),
        "timed_out": done is None,
        "mutants": mutants,
    }


def classify(target: dict) -> dict:
    """Mark the equivalent mutants of a saved run (``EQUIVALENT`` may have grown since)."""
    for m in target["mutants"]:
        reason = equivalent(m["name"], m.get("diff", "")) if m["status"] in ("survived", "no tests") else None
        if reason:
            m |= {"status": "equivalent", "reason": reason, "checked": m["status"]}
    return target


def counts(target: dict) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in target["mutants"]:
        out[m["status"]] = out.get(m["status"], 0) + 1
    return out


def score(target: dict) -> tuple[int, int]:
    """(detected, scored): timeouts and segfaults are detections, untested mutants are not."""
    c = counts(target)
    detected = c.get("killed", 0) + c.get("timeout", 0) + c.get("segfault", 0)
    return detected, detected + c.get("survived", 0) + c.get("no tests", 0) + c.get("suspicious", 0)


def source_file(mutant: str) -> str:
    module = mutant.split("__mutmut_")[0].rsplit(".", 1)[0]
    return module.replace(".", "/") + ".py"


def markdown(runs: list[tuple[str, dict]]) -> str:
    """A table of scores per label and target, then each surviving mutant of the last label."""
    lines = [
        "| run | target | mutants (total) | sampled | killed | survived | no tests | not run | equivalent | score |"
    ]
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, target in runs:
        c, (det, scored) = counts(target), score(target)
        pct = f"{100 * det / scored:.1f} %" if scored else "—"
        cap = " (time cap)" if target["timed_out"] else ""
        lines.append(
            f"| {label} | {target['target']} | {target['total_mutants']} | {target['sampled']}{cap} | "
            f"{c.get('killed', 0) + c.get('timeout', 0)} | {c.get('survived', 0)} | {c.get('no tests', 0)} | "
            f"{c.get('not run', 0)} | {c.get('equivalent', 0)} | {det}/{scored} = {pct} |"
        )
    last = {t["target"]: (label, t) for label, t in runs}
    for label, target in last.values():
        left = [m for m in target["mutants"] if m["status"] in ("survived", "no tests", "suspicious", "equivalent")]
        lines += ["", f"### {target['target']} ({label}): {len(left)} not killed", ""]
        lines.append(f"Tests: {', '.join(target['tests'])}; {target['seconds']} s.")
        for m in left:
            why = f" — {m['reason']}" if m.get("reason") else ""
            changed = [x for x in m.get("diff", "").splitlines() if x[:1] in "+-" and x[:3] not in ("+++", "---")]
            lines += ["", f"- `{m['name']}` ({m['status']}{why})", "", "```diff", *changed, "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", nargs="+", choices=list(TARGETS), default=list(TARGETS))
    parser.add_argument("--sample", type=int, default=None, help="mutants per target (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-cap", type=float, default=None, help="seconds per target")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/recframe-mutation"))
    parser.add_argument("--rev", help="test this commit's tree instead of the working tree (e.g. a 'before' score)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--report", nargs="+", metavar="LABEL=JSON", help="only render these results as Markdown")
    args = parser.parse_args()
    if args.report:
        runs = []
        for spec in args.report:
            label, path = spec.split("=", 1)
            runs += [(label, classify(t)) for t in json.loads(Path(path).read_text())]
        print(markdown(runs))
        return
    results = []
    for name in args.targets:
        results.append(run_target(name, args.workdir / name, args.sample, args.time_cap, args.seed, args.rev))
        det, scored = score(results[-1])
        print(f"{name}: {det}/{scored} killed, {counts(results[-1])}, {results[-1]['seconds']} s", flush=True)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=1))
    print(markdown([("run", t) for t in results]))


if __name__ == "__main__":
    main()
