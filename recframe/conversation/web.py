"""``python -m recframe serve TARGET [--port N]``: the chat as a web page on localhost (Starlette + uvicorn).

One plain HTML page (no external scripts, fonts or styles: it works offline) talks to a JSON API:
``POST /api/say {"text"}``, ``POST /api/feedback {"position", "kind": "like"|"dislike"}``,
``POST /api/reset``; each answers ``{"response", "notes", "items": [{position, item, title, score,
reasons}]}``. Every browser session (a cookie) gets its own :class:`~.Conversation` over the one loaded
model, and its transcript is saved as JSONL beside the run, like ``chat``'s. Install with
``pip install "recframe[app]"``.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from recframe.conversation.chat import save_transcript
from recframe.conversation.session import Conversation, Recommendation

PAGE = Path(__file__).with_name("web_page.html")
COOKIE = "recframe_session"


def listing(conv: Conversation, recs: list[Recommendation]) -> dict[str, Any]:
    """The JSON answer of every API call: reply text, notes and the list with reasons."""
    return {
        "response": conv.turn.response,
        "notes": list(conv.turn.notes),
        "items": [
            {"position": n, "item": r.item, "title": r.title, "score": round(r.score, 4),
             "reasons": [x.text for x in r.reasons]}
            for n, r in enumerate(recs, 1)
        ],
    }  # fmt: skip


def make_app(model: Conversation, transcripts: Path | None = None):
    """The Starlette app; ``model`` is the loaded conversation whose profile every session shares."""
    try:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import HTMLResponse, JSONResponse
        from starlette.routing import Route
    except ImportError as err:
        raise ModuleNotFoundError('the web page needs its extra: pip install "recframe[app]"') from err

    sessions: dict[str, Conversation] = {}

    def session(request: Request) -> tuple[str, Conversation]:
        key = request.cookies.get(COOKIE)
        if key not in sessions:
            key = secrets.token_hex(8)
            sessions[key] = Conversation(model.profile, model.catalogue, k=model.k, mask_mentioned=model.mask_mentioned)
            sessions[key].source, sessions[key].llm = model.source, model.llm
        return key, sessions[key]

    def answer(key: str, conv: Conversation, recs: list[Recommendation]) -> JSONResponse:
        if transcripts is not None:
            save_transcript(transcripts / f"web-{key}.jsonl", conv, session=key)
        response = JSONResponse(listing(conv, recs))
        response.set_cookie(COOKIE, key, httponly=True, samesite="strict")
        return response

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    async def say(request: Request) -> JSONResponse:
        key, conv = session(request)
        body = await request.json()
        return answer(key, conv, conv.say(str(body.get("text", ""))))

    async def feedback(request: Request) -> JSONResponse:
        key, conv = session(request)
        body = await request.json()
        position, kind = body.get("position"), body.get("kind")
        if kind not in ("like", "dislike") or not isinstance(position, int) or not 1 <= position <= len(conv.last):
            return JSONResponse(
                {"error": f"feedback needs kind like|dislike and a position 1..{len(conv.last)} on screen"},
                status_code=400,
            )
        item = conv.last[position - 1].item
        return answer(key, conv, (conv.like if kind == "like" else conv.dislike)(item))

    async def reset(request: Request) -> JSONResponse:
        key, conv = session(request)
        conv.reset()
        conv.turn.response = "Starting over."
        return answer(key, conv, [])

    routes = [
        Route("/", page),
        Route("/api/say", say, methods=["POST"]),
        Route("/api/feedback", feedback, methods=["POST"]),
        Route("/api/reset", reset, methods=["POST"]),
    ]
    return Starlette(routes=routes)
