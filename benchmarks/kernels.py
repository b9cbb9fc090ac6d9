"""Micro-benchmarks behind three training-step choices, each against the alternative it replaced.

- AdamW: torch's default on CPU (one pass per operation and tensor) vs ``foreach`` vs ``fused``,
  on Beauty-sized BPR-MF tables (22,364 + 12,102 rows x 64).
- Softmax CE over a 12,101-item catalogue for 3,000 positions: whole logits (``F.cross_entropy``)
  vs :class:`recframe.losses.BlockedSoftmaxCE` in 4 MiB blocks; forward + backward, and the peak of
  the extra memory each holds.
- Negatives unseen by the user (ML-100K, 2,048 draws): dense pair table vs binary search over
  the training keys, and the old "every round re-checks the whole draw" loop.

Run: ``OMP_NUM_THREADS=1 RECFRAME_DATA=../shared/data python benchmarks/kernels.py`` (the sampling
part needs ML-100K; it is skipped without it). Medians of repeated timings, milliseconds.
"""

from __future__ import annotations

import inspect
import statistics
import time
from collections.abc import Callable

import torch

from recframe import losses


def median_ms(fn: Callable[[], object], repeats: int = 20, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def adamw() -> dict[str, float]:
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(22_364, 64)), torch.nn.Parameter(torch.randn(12_102, 64))]
    for p in params:
        p.grad = torch.randn_like(p)
    out = {}
    variants = {"default (per tensor)": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}
    for name, kw in variants.items():
        opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0, **kw)
        out[name] = median_ms(opt.step)
    return out


def softmax_ce(positions: int = 3_000, items: int = 12_101, dim: int = 64) -> dict[str, float]:
    torch.manual_seed(0)
    query = torch.randn(positions, dim, requires_grad=True)
    table = torch.randn(items, dim, requires_grad=True)
    labels = torch.randint(1, items, (positions,))

    def step(block: int) -> None:
        query.grad = table.grad = None
        losses.softmax_ce(query, table, labels, block=block).backward()

    whole, blocked = 2**62, inspect.signature(losses.softmax_ce).parameters["block"].default
    return {
        "whole logits (F.cross_entropy)": median_ms(lambda: step(whole), repeats=5),
        f"blocked ({blocked} elements)": median_ms(lambda: step(blocked), repeats=5),
        "whole logits block MiB": positions * (items - 1) * 4 / 2**20,
        "blocked block MiB": blocked * 4 / 2**20,
    }


def unseen_sampling() -> dict[str, float] | None:
    from recframe.experiments.config import load_config
    from recframe.training import engine

    try:
        data = engine.build_data(cfg := load_config("ml-100k/mf", ["logger.name=none"]))
    except Exception as error:  # no local copy and no download allowed: report and go on
        print(f"unseen negatives: skipped ({type(error).__name__}: {error})")
        return None
    module = engine.build_module(cfg, data, "kernels")
    users = torch.as_tensor(data.train_dataset().users[:2048])
    draw = (len(users), 1)
    out = {"pair table": median_ms(lambda: module._unseen_items(users, draw), repeats=200)}
    module.train_pairs = None
    out["binary search, clashes re-checked"] = median_ms(lambda: module._unseen_items(users, draw), repeats=200)
    out["binary search, whole draw each round"] = median_ms(
        lambda: module._unseen_items(users, draw, sync_free=False), repeats=200
    )
    return out


def main() -> None:
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    for title, result in (
        ("AdamW step, Beauty BPR-MF tables (ms)", adamw()),
        ("softmax CE forward + backward, 3,000 x 12,101 (ms)", softmax_ce()),
        ("unseen negatives, 2,048 draws on ML-100K (ms)", unseen_sampling()),
    ):
        if result is None:
            continue
        print(title)
        for name, value in result.items():
            print(f"  {name:40s} {value:9.2f}")


if __name__ == "__main__":
    main()
