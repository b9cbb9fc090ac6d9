"""What the page generators under docs/ share: write a page, or check that the committed one is current."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def write_or_check(description: str, page: str, target: Path) -> None:
    """``--check``: exit 1 unless ``target`` holds ``page``; otherwise rewrite ``target``."""
    args = argparse.ArgumentParser(description=description)
    args.add_argument("--check", action="store_true", help=f"fail if {target.name} is out of date")
    if args.parse_args().check:
        if not target.is_file() or target.read_text(encoding="utf-8") != page:
            sys.exit(f"docs/{target.name} is out of date: run python docs/gen_{target.stem}.py")
        return
    target.write_text(page, encoding="utf-8")
    print(f"wrote {target}")
