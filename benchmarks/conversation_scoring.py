"""Scoring one ReDial turn against the whole catalogue, and the throughput of batched turns.

    OMP_NUM_THREADS=1 RECFRAME_DATA=../shared/data python benchmarks/conversation_scoring.py

Builds ``redial/dialogue`` (its frozen text vectors come from the cache once the experiment has run;
otherwise they are encoded first, which this benchmark does not time), then times, side by side in
one process: ``score`` of a single test event (ψ, the fused item table W and ψ · Wᵀ over 6,924
movies, then the top 10) and the same with W computed once and reused (what a chat session does),
and batches of 512 events. Prints and writes ``results/conversation-scoring-<date>.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="redial/dialogue")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()

    import torch

    from recframe.backbones.contract import catalogue_scores
    from recframe.experiments.config import load_config
    from recframe.training import engine

    cfg = load_config(args.experiment)
    data = engine.build_data(cfg)
    module = engine.build_module(cfg, data, args.experiment).eval()
    backbone = module.backbone
    loader = data.test_dataloader()
    batch = next(iter(loader))
    single = {k: v[:1] if k not in ("seen_rows", "seen_items") else v[:0] for k, v in batch.items()}
    with torch.no_grad():
        items = backbone.item_embeddings()
        rows = {
            "one turn, W recomputed (ms)": timed(lambda: module.scores(single).topk(10), args.repeats),
            "one turn, W reused (ms)": timed(
                lambda: catalogue_scores(backbone.query(single), items).topk(10), args.repeats
            ),
            "W itself (ms)": timed(backbone.item_embeddings, max(args.repeats // 10, 5)),
            f"batch of {len(batch['user'])} turns (ms)": timed(lambda: module.scores(batch).topk(10), 20),
        }
    summary = {
        "date": dt.date.today().isoformat(),
        "experiment": args.experiment,
        "threads": os.environ.get("OMP_NUM_THREADS", "default"),
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "catalogue": int(data.spec.n_items - 1),
        "median_ms": {k: round(1000 * statistics.median(v), 3) for k, v in rows.items()},
        "p90_ms": {k: round(1000 * sorted(v)[int(0.9 * (len(v) - 1))], 3) for k, v in rows.items()},
    }
    batch_ms = summary["median_ms"][f"batch of {len(batch['user'])} turns (ms)"]
    summary["turns_per_second_batched"] = round(len(batch["user"]) / (batch_ms / 1000), 1)
    lines = [
        f"# Conversational scoring benchmark ({summary['date']}, {args.experiment})",
        "",
        f"{summary['catalogue']:,} movies; torch threads {summary['torch_threads']}; load average "
        f"{summary['load_average_1min']} (other jobs inflate the times; compare rows of one run).",
        "",
        "| what | median | p90 |",
        "|---|---|---|",
        *(f"| {k} | {summary['median_ms'][k]} | {summary['p90_ms'][k]} |" for k in rows),
        "",
        f"Batched: {summary['turns_per_second_batched']:,} turns/s.",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"conversation-scoring-{summary['date']}"
    stem.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
