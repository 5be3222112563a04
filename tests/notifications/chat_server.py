"""Local chat endpoints on 127.0.0.1 (http.server in a thread) speaking the incoming-webhook
protocols: Slack answers 200 ``ok`` (text/plain) to a JSON body with ``text``; a Teams
Workflows webhook answers 202 Accepted with no body to a message with an Adaptive Card
attachment. Both record every call and can answer scripted failures first."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ChatServer:
    url: str
    provider: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)  # statuses of the next answers
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.calls if c["status"] < 300]


def _refusal(provider: str, body: Any) -> tuple[int, bytes] | None:
    """What the vendor answers to a body it does not take (as their documentation says)."""
    if not isinstance(body, dict):
        return 400, b"invalid_payload"
    if provider == "slack":
        return None if body.get("text") or body.get("blocks") else (400, b"no_text")
    if provider == "teams_legacy":
        ok = body.get("@type") == "MessageCard" and (body.get("text") or body.get("summary"))
        return None if ok else (400, b"Summary or Text is required.")
    attachments = body.get("attachments") or []
    cards = [
        a for a in attachments if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
    ]
    if (
        body.get("type") != "message"
        or not cards
        or cards[0]["content"].get("type") != "AdaptiveCard"
    ):
        return 400, b'{"error":{"code":"InvalidRequestContent"}}'
    return None


@contextmanager
def chat_server(provider: str) -> Iterator[ChatServer]:
    path = (
        "/services/T000/B000/XXXX"
        if provider == "slack"
        else "/workflows/abc/triggers/manual/paths/invoke"
    )
    server = ChatServer(url="", provider=provider)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            with server.lock:
                failure = server.failures.pop(0) if server.failures else None
            if failure is not None:
                status, answer = failure, b"upstream error"
            elif self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                status, answer = 400, b"invalid_payload"
            else:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                refused = _refusal(provider, body)
                if refused:
                    status, answer = refused
                else:
                    status, answer = {"slack": (200, b"ok"), "teams_legacy": (200, b"1")}.get(
                        provider, (202, b"")
                    )
            with server.lock:
                server.calls.append(
                    {
                        "path": self.path,
                        "status": status,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": raw,
                    }
                )
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server.url = f"http://127.0.0.1:{httpd.server_port}{path}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
