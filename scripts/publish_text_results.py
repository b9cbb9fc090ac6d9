"""Publish the text-layer (docs/text-results/) or conversational (docs/conversation-results/) runs.

Copies each finished run's small records of the set's experiments to ``<out>/runs/<experiment>/<run id>/``
and writes ``<out>/results.md`` (one table and one chart per study, mean ± std over seeds) from those
records only (:mod:`recframe.reporting.studies`). Runs started from a tree with uncommitted changes are
left out unless ``--include-dirty``; several ``--runs`` roots may be given. ``python docs/gen_results.py``
rebuilds the pages later from the published records alone.

Run: python scripts/publish_text_results.py --runs runs [--runs other/runs] [--set text|conversation]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from recframe.reporting import studies


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", required=True, type=Path, action="append", help="a runs root (repeatable)")
    p.add_argument("--include-dirty", action="store_true", help="also publish runs from a dirty tree")
    p.add_argument("--set", default="text", choices=sorted(studies.SETS), help="which results page (default text)")
    p.add_argument("--out", default=None, type=Path, help="output folder (default: the set's docs folder)")
    args = p.parse_args()
    out = studies.publish(args.runs, args.set, args.out, args.include_dirty)
    written = studies.render(args.set, out)
    print(f"published {sum(1 for _ in (out / 'runs').rglob('run.json'))} runs to {out}; wrote {len(written)} files")


if __name__ == "__main__":
    main()
