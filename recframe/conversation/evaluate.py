"""``evaluate-conversation``: train (if needed) and test a conversational experiment under both variants.

The experiment runs through :func:`recframe.training.fitting.fit` (a recorded run, W&B, checkpoints), which
tests it under its configured ``data.variant``; the best checkpoint is then tested under the other
variant too. Both land in the run's ``metrics.json`` as ``test/<variant>/<metric>`` (beside the plain
``test/...`` of the configured variant) and in ``conversation.json``, and are printed as one table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from recframe.conversation.turns import VARIANTS
from recframe.experiments.runs import Run, write_json

HEADLINE = ("recall@1", "recall@10", "recall@50", "ndcg@10", "mrr@10", "exposure/coverage@10")
RESULTS = "conversation.json"


def _test_metrics(metrics: dict[str, float]) -> dict[str, float]:
    return {k.removeprefix("test/"): v for k, v in metrics.items() if k.startswith("test/")}


def evaluate_conversation(
    target: str, overrides: list[str] = (), *, echo: Callable[..., Any] = print
) -> tuple[Run, dict[str, dict[str, float]]]:
    """Fit experiment ``target`` (or reuse the run directory ``target``) and test it under every variant.

    Returns the run and ``{variant: {metric: value}}`` (test metrics, without the ``test/`` prefix).
    """
    from recframe.experiments.config import ConfigError, load_config
    from recframe.training import engine, fitting

    def conversational(cfg: dict[str, Any]) -> None:
        if "variant" not in cfg["data"]:
            raise ConfigError(f"{target} is not a conversational experiment (its data section has no 'variant')")

    if Path(target).is_dir():
        run = Run(Path(target).resolve())
        _, cfg = fitting.saved_config(run.dir)
        conversational(cfg)
        done = {}
    else:
        conversational(load_config(target, list(overrides)))  # before any training
        run, metrics = fitting.fit(target, list(overrides), echo=echo)
        cfg = fitting.saved_config(run.dir)[1]
        done = {cfg["data"]["variant"]: _test_metrics(metrics)}
    table = {}
    for variant in VARIANTS:
        if variant in done:
            table[variant] = done[variant]
            continue
        # a fresh fit saved its overrides in the run's config; a recorded run takes them here
        extra = [] if done else [o for o in overrides if not o.startswith("data.variant=")]
        metrics = engine.evaluate(str(run.dir), "test", [*extra, f"data.variant={variant}"])
        table[variant] = _test_metrics(metrics)
    run.write_metrics({f"test/{v}/{k}": value for v, values in table.items() for k, value in values.items()})
    write_json(run.dir / RESULTS, {"experiment": run.record().get("experiment"), "variants": table})
    return run, table
