"""Publish recorded reproduction runs into docs/reproductions/ (records, leaderboard, plots).

For every experiment it keeps the runs of its most recent configuration (the config hash of the
latest run), copies their small records to ``docs/reproductions/runs/<experiment>/<run id>/``, writes
their index and the pooled reproduction records, and builds the pages from them
(:mod:`recframe.reporting.reproductions`). ``python docs/gen_results.py`` rebuilds the pages later from
the published records alone.
Run: python scripts/publish_reproductions.py --runs /path/to/runs [--out docs/reproductions]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from recframe.reporting import reproductions


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", required=True, type=Path, help="runs root holding index.jsonl")
    p.add_argument("--out", default=Path("docs/reproductions"), type=Path)
    args = p.parse_args()
    published = reproductions.publish(args.runs, args.out)
    print(f"published {len(published)} runs of {len({r['experiment'] for r in published})} experiments")
    for path in reproductions.render(args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
