"""The Markdown report of a benchmark run: readable on its own (header, tables, protocol notes, plots).

``run.py`` writes it beside the JSON it is made from: ``markdown(json.load(...))`` rebuilds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import scaling

COMPARED = {"epoch_s": "epoch s", "eval_s": "eval s", "peak_rss_mib": "RSS MiB", "prepare_s": "prepare s"}
SIDES = ("recframe", "recbole", "ratio")


def _f(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}g}" if abs(x) < 1000 else f"{x:,.0f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def _overridden(overrides: list[str] | None) -> str:
    """A row label's suffix naming the config overrides recframe's same-time run used, if any."""
    return f" (recframe {', '.join(f'`{o}`' for o in overrides)})" if overrides else ""


def _recbole_steps(row: dict[str, Any], epochs: int) -> int | None:
    """RecBole's optimiser steps in its timed epochs (its batches per epoch × epochs), if recorded."""
    work = row.get("recbole_work") or {}
    return work["batches"] * epochs if "batches" in work else None


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(_f(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows]


def _work(w: dict[str, Any] | None) -> str:
    if not w:
        return "–"
    return f"{w['examples']:,} / {w['batches']:,} / {w['labelled_positions']:,} / {w['encoded_positions']:,}"


def _own(own: dict[str, Any] | None) -> str:
    return f"masked: {_f(own['eval_s'])} s, {_f(own['ndcg@10'])}" if own else "same"


def markdown(result: dict[str, Any]) -> str:
    """The report of one run from its JSON result (the dict ``run.py`` writes)."""
    h = result["header"]
    lines = [
        f"# recframe benchmarks — suite `{h['suite']}`, {h['date']}",
        "",
        f"- Machine: {h['cpu']}, {h['cores']} logical cores, {h['memory_gib']} GiB; {h['platform']}",
        f"- Threads: OMP_NUM_THREADS={h['OMP_NUM_THREADS']}; torch threads in the workers: {h['torch_threads']}",
        "- recframe environment: " + ", ".join(f"{k} {v}" for k, v in h["recframe_env"].items()),
    ]
    if h.get("recbole_env"):
        lines.append("- RecBole environment: " + ", ".join(f"{k} {v}" for k, v in h["recbole_env"].items()))
    s = result["settings"]
    lines += [
        f"- Command: `{s['command']}`",
        f"- Epochs per run {s['epochs']}, evaluation passes {s['repeats']}, worker processes per side {s['runs']}; "
        "times are medians (epochs of a run, passes, runs).",
    ]
    lines += [f"- Note: {n}" for n in s["notes"]]
    if "recbole" in result:
        rb = result["recbole"]
        rows = rb["rows"]
        lines += ["", f"## recframe vs RecBole 1.2.1 ({rb['epochs']} epochs, ratio = recframe / RecBole)", ""]
        lines += _table(
            ["row"] + [f"{name} {side}" for name in COMPARED.values() for side in ("rf", "RB", "×")],
            [[r["label"]] + [r[f"{side}_{key}"] for key in COMPARED for side in SIDES] for r in rows],
        )
        lines += [
            "",
            "epoch: one training epoch; eval: one full-catalogue test pass over every test user; RSS: peak resident "
            "memory of the worker process; prepare: loading the data and building the training and evaluation data.",
        ]
        lines += ["", "Test metrics after those epochs (recframe / RecBole), same protocol on both sides:", ""]
        lines += _table(
            ["row", "NDCG@10", "Recall@10", "Hit@10", "seen items masked", "recframe's own protocol: eval s, NDCG@10"],
            [
                [
                    r["label"],
                    f"{_f(r['recframe_ndcg@10'])} / {_f(r['recbole_ndcg@10'])}",
                    f"{_f(r['recframe_recall@10'])} / {_f(r['recbole_recall@10'])}",
                    f"{_f(r['recframe_hit@10'])} / {_f(r['recbole_hit@10'])}",
                    "yes" if r["exclude_seen_compared"] else "no",
                    _own(r.get("recframe_own_protocol")),
                ]
                for r in rows
            ],
        )
        same = [r for r in rows if r.get("recframe_same_time")]
        if same:
            lines += [
                "",
                f"Same training time: recframe trained from scratch for as long as RecBole's {rb['epochs']} epochs "
                f"took (capped at {_f(rb.get('same_time_cap'))} s), test metrics (recframe / RecBole after its "
                "epochs), same protocol:",
                "",
            ]
            lines += _table(
                [
                    "row",
                    "RecBole train s",
                    "recframe budget s",
                    "recframe epochs",
                    "optimiser steps rf / RB",
                    "NDCG@10",
                    "Recall@10",
                    "Hit@10",
                ],
                [
                    [
                        r["label"] + _overridden(r["recframe_same_time"].get("overrides")),
                        r["recframe_same_time"]["recbole_train_s"],
                        r["recframe_same_time"]["budget_s"],
                        r["recframe_same_time"]["epochs"],
                        f"{_f(r['recframe_same_time'].get('steps'))} / {_f(_recbole_steps(r, rb['epochs']))}",
                        *(
                            f"{_f(r['recframe_same_time'][m])} / {_f(r[f'recbole_{m}'])}"
                            for m in ("ndcg@10", "recall@10", "hit@10")
                        ),
                    ]
                    for r in same
                ],
            )
        lines += [
            "",
            "Work per training epoch — examples / optimiser steps / loss terms / sequence positions encoded:",
            "",
        ]
        lines += _table(
            ["row", "recframe", "RecBole", "test users rf / RB"],
            [
                [
                    r["label"],
                    _work(r["recframe_work"]),
                    _work(r["recbole_work"]),
                    f"{_f(r['eval_users']['recframe'])} / {_f(r['eval_users']['recbole'])}",
                ]
                for r in rows
            ],
        )
        failed = [
            f"{r['label']} {side}: {run.get('error')}"
            for r in rows
            for side, runs in r["runs"].items()
            for run in runs
            if "error" in run
        ]
        lines += ["", "Protocol differences the comparison keeps:", ""] + [f"- {n}" for n in rb["notes"]]
        lines += [f"- FAILED: {f}" for f in failed]
    if "floor" in result:
        fl = result["floor"]
        lines += ["", "## recframe vs the hardware floor (`floor.py`)", ""]
        if "error" in fl:
            lines.append(f"FAILED: {fl['error']}: {' '.join(fl.get('stderr_tail', [])[-3:])}")
        else:
            lines += _table(
                [
                    "row",
                    "epoch s",
                    "bare fwd+bwd s",
                    "×",
                    "eval s",
                    "fwd+matmul+mask+topk s",
                    "×",
                    "matmul+mask+topk s",
                    "×",
                    "users × items",
                ],
                [
                    [
                        r["label"],
                        r["train_epoch_s"],
                        r["bare_train_epoch_s"],
                        r["train_overhead_ratio"],
                        r["eval_s"],
                        r["floor_eval_with_forward_s"],
                        r["eval_over_floor_with_forward"],
                        r["floor_eval_matmul_mask_topk_s"],
                        r["eval_over_matmul_mask_topk"],
                        f"{int(r['eval_users']):,} × {int(r['items']):,}",
                    ]
                    for r in fl["rows"]
                ],
            )
    if "scaling" in result:
        sc = result["scaling"]
        lines += [
            "",
            f"## Scaling (`scaling.py`: {sc['base_experiment']} hyper-parameters on synthetic logs)",
            "",
            f"Evaluation scores {sc['eval_batch_size']} users × all items at a time; training epochs longer than "
            f"{sc['steps']} batches are timed over {sc['steps']} batches and extrapolated (marked *).",
            "",
        ]
        lines += _table(
            [
                "interactions",
                "items",
                "users",
                "prepare s",
                "train epoch s",
                "eval s",
                "test users",
                "score block MiB",
                "users × items MiB (never built)",
                "peak RSS MiB",
            ],
            [
                [
                    p.get("interactions"),
                    p.get("items"),
                    p.get("users"),
                    p.get("prepare_s"),
                    (f"{_f(p['train_epoch_s'])}*" if p.get("train_extrapolated") else p.get("train_epoch_s")),
                    p.get("eval_s"),
                    p.get("eval_users"),
                    p.get("eval_scores_block_mib"),
                    p.get("all_users_scores_mib"),
                    p.get("peak_rss_mib") if "error" not in p else f"FAILED: {p['error']}",
                ]
                for p in sc["points"]
            ],
        )
        lines += ["", "Log-log slopes (1 = linear):", ""]
        lines += _table(
            ["measurement", "vs interactions", "vs items"],
            [
                [title, sc["slopes"]["interactions"][m], sc["slopes"]["items"][m]]
                for m, title in scaling.MEASUREMENTS.items()
            ],
        )
        lines += [""] + [f"![{Path(p).stem}]({Path(p).name})" for p in sc.get("plots", [])]
    return "\n".join(lines) + "\n"
