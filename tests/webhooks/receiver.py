"""A webhook receiver on 127.0.0.1 (http.server in a thread) that checks every delivery the way
the README tells receivers to, with its own HMAC code (it imports nothing of PatchOps):

* ``X-PatchOps-Signature`` holds ``v1=<hex>`` values; one must equal HMAC-SHA256 under a secret
  the receiver holds of ``"{X-PatchOps-Timestamp}.{raw body}"`` (else 401);
* the timestamp is within the tolerance of the receiver's clock (else 400: a replay);
* a delivery id (``X-PatchOps-Delivery``) already processed is answered 200 and not processed
  again (a replay, or a retry whose earlier answer was lost).

Scripted statuses (``statuses``) answer before anything is processed (a receiver that is down).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes
    status: int = 0
    outcome: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def delivery(self) -> str:
        return self.headers.get("x-patchops-delivery", "")


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


@dataclass
class Receiver:
    url: str = ""
    secrets: list[str] = field(default_factory=list)
    tolerance: int = 300
    statuses: list[int] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    processed: list[Request] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def judge(self, request: Request) -> tuple[int, str]:
        if self.statuses:
            status = self.statuses.pop(0)
            return status, f"scripted {status}"
        timestamp = request.headers.get("x-patchops-timestamp", "")
        given = [
            v.strip()[3:]
            for v in request.headers.get("x-patchops-signature", "").split(",")
            if v.strip().startswith("v1=")
        ]
        wanted = [expected_signature(s, timestamp, request.body) for s in self.secrets]
        if not any(hmac.compare_digest(w, g) for w in wanted for g in given):
            return 401, "bad signature"
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > self.tolerance:
            return 400, "stale timestamp"
        if request.delivery in self.seen:
            return 200, "duplicate"
        self.seen.add(request.delivery)
        self.processed.append(request)
        return 200, "processed"

    def post(self, request: Request) -> int:
        with self.lock:
            request.status, request.outcome = self.judge(request)
            self.requests.append(request)
        return request.status

    def events(self, type_: str | None = None) -> list[dict]:
        return [r.json for r in self.processed if type_ is None or r.json["type"] == type_]


@contextmanager
def receiver(secrets: list[str] | None = None) -> Iterator[Receiver]:
    server = Receiver(secrets=list(secrets or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = Request({k.lower(): v for k, v in self.headers.items()}, body)
            status = server.post(request)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"outcome": request.outcome}).encode())

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server.url = f"http://127.0.0.1:{httpd.server_port}/hooks/patchops"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
