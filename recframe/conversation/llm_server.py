"""``python -m recframe serve-llm SPEC --port N``: an OpenAI-compatible chat endpoint over a local LLM.

For users without vLLM or llama.cpp's server, and for testing
:class:`~recframe.conversation.llm.OpenAICompatible` against a real server process. Implements
``POST /v1/chat/completions`` (greedy, ``max_tokens`` honoured, no streaming) and ``GET /v1/models``
with the standard library's threading HTTP server; requests are answered one at a time (one model, one lock).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from recframe.conversation.llm import HuggingFaceLLM


def make_server(llm: HuggingFaceLLM, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A server bound to ``host:port`` (not started: call ``serve_forever``)."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # quiet by default
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": llm.name, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                messages = request["messages"]
                if not isinstance(messages, list) or not all("role" in m and "content" in m for m in messages):
                    raise ValueError("messages must be a list of {role, content}")
            except (ValueError, KeyError) as err:
                self._send(400, {"error": {"message": f"bad request: {err}"}})
                return
            with lock:
                text = llm.generate(messages, max_new_tokens=request.get("max_tokens"))
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            self._send(
                200,
                {
                    "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": llm.name,
                    "choices": [choice],
                },
            )

    return ThreadingHTTPServer((host, port), Handler)
