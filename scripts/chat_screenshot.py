"""Serve a run's chat page, type turns into it in headless Chromium, and save a screenshot.

    python scripts/chat_screenshot.py RUN --out docs/images/chat-web.png --say "I loved Alien" --say "no horror"

Needs the ``app`` extra, the ``playwright`` package and a Chromium binary (Debian: ``apt-get install
chromium``); no browser download. The server runs in this process on a free localhost port.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import threading
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--out", type=Path, default=Path("docs/images/chat-web.png"))
    parser.add_argument("--say", action="append", default=[], help="a turn to type (repeatable)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=860)
    args = parser.parse_args()

    import uvicorn
    from playwright.sync_api import sync_playwright

    from recframe.conversation.session import Conversation
    from recframe.conversation.web import make_app

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium binary on PATH (Debian: apt-get install chromium)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = make_app(Conversation.load(args.run), transcripts=None)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(f"http://127.0.0.1:{port}/")
        for n, text in enumerate(args.say, 1):
            page.fill("#text", text)
            page.click("#send")
            page.wait_for_function(f"document.getElementById('list').dataset.updates === '{n}'", timeout=60_000)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=True)
        browser.close()
    server.should_exit = True
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
