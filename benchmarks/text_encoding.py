"""Encoding a whole catalogue's text with MiniLM, then reading it back from the cache.

    OMP_NUM_THREADS=1 RECFRAME_DATA=../shared/data python benchmarks/text_encoding.py

Renders every movie of ML-latest-small (``movies.csv``: 9,742 titles, not only the 3,650 that
survive the 5-core filter) with the ``ml-latest-small/sasrec-text`` template and builds the text
features twice, each in a fresh process with the same empty-then-filled cache folder: the first
loads the model and encodes (cache miss), the second must only read the cache (no model load).
Prints and writes ``results/text-encoding-<date>.{json,md}`` with wall times, texts per second and
peak RSS of each phase.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = "{title}. Genres: {genres}."


def phase(out: Path) -> None:
    """One build of the text features of the whole catalogue (run in its own process)."""
    started = time.perf_counter()
    import numpy as np

    from recframe.data.datamodule import DataSpec
    from recframe.data.movielens import movielens
    from recframe.text.items import text_features

    log = movielens("latest-small")
    imported = time.perf_counter()
    # every movie of movies.csv, rated or not, as dense ids 1..n (row 0 = PAD)
    info = log.items.reset_index(drop=True)
    info.index = info.index + 1
    info = info.reindex(np.arange(len(info) + 1))
    spec = DataSpec(1, len(info), 1, np.zeros(len(info)), item_info=info)
    t0 = time.perf_counter()
    vectors, report = text_features(spec, model="minilm", template=TEMPLATE, progress=False)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "titles": len(info) - 1,
        "dim": int(vectors.shape[1]),
        "build_seconds": round(seconds, 2),
        "data_seconds": round(imported - started, 2),
        "peak_rss_mib": round(peak),
        "report": report,
        "cache_hit": "from the cache" in report,
    }
    out.write_text(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if args.phase_out:
        phase(args.phase_out)
        return
    rows = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, RECFRAME_CACHE=cache, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        for name in ("first (encode)", "second (cache)"):
            out = Path(cache) / "phase.json"
            subprocess.run([sys.executable, __file__, "--phase-out", str(out)], env=env, check=True)
            rows[name] = json.loads(out.read_text())
    first, second = rows["first (encode)"], rows["second (cache)"]
    if first["cache_hit"] or not second["cache_hit"]:
        raise SystemExit(f"unexpected cache behaviour: {rows}")
    summary = {
        "date": dt.date.today().isoformat(),
        "threads": os.environ.get("OMP_NUM_THREADS", "default"),
        "load_average_1min": round(os.getloadavg()[0], 2),  # other jobs on the machine inflate the times
        "cpus": os.cpu_count(),
        "template": TEMPLATE,
        "phases": rows,
        "titles_per_second": round(first["titles"] / first["build_seconds"], 1),
        "speedup_from_cache": round(first["build_seconds"] / max(second["build_seconds"], 1e-3), 1),
    }
    lines = [
        f"# Text encoding benchmark ({summary['date']}, OMP_NUM_THREADS={summary['threads']})",
        "",
        f"ML-latest-small catalogue: {first['titles']:,} titles, template `{TEMPLATE}`, MiniLM ({first['dim']}-d).",
        f"Load average {summary['load_average_1min']} on {summary['cpus']} CPUs when it finished (other jobs inflate"
        " the first build's time; the ratio is measured side by side).",
        "",
        "| phase | text features built in | peak RSS |",
        "|---|---|---|",
        *(f"| {k} | {v['build_seconds']} s | {v['peak_rss_mib']} MiB |" for k, v in rows.items()),
        "",
        f"{summary['titles_per_second']} titles/s on the first build (model load included); the cached build is "
        f"{summary['speedup_from_cache']}x faster and loads no model.",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"text-encoding-{summary['date']}"
    stem.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
