"""How recframe scales with the size of the log and of the catalogue, each point in its own process.

Two sweeps over synthetic logs: interactions (10^5, 10^6, 10^7 at the smallest catalogue) and
catalogue (10^4, 10^5, 10^6 items at the middle log size). Each point measures data preparation
(``RecDataModule`` construction: id remapping, split, histories), one SASRec training epoch, one
full-catalogue evaluation pass over every test user, and peak RSS. The model is ``ml-100k/sasrec``'s
(SASRec, d 64, 2 blocks, BCE with one negative, so no loss term grows with the catalogue), on
windows tiling each history (``train_windows: all``: every interaction is a label once).

A training epoch longer than ``steps`` batches is timed over its first ``steps`` batches and
extrapolated (``epoch_s = measured_s * batches / steps``; the report says so). Evaluation scores
``eval_batch_size`` users at a time, and catalogues from 10^5 items in chunks of ``SCORE_CHUNK``
items (``module.score_chunk``), so the score block held is ``eval_batch_size x min(items, chunk)``,
never ``users x items`` (the report gives its size). The log-log slope of each measurement
is fitted per sweep and drawn in one PNG per measurement.

Run alone: ``OMP_NUM_THREADS=1 python benchmarks/scaling.py --sizes 1e5,1e6 --items 1e4,1e5``;
``run.py`` calls :func:`measure`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from workers import peak_rss_mib, python_command, run_worker

SCORE_CHUNK = 65_536
BASE_EXPERIMENT = "ml-100k/sasrec"  # hyper-parameters only; the data is fast_log's
MEASUREMENTS = {
    "prepare_s": "data preparation (s)",
    "train_epoch_s": "one SASRec training epoch (s)",
    "eval_s": "one full evaluation pass (s)",
    "peak_rss_mib": "peak RSS (MiB)",
}


def fast_log(n_interactions: int, n_items: int, *, mean_length: int = 50, zipf: float = 1.0, seed: int = 0):
    """A synthetic ``Interactions`` of exactly ``n_interactions`` rows, vectorised (seconds for 10^7 rows).

    User lengths are ``3 + Poisson(mean_length - 3)`` (the last user is cut to fit); items follow a
    Zipf(``zipf``) popularity over a shuffled catalogue, and when the log is at least as long as the
    catalogue, ``n_items`` random rows are overwritten with every item once, so the catalogue is
    complete. Timestamps are positions in the user's history. Unlike
    :func:`recframe.data.synthetic.synthetic` (one NumPy step per position, with side tables) this
    has no structure to learn: it exists to time the pipeline.
    """
    from recframe.data.interactions import Interactions

    rng = np.random.default_rng(seed)
    n_users = int(n_interactions / mean_length * 1.5) + 10  # enough users to cover n_interactions
    lengths = 3 + rng.poisson(mean_length - 3, n_users)
    ends = np.cumsum(lengths)
    n_users = int(np.searchsorted(ends, n_interactions)) + 1
    lengths = lengths[:n_users]
    lengths[-1] -= ends[n_users - 1] - n_interactions
    user = np.repeat(np.arange(1, n_users + 1), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    position = np.arange(n_interactions) - starts
    cdf = np.cumsum(1.0 / np.arange(1, n_items + 1) ** zipf)
    rank = np.minimum(np.searchsorted(cdf, rng.random(n_interactions) * cdf[-1]), n_items - 1)
    item = rng.permutation(n_items)[rank] + 1
    if n_interactions >= n_items:
        item[rng.permutation(n_interactions)[:n_items]] = np.arange(1, n_items + 1)
    return Interactions(
        user=user,
        item=item,
        rating=np.ones(n_interactions, dtype=np.float32),
        timestamp=position.astype(np.int64),
        name=f"fast-{n_interactions}x{n_items}",
    )


def point(spec: dict[str, Any]) -> dict[str, Any]:
    """One measurement point (run in its own process by :func:`measure`)."""
    import lightning.pytorch as pl
    import torch
    from floor import ACCURACY_ONLY, quiet, timed_fit

    from recframe.data.datamodule import RecDataModule
    from recframe.experiments.config import load_config
    from recframe.training import engine

    overrides = [
        *spec["overrides"],
        *ACCURACY_ONLY,
        "logger.name=none",
        "data.train_windows=all",
        f"data.eval_batch_size={spec['eval_batch_size']}",
        # Catalogues from 10^5 items are scored in chunks: the block held is batch x SCORE_CHUNK.
        *([f"module.score_chunk={SCORE_CHUNK}"] if spec["items"] >= 10**5 else []),
    ]
    cfg = load_config(BASE_EXPERIMENT, overrides)
    pl.seed_everything(cfg["run"]["seed"], verbose=False)
    out: dict[str, Any] = {"interactions": spec["interactions"], "requested_items": spec["items"]}

    start = time.perf_counter()
    log = fast_log(spec["interactions"], spec["items"], seed=cfg["run"]["seed"])
    out["generate_s"] = time.perf_counter() - start
    start = time.perf_counter()
    data = RecDataModule(log, sequential=True, seed=cfg["run"]["seed"], **cfg["data"])
    out["prepare_s"] = time.perf_counter() - start
    del log
    out["peak_rss_after_prepare_mib"] = peak_rss_mib()["peak_rss_mib"]
    out |= {"users": data.fingerprint["users"], "items": data.fingerprint["items"]}

    module = engine.build_module(cfg, data, "scaling")
    if spec.get("compile"):
        module.backbone.compile()
    batches = len(data.train_dataloader())
    steps = min(spec["steps"] or batches, batches)
    [epoch_s] = timed_fit(cfg, module, data, max_epochs=1, limit_train_batches=steps)
    cuda = cfg["trainer"].get("accelerator") in ("gpu", "cuda")
    if cuda:
        torch.cuda.synchronize()
    out |= {
        "train_batches": batches,
        "train_steps_timed": steps,
        "train_measured_s": epoch_s,
        "train_epoch_s": epoch_s * batches / steps,
        "train_extrapolated": steps < batches,
        "peak_rss_after_train_mib": peak_rss_mib()["peak_rss_mib"],
    }

    eval_users = len(data.eval_sets["test"].users)
    tester = pl.Trainer(
        **quiet(cfg)["trainer"], logger=False, enable_checkpointing=False, use_distributed_sampler=False
    )
    start = time.perf_counter()
    metrics = tester.test(module, datamodule=data, verbose=False)[0]
    if cuda:
        torch.cuda.synchronize()
    out |= {
        "eval_s": time.perf_counter() - start,
        "eval_users": eval_users,
        "eval_batch_size": spec["eval_batch_size"],
        "eval_scores_block_mib": spec["eval_batch_size"]
        * min(data.spec.n_items, cfg["module"]["score_chunk"] or data.spec.n_items)
        * 4
        / 2**20,
        "all_users_scores_mib": eval_users * data.spec.n_items * 4 / 2**20,
        "test_ndcg@10": float(metrics["test/ndcg@10"]),
        "torch_threads": torch.get_num_threads(),
    }
    return out | peak_rss_mib()


def sweep_points(sizes: list[int], items: list[int], catalogue_interactions: int) -> dict[str, list[tuple[int, int]]]:
    """``{"interactions": [(n, items[0]) ...], "items": [(catalogue_interactions, i) ...]}``."""
    return {
        "interactions": [(n, items[0]) for n in sizes],
        "items": [(catalogue_interactions, i) for i in items],
    }


def fit_slope(x: list[float], y: list[float]) -> float | None:
    """Least-squares slope of ``log10 y`` on ``log10 x`` (None with fewer than two positive points)."""
    pairs = [(a, b) for a, b in zip(x, y, strict=True) if a and b and a > 0 and b > 0]
    if len({a for a, _ in pairs}) < 2:
        return None
    lx, ly = np.log10([a for a, _ in pairs]), np.log10([b for _, b in pairs])
    return float(np.polyfit(lx, ly, 1)[0])


def measure(
    sizes: list[int],
    items: list[int],
    *,
    catalogue_interactions: int | None = None,
    steps: int | None = 100,
    eval_batch_size: int = 256,
    overrides: tuple[str, ...] = (),
    compile: bool = False,
    plots: Path | None = None,
    timeout: float | None = None,
    echo=print,
) -> dict[str, Any]:
    """Run every point of both sweeps (shared points once), fit slopes, and draw the plots into ``plots``.

    ``catalogue_interactions`` defaults to the middle of ``sizes``.
    """
    catalogue_interactions = catalogue_interactions or sorted(sizes)[len(sizes) // 2]
    sweeps = sweep_points(sorted(sizes), sorted(items), catalogue_interactions)
    unique = sorted({p for pts in sweeps.values() for p in pts})
    results: dict[tuple[int, int], dict[str, Any]] = {}
    for n, i in unique:
        echo(f"  scaling: {n:,} interactions, {i:,} items")
        spec = {
            "interactions": n,
            "items": i,
            "steps": steps,
            "eval_batch_size": eval_batch_size,
            "overrides": list(overrides),
            "compile": compile,
        }
        results[(n, i)] = run_worker(
            python_command(sys.executable, "scaling.py", "--worker", json.dumps(spec)), timeout=timeout
        )
    fits: dict[str, dict[str, float | None]] = {}
    for sweep, pts in sweeps.items():
        x = [p[0] if sweep == "interactions" else p[1] for p in pts]
        fits[sweep] = {m: fit_slope(x, [results[p].get(m) for p in pts]) for m in MEASUREMENTS}
    out = {
        "base_experiment": BASE_EXPERIMENT,
        "steps": steps,
        "eval_batch_size": eval_batch_size,
        "catalogue_interactions": catalogue_interactions,
        "sweeps": {sweep: [list(p) for p in pts] for sweep, pts in sweeps.items()},
        "points": [results[p] for p in unique],
        "slopes": fits,
    }
    if plots is not None:
        out["plots"] = draw(sweeps, results, fits, plots)
    return out


def draw(
    sweeps: dict[str, list[tuple[int, int]]],
    results: dict[tuple[int, int], dict[str, Any]],
    fits: dict[str, dict[str, float | None]],
    prefix: Path,
) -> list[str]:
    """One PNG per measurement (``<prefix>-<measurement>.png``): both sweeps, log-log, fitted slope in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for key, title in MEASUREMENTS.items():
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
        for ax, (sweep, pts) in zip(axes, sweeps.items(), strict=True):
            x = np.array([p[0] if sweep == "interactions" else p[1] for p in pts], dtype=float)
            y = np.array([results[p].get(key) or np.nan for p in pts], dtype=float)
            ax.loglog(x, y, "o", label="measured")
            slope = fits[sweep][key]
            ok = np.isfinite(y) & (y > 0)
            if slope is not None and ok.sum() >= 2:
                intercept = np.mean(np.log10(y[ok]) - slope * np.log10(x[ok]))
                grid = np.geomspace(x[ok].min(), x[ok].max(), 20)
                ax.loglog(grid, 10**intercept * grid**slope, "-", label=f"fit: slope {slope:.2f}")
            fixed = pts[0][1] if sweep == "interactions" else pts[0][0]
            other = "items" if sweep == "interactions" else "interactions"
            ax.set_xlabel(f"{sweep} ({other} fixed at {fixed:,})")
            ax.set_ylabel(title)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
        fig.suptitle(f"recframe scaling: {title}")
        fig.tight_layout()
        path = prefix.parent / f"{prefix.name}-{key.removesuffix('_s').removesuffix('_mib')}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(str(path))
    return paths


