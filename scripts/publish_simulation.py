"""Collect ``simulate`` results from run directories into docs/conversation-results/simulation.{md,json}.

    python scripts/publish_simulation.py RUN [RUN ...] [--out docs/conversation-results]

Every ``simulation-*.json`` of each run becomes one row, beside iEvaLM's published rows
(:mod:`recframe.reporting.simulation`). Copy the runs' records under ``<out>/sim-runs/`` to publish them:
``python docs/gen_results.py`` rebuilds the page from there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from recframe.reporting import simulation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/conversation-results"))
    args = parser.parse_args()
    for path in simulation.render(args.runs, args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
