"""The chat web page: its JSON API, and the page itself driven in a real headless Chromium."""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import threading
import time

import pytest
from test_chat import INFO, RAW, ItemTable

from recframe.conversation.catalogue import Catalogue
from recframe.conversation.profile import HistoryProfile
from recframe.conversation.session import Conversation

pytest.importorskip("starlette", reason='the web page is an optional extra: pip install "recframe[app]"')
from starlette.testclient import TestClient

from recframe.conversation.web import make_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def model() -> Conversation:
    conv = Conversation(HistoryProfile(ItemTable(len(RAW) + 1)), Catalogue(RAW, INFO), k=3)
    conv.source = {"experiment": "hand"}
    return conv


def test_api_sessions_feedback_and_transcripts(tmp_path):
    client = TestClient(make_app(model(), tmp_path))
    first = client.post("/api/say", json={"text": "I loved Alien"}).json()
    assert [i["position"] for i in first["items"]] == [1, 2, 3] and "11" not in {i["item"] for i in first["items"]}
    gone = first["items"][0]["item"]
    after = client.post("/api/feedback", json={"position": 1, "kind": "dislike"}).json()
    assert gone not in {i["item"] for i in after["items"]}
    bad = client.post("/api/feedback", json={"position": 9, "kind": "dislike"})
    assert bad.status_code == 400 and "position 1..3" in bad.json()["error"]
    other = TestClient(make_app(model(), tmp_path)).post("/api/say", json={"text": "hello"}).json()
    assert gone in {i["item"] for i in other["items"]}  # a new session does not share the dislike
    (transcript,) = [p for p in tmp_path.glob("web-*.jsonl") if "dislike" in p.read_text()]
    records = [json.loads(x) for x in transcript.read_text().splitlines()]
    assert records[0]["experiment"] == "hand" and any(r.get("feedback") == "disliked" for r in records)
    assert client.post("/api/reset").json()["items"] == []


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs a Chromium binary (Debian: apt-get install chromium)")
@pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="needs the playwright package")
def test_the_page_in_a_headless_browser_lists_change_between_turns(tmp_path):
    import uvicorn
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(model(), tmp_path), host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.1)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1200, "height": 700})
            page.goto(f"http://127.0.0.1:{port}/")
            lists = []
            for n, text in enumerate(["I loved Alien", "no sci-fi, something from the 80s"], 1):
                page.fill("#text", text)
                page.click("#send")
                page.wait_for_function(f"document.getElementById('list').dataset.updates === '{n}'", timeout=20_000)
                lists.append(page.eval_on_selector_all("#list li", "els => els.map(e => e.dataset.item)"))
            assert lists[0] and lists[1] and lists[0] != lists[1]
            assert lists[1] == ["15"]  # Airplane!: the one 1980s film that is not sci-fi (Alien is mentioned)
            assert page.locator(".msg.you").count() == 2
            page.screenshot(path=str(tmp_path / "chat.png"))
            assert (tmp_path / "chat.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
