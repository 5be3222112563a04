"""A local HTTP server standing in for the PatchOps API in the agent's tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Route = Callable[[Recorded], tuple[int, Any]]


@dataclass
class StubServer:
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/clients/acme/"

    def route(self, method: str, path: str, status: int, body: Any = None) -> None:
        self.routes[(method, path)] = lambda _request: (status, body)

    def answer(self, recorded: Recorded) -> tuple[int, Any]:
        path = recorded.path.split("?")[0]
        for (method, prefix), route in self.routes.items():
            if method == recorded.method and path == prefix:
                return route(recorded)
        return 404, {"detail": "Not found."}


def start_stub() -> tuple[StubServer, Callable[[], None]]:
    stub = StubServer()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            recorded = Recorded(
                self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
            )
            stub.requests.append(recorded)
            status, body = stub.answer(recorded)
            raw = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = _handle
        do_POST = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stub, stop
