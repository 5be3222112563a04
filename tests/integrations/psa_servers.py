"""Local PSAs on 127.0.0.1 (http.server in a thread) that speak ConnectWise Manage, Autotask and
HaloPSA: their paths, their sign-in headers (a call without them is answered 401) and their JSON
shapes. Each keeps the tickets it holds, records every call and can fail the next calls with
scripted statuses. The ConnectWise server's ticket list starts from a real ConnectWise answer
(/work/shared/realdata/psa-connectwise)."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

REALDATA = Path("/work/shared/realdata/psa-connectwise/get_tickets_no_parameters.json.resp")

CW_COMPANY, CW_PUBLIC, CW_PRIVATE, CW_CLIENT_ID = "acme", "pubKEY123", "privKEY456", "cid-789"
AT_CODE, AT_USER, AT_SECRET = "INTEGRATION-CODE", "api@acme.test", "at-secret-1"
HALO_CLIENT, HALO_SECRET, HALO_TOKEN = "halo-client", "halo-secret", "tok-abc"


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class PsaServer:
    kind: str
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, list[str]] = field(default_factory=dict)
    # Status of the next answers to calls that change tickets (then the real answer).
    statuses: list[int] = field(default_factory=list)
    always: int | None = None
    next_id: int = 5000
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what a test sees
    def writes(self) -> list[Call]:
        return [c for c in self.calls if c.method != "GET" and "/auth/token" not in c.path]

    def note_texts(self, ticket_id: int | str) -> list[str]:
        return self.notes.get(int(ticket_id), [])

    def status_of(self, ticket_id: int | str) -> str:
        ticket = self.tickets[int(ticket_id)]
        if self.kind == "connectwise":
            return str(ticket["status"]["id"])
        if self.kind == "autotask":
            return str(ticket["status"])
        return str(ticket["status_id"])

    def own_tickets(self) -> list[dict[str, Any]]:
        """Tickets created through the API during the test."""
        return [t for i, t in self.tickets.items() if i >= 5000]


def _authorized(server: PsaServer, headers: dict[str, str]) -> bool:
    if server.kind == "connectwise":
        expected = base64.b64encode(f"{CW_COMPANY}+{CW_PUBLIC}:{CW_PRIVATE}".encode()).decode()
        return (
            headers.get("authorization") == f"Basic {expected}"
            and headers.get("clientid") == CW_CLIENT_ID
        )
    if server.kind == "autotask":
        return (
            headers.get("apiintegrationcode") == AT_CODE
            and headers.get("username") == AT_USER
            and headers.get("secret") == AT_SECRET
        )
    return headers.get("authorization") == f"Bearer {HALO_TOKEN}"


def _connectwise(server: PsaServer, call: Call) -> tuple[int, Any]:
    path = call.path.split("/apis/3.0", 1)[-1]
    parts = [p for p in path.split("/") if p]
    if parts[:2] != ["service", "tickets"]:
        return 404, {"code": "NotFound", "message": "Not found"}
    if call.method == "GET" and len(parts) == 2:
        conditions = call.query.get("conditions", [""])[0]
        rows = list(server.tickets.values())
        for cond in conditions.split(" and "):
            if cond.startswith("company/id="):
                rows = [t for t in rows if str(t["company"]["id"]) == cond.split("=", 1)[1]]
            if cond.startswith("board/id="):
                rows = [t for t in rows if str(t["board"]["id"]) == cond.split("=", 1)[1]]
        return 200, rows
    if call.method == "POST" and len(parts) == 2:
        body = call.json
        server.next_id += 1
        template = copy.deepcopy(next(iter(server.tickets.values())))
        template.update(
            id=server.next_id,
            summary=body["summary"],
            company={"id": body["company"]["id"], "identifier": "Client"},
            board={"id": body.get("board", {}).get("id"), "name": "Patching"},
            status={"id": 1, "name": "New"},
            priority={"id": body.get("priority", {}).get("id"), "name": "P"},
            closedFlag=False,
        )
        template["_info"] = {**template.get("_info", {}), "dateEntered": "2026-06-03T03:00:00Z"}
        server.tickets[server.next_id] = template
        return 201, template
    ticket_id = int(parts[2])
    if ticket_id not in server.tickets:
        return 404, {"code": "NotFound", "message": "Ticket not found"}
    if call.method == "POST" and parts[3:] == ["notes"]:
        server.notes.setdefault(ticket_id, []).append(call.json["text"])
        return 201, {"id": len(server.notes[ticket_id]), "ticketId": ticket_id, **call.json}
    if call.method == "PATCH" and len(parts) == 3:
        for op in call.json:
            if op["op"] == "replace" and op["path"] == "status":
                server.tickets[ticket_id]["status"] = {"id": op["value"]["id"], "name": "Closed"}
                server.tickets[ticket_id]["closedFlag"] = True
        return 200, server.tickets[ticket_id]
    return 400, {"code": "InvalidObject", "message": "Unsupported"}


def _autotask(server: PsaServer, call: Call) -> tuple[int, Any]:
    path = call.path.split("/atservicesrest/v1.0", 1)[-1]
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] != "Tickets":
        return 404, {"errors": ["Not found"]}
    if call.method == "POST" and parts == ["Tickets", "query"]:
        items = list(server.tickets.values())
        for group in call.json["filter"]:
            for cond in group.get("items", [group]):
                if cond["op"] == "eq":
                    items = [t for t in items if str(t.get(cond["field"])) == str(cond["value"])]
        return 200, {"items": items, "pageDetails": {"count": len(items), "nextPageUrl": None}}
    if call.method == "POST" and parts == ["Tickets"]:
        body = call.json
        server.next_id += 1
        server.tickets[server.next_id] = {
            "id": server.next_id,
            "ticketNumber": f"T20260603.{server.next_id}",
            "createDate": "2026-06-03T03:00:00Z",
            **body,
        }
        return 200, {"itemId": server.next_id}
    if call.method == "PATCH" and parts == ["Tickets"]:
        body = call.json
        ticket = server.tickets.get(int(body["id"]))
        if ticket is None:
            return 404, {"errors": ["Ticket not found"]}
        ticket.update(body)
        return 200, {"itemId": ticket["id"]}
    if call.method == "POST" and len(parts) == 3 and parts[2] == "Notes":
        ticket_id = int(parts[1])
        if ticket_id not in server.tickets:
            return 404, {"errors": ["Ticket not found"]}
        server.notes.setdefault(ticket_id, []).append(call.json["description"])
        return 200, {"itemId": len(server.notes[ticket_id])}
    return 400, {"errors": ["Unsupported"]}


def _halo(server: PsaServer, call: Call) -> tuple[int, Any]:
    if call.path == "/auth/token":
        form = parse_qs(call.body.decode())
        if (
            form.get("grant_type") == ["client_credentials"]
            and form.get("client_id") == [HALO_CLIENT]
            and form.get("client_secret") == [HALO_SECRET]
        ):
            return 200, {"access_token": HALO_TOKEN, "token_type": "Bearer", "expires_in": 3600}
        return 401, {"error": "invalid_client"}
    if call.path == "/api/Tickets" and call.method == "GET":
        rows = [
            t
            for t in server.tickets.values()
            if str(t.get("client_id")) == call.query.get("client_id", [""])[0]
        ]
        return 200, {"page_no": 1, "page_size": 500, "record_count": len(rows), "tickets": rows}
    if call.path == "/api/Tickets" and call.method == "POST":
        out = None
        for item in call.json:
            if item.get("id"):
                ticket = server.tickets.get(int(item["id"]))
                if ticket is None:
                    return 404, {"error": "Ticket not found"}
                ticket.update(item)
                out = ticket
            else:
                server.next_id += 1
                out = {
                    "id": server.next_id,
                    "dateoccurred": "2026-06-03T03:00:00",
                    "status_id": 1,
                    **item,
                }
                server.tickets[server.next_id] = out
        return 201, out
    if call.path == "/api/Actions" and call.method == "POST":
        for item in call.json:
            ticket_id = int(item["ticket_id"])
            if ticket_id not in server.tickets:
                return 404, {"error": "Ticket not found"}
            server.notes.setdefault(ticket_id, []).append(item["note"])
        return 201, {"id": 1, "ticket_id": ticket_id, "note": item["note"]}
    return 404, {"error": "Not found"}


HANDLERS = {"connectwise": _connectwise, "autotask": _autotask, "halopsa": _halo}
PREFIX = {
    "connectwise": "/v4_6_release/apis/3.0",
    "autotask": "/atservicesrest/v1.0",
    "halopsa": "",
}


@contextmanager
def psa_server(kind: str) -> Iterator[PsaServer]:
    server = PsaServer(kind=kind)
    if kind == "connectwise":
        for row in json.loads(REALDATA.read_text()):
            server.tickets[int(row["id"])] = row

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            call = Call(
                self.command,
                split.path,
                parse_qs(split.query),
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            with server.lock:
                server.calls.append(call)
                if not split.path.endswith("/auth/token") and not _authorized(server, call.headers):
                    status, answer = 401, {"message": "Unauthorized"}
                elif (
                    call.method != "GET"
                    and not split.path.endswith("/auth/token")
                    and (server.always is not None or server.statuses)
                ):
                    status = server.always if server.always is not None else server.statuses.pop(0)
                    answer = {"message": "Service unavailable"}
                else:
                    status, answer = HANDLERS[kind](server, call)
            raw = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PATCH = _handle  # noqa: N815 - http.server API

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server.url = f"http://127.0.0.1:{httpd.server_port}{PREFIX[kind]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- what each PSA sends back (signed as the vendor signs) -------------------------------------


def connectwise_callback(ticket: dict[str, Any], key: str) -> tuple[bytes, dict[str, str]]:
    """A ConnectWise ticket callback: the ticket as a JSON string in ``Entity``, signed with
    ``x-content-signature`` (base64 HMAC-SHA256 of the body with the callback's signing key)."""
    body = json.dumps(
        {
            "MessageId": "6f0b1b8e-1111-2222-3333-444455556666",
            "FromUrl": "api-na.myconnectwise.net",
            "CompanyId": CW_COMPANY,
            "MemberId": "patchops",
            "Action": "updated",
            "Type": "ticket",
            "ID": ticket["id"],
            "ProductInstanceId": None,
            "PartnerId": None,
            "Entity": json.dumps(ticket),
            "Metadata": {"key_url": "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/"},
        }
    ).encode()
    signature = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
    return body, {"HTTP_X_CONTENT_SIGNATURE": signature}


def autotask_webhook(ticket_id: int, status: int, key: str) -> tuple[bytes, dict[str, str]]:
    """An Autotask ticket webhook signed with ``X-Hook-Signature: sha1=<base64 HMAC-SHA1>``."""
    body = json.dumps(
        {
            "Action": "Update",
            "Guid": "1d2c3b4a-0000-1111-2222-333344445555",
            "EntityType": "Ticket",
            "Id": ticket_id,
            "Fields": {"status": status},
            "EventTime": "2026-06-03T09:00:00.000Z",
            "SequenceNumber": 7,
            "PersonID": 29682885,
        }
    ).encode()
    digest = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha1).digest()).decode()
    return body, {"HTTP_X_HOOK_SIGNATURE": f"sha1={digest}"}


def halo_webhook(ticket: dict[str, Any], user: str, password: str) -> tuple[bytes, dict[str, str]]:
    """A HaloPSA ticket webhook with the Basic credentials set on the webhook."""
    body = json.dumps({"id": 12, "event": "Ticket Updated", "ticket": ticket}).encode()
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return body, {"HTTP_AUTHORIZATION": f"Basic {token}"}
