"""Render pages of the built site in headless Chromium and save screenshots (to look at them).

    make docs && python docs/screenshots.py [--site _site] [--out docs/images]

Pages: the home page, the results page (docs/results.md) and the interactive conversation page.
Uses Debian's ``chromium`` (``--headless --screenshot``) on the local files; nothing is fetched.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

PAGES = {
    "site-home.png": "docs/index.html",
    "site-results.png": "docs/results.html",
    "site-chat.png": "docs/chat.html",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=Path("_site"))
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--size", default="1280,1400")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium binary on PATH (Debian: apt-get install chromium)")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, page in PAGES.items():
        source = (args.site / page).resolve()
        if not source.is_file():
            raise SystemExit(f"{source} is missing: build the site first (make docs)")
        target = (args.out / name).resolve()
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                   f"--window-size={args.size}", f"--screenshot={target}", source.as_uri()]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, timeout=120)
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
