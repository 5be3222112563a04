"""A local RMM endpoint on 127.0.0.1 (http.server in a thread) that records every call and answers
with scripted statuses, optionally after a delay."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RmmServer:
    url: str
    calls: list[Call] = field(default_factory=list)
    # Status of each next answer, in order; 200 once the script is used up (``default``).
    statuses: list[int] = field(default_factory=list)
    default: int = 200
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls_for(self, key: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.headers.get("idempotency-key") == key]

    def wait_for(self, count: int, *, key: str | None = None, timeout: float = 60) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls_for(key) if key else list(self.calls)
            if len(calls) >= count:
                return calls
            time.sleep(0.05)
        raise AssertionError(f"{count} call(s) expected, {len(self.calls)} received")


@contextmanager
def rmm_server(path: str = "/patchops") -> Iterator[RmmServer]:
    server = RmmServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with server.lock:
                server.calls.append(
                    Call(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = server.statuses.pop(0) if server.statuses else server.default
            if server.delay:
                time.sleep(server.delay)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

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