def parse_sizes(text: str) -> list[int]:
    """``"1e5,1e6"`` -> ``[100000, 1000000]``."""
    try:
        values = [int(float(part)) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be comma-separated numbers like 1e5,1e6, got {text!r}") from None
    if not values or min(values) < 10:
        raise argparse.ArgumentTypeError(f"sizes must be at least 10, got {text!r}")
    return values


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=parse_sizes, default=parse_sizes("1e5,1e6,1e7"), help="interactions")
    p.add_argument("--items", type=parse_sizes, default=parse_sizes("1e4,1e5,1e6"), help="catalogue sizes")
    p.add_argument("--steps", type=int, default=100, help="training batches timed per point (0 = whole epoch)")
    p.add_argument("--eval-batch-size", type=int, default=256)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/scaling"), help="plot prefix")
    p.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one point, spec as JSON
    args = p.parse_args()
    if args.worker:
        print(json.dumps(point(json.loads(args.worker))))
        return
    result = measure(
        args.sizes, args.items, steps=args.steps or None, eval_batch_size=args.eval_batch_size, plots=args.out
    )
    print(json.dumps(result["slopes"], indent=2))
    for row in result["points"]:
        print({k: (round(v, 3) if isinstance(v, float) and not math.isnan(v) else v) for k, v in row.items()})


if __name__ == "__main__":
    main()
