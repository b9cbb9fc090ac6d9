"""Benchmark workers: each measurement runs in its own process and prints one JSON line.

A process of its own gives every measurement its own peak RSS and a cold start. Standard library
only, so the RecBole worker (another virtual environment) imports it too.
"""

from __future__ import annotations

import json
import resource
import subprocess
import time
from pathlib import Path


def peak_rss_mib() -> dict[str, float]:
    """Peak resident set size so far of this process, and of its largest finished child (Linux: KiB).

    The children's figure is reported apart and not added: a child forked from a large process
    counts the parent's shared pages until it execs (numpy.testing runs ``lscpu`` that way at
    import), so adding it would charge the parent twice. Neither framework's worker has real
    child processes here (no DataLoader workers).
    """
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mib": own, "peak_rss_children_mib": children}


def run_worker(command: list[str], *, cwd: Path | None = None, timeout: float | None = None, echo=print) -> dict:
    """Run ``command`` and return the JSON object on its last stdout line.

    A failure never raises: the result is ``{"error": ..., "stderr_tail": ...}`` so that one broken
    row does not lose a whole suite's measurements.
    """
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as err:
        return {"error": f"timed out after {err.timeout:.0f} s", "command": command}
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.strip().splitlines()[-15:]
        echo(f"  worker failed (exit {proc.returncode}): {' '.join(command[:3])} ...")
        for line in tail:
            echo(f"    {line}")
        return {"error": f"exit {proc.returncode}", "stderr_tail": tail, "command": command, "wall_s": wall}
    result = json.loads(lines[-1])
    result["wall_s"] = wall
    return result


def python_command(python: str | Path, script: str, *args: str) -> list[str]:
    """``python benchmarks/<script> args...`` with the benchmarks folder resolved from this file."""
    return [str(python), str(Path(__file__).resolve().parent / script), *args]
