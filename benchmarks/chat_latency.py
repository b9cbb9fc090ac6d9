"""Latency of a chat turn: parse + re-encode + re-rank the whole catalogue + explanations, templated reply.

    OMP_NUM_THREADS=1 RECFRAME_DATA=../shared/data python benchmarks/chat_latency.py RUN [--llm smollm2]

``RUN`` is a run directory of a conversational experiment (``redial-ievalm/dialogue`` gives the
6,924-movie ReDial catalogue). Plays ``--dialogues`` conversations made of real ReDial seeker
messages from its test split (each conversation: up to ``--turns`` messages of one dialogue, so
titles, sentiment and constraints are exercised) and times every :meth:`Conversation.say` on one
thread. With ``--llm``, also times the same turn with the reply written by that LLM backend
(fewer turns: it is seconds per reply). Prints p50/p95/max and writes
``results/chat-latency-<date>.{json,md}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def seeker_messages(conv, dialogues: int, turns: int, seed: int) -> list[list[str]]:
    """Seeker messages (titles rendered) of random test dialogues of the run's dataset."""
    from recframe.conversation.dialogue import SEEKER, render
    from recframe.data import DATASETS

    settings = dict(conv.config["dataset"])
    data = DATASETS.get(settings.pop("name"))(**settings)
    test = data.dialogues["test"]
    rng = np.random.default_rng(seed)
    out = []
    for k in rng.choice(len(test), min(dialogues, len(test)), replace=False):
        said = [render(u.text, data.catalogue["title"]) for u in test[k].utterances if u.speaker == SEEKER]
        if said:
            out.append(said[:turns])
    return out


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {"n": len(ms), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "max_ms": float(ms.max()), "mean_ms": float(ms.mean())}  # fmt: skip


def play(conv, conversations: list[list[str]]) -> list[float]:
    times = []
    for messages in conversations:
        conv.reset()
        for text in messages:
            t0 = time.perf_counter()
            conv.say(text)
            times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run directory of a conversational experiment")
    parser.add_argument("--dialogues", type=int, default=100)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--llm", help="also time replies written by this LLM backend (e.g. smollm2)")
    parser.add_argument("--llm-dialogues", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()

    import torch

    from recframe.conversation.session import Conversation

    torch.set_num_threads(1)
    conv = Conversation.load(args.run)
    conversations = seeker_messages(conv, args.dialogues, args.turns, args.seed)
    play(conv, conversations[:3])  # warm-up: first calls allocate
    result = {
        "run": args.run,
        "experiment": conv.source.get("experiment"),
        "items": len(conv.catalogue) - 1,
        "threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average_before": os.getloadavg()[0],  # other jobs on the machine slow every figure
        "templated": percentiles(play(conv, conversations)),
    }
    if args.llm:
        from recframe.conversation.llm import load_llm

        conv.llm = load_llm(args.llm)
        result["llm"] = {"backend": args.llm, **percentiles(play(conv, conversations[: args.llm_dialogues]))}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"chat-latency-{dt.date.today():%Y-%m-%d}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Chat-turn latency ({result['experiment']}, {result['items']:,} items, {result['threads']} thread)",
        "",
        "| reply | turns | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for key in ("templated", "llm"):
        if key in result:
            r = result[key]
            label = key if key == "templated" else f"LLM ({r['backend']})"
            lines.append(f"| {label} | {r['n']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['max_ms']:.1f} |")
    lines += ["", "A turn = parse the message, update the state, re-encode the latest utterances (MiniLM, cached",
              "per text), score every item, apply the hard rules, rank, explain the top 10, write the reply.",
              "Seeker messages: real ReDial test dialogues (titles rendered), up to 5 per conversation.",
              f"Load average at the start: {result['load_average_before']:.1f} on {os.cpu_count()} CPUs."]  # fmt: skip
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
