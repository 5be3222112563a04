"""The three PSAs' own protocols: how a ticket is created, noted, closed and listed, how PatchOps
signs in, and how each PSA's calls back are verified.

* ConnectWise Manage (REST 3.0): ``Authorization: Basic base64(<company>+<public>:<private>)``
  and the ``clientId`` header. ``POST service/tickets`` answers the ticket (its ``id``);
  ``POST service/tickets/<id>/notes``; ``PATCH service/tickets/<id>`` with a JSON Patch of the
  status; ``GET service/tickets?conditions=…``. Callbacks carry ``x-content-signature``:
  base64 HMAC-SHA256 of the raw body with the callback's signing key (the key its
  ``Metadata.key_url`` hands out, stored on the connection).
* Autotask (REST v1.0): the ``ApiIntegrationCode``, ``UserName`` and ``Secret`` headers.
  ``POST Tickets`` answers ``{"itemId"}``; ``POST Tickets/<id>/Notes``; ``PATCH Tickets``
  with ``{"id", "status"}``; ``POST Tickets/query`` with a filter. Webhooks carry
  ``X-Hook-Signature: sha1=<base64 HMAC-SHA1 of the raw body with the webhook's SecretKey>``.
* HaloPSA: an OAuth2 client-credentials token from ``POST /auth/token``, then
  ``Authorization: Bearer``. ``POST /api/Tickets`` (a list) answers the ticket;
  ``POST /api/Actions`` adds a note; ``POST /api/Tickets`` with ``{"id", "status_id"}``
  changes the status; ``GET /api/Tickets?client_id=…``. Webhooks authenticate with the Basic
  user name and password set on the webhook in HaloPSA.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import outbox
from .choices import PsaKind
from .models import PsaConnection

__all__ = ["Remote", "protocol", "verify_inbound", "parse_inbound", "parse_ticket_list"]


@dataclass(frozen=True)
class Remote:
    """One ticket as the PSA reports it."""

    external_id: str
    status: str  # the PSA's status id (as text)
    status_name: str
    closed: bool
    summary: str
    created_at: datetime | None
    company: str
    board: str
    # Who closed it, as the PSA names them (blank when it does not say).
    resolved_by: str = ""


def _json(body: Any) -> bytes:
    return json.dumps(body).encode()


def _int_or_text(value: str) -> Any:
    return int(value) if str(value).isdigit() else value


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(str(value))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison that takes any header text (non-ASCII is simply different)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def _root(conn: PsaConnection) -> str:
    return conn.base_url.rstrip("/")


# --------------------------------------------------------------------------- ConnectWise


class ConnectWise:
    def headers(self, conn: PsaConnection) -> dict[str, str]:
        raw = f"{conn.login_company}+{conn.api_user}:{conn.api_secret}".encode()
        return {
            "Authorization": "Basic " + base64.b64encode(raw).decode(),
            "clientId": conn.app_id,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def create(self, conn: PsaConnection, ticket: dict[str, Any]) -> tuple[str, str, bytes]:
        body: dict[str, Any] = {
            "summary": ticket["summary"][:100],
            "initialDescription": ticket["description"],
            "company": {"id": _int_or_text(conn.company_ref)},
        }
        if conn.board_ref:
            body["board"] = {"id": _int_or_text(conn.board_ref)}
        if ticket.get("psa_priority"):
            body["priority"] = {"id": _int_or_text(ticket["psa_priority"])}
        if conn.new_status_ref:
            body["status"] = {"id": _int_or_text(conn.new_status_ref)}
        return "POST", f"{_root(conn)}/service/tickets", _json(body)

    def created_id(self, body: Any) -> str:
        return str(body["id"])

    def note(self, conn: PsaConnection, external_id: str, text: str) -> tuple[str, str, bytes]:
        body = {"text": text, "detailDescriptionFlag": True, "internalAnalysisFlag": False}
        return "POST", f"{_root(conn)}/service/tickets/{external_id}/notes", _json(body)

    def close(self, conn: PsaConnection, external_id: str) -> tuple[str, str, bytes]:
        patch = [
            {
                "op": "replace",
                "path": "status",
                "value": {"id": _int_or_text(conn.closed_status_ref)},
            }
        ]
        return "PATCH", f"{_root(conn)}/service/tickets/{external_id}", _json(patch)

    def poll(self, conn: PsaConnection, since: datetime | None) -> tuple[str, str, bytes]:
        conditions = [f"company/id={conn.company_ref}"]
        if conn.board_ref:
            conditions.append(f"board/id={conn.board_ref}")
        if since:
            conditions.append(f"lastUpdated>[{since.strftime('%Y-%m-%dT%H:%M:%SZ')}]")
        query = urlencode({"conditions": " and ".join(conditions), "pageSize": 1000})
        return "GET", f"{_root(conn)}/service/tickets?{query}", b""

    def tickets(self, body: Any) -> list[Remote]:
        out = []
        for item in body if isinstance(body, list) else []:
            status = item.get("status") or {}
            info = item.get("_info") or {}
            out.append(
                Remote(
                    external_id=str(item["id"]),
                    status=str(status.get("id", "")),
                    status_name=str(status.get("name", "")),
                    closed=bool(item.get("closedFlag")),
                    summary=str(item.get("summary", "")),
                    created_at=_when(info.get("dateEntered") or item.get("dateEntered")),
                    company=str((item.get("company") or {}).get("id", "")),
                    board=str((item.get("board") or {}).get("id", "")),
                    resolved_by=str(item.get("closedBy") or "")[:255],
                )
            )
        return out

    def verify(self, conn: PsaConnection, headers: dict[str, str], raw: bytes) -> bool:
        given = headers.get("x-content-signature", "")
        if not given or not conn.webhook_secret:
            return False
        digest = hmac.new(conn.webhook_secret.encode(), raw, hashlib.sha256).digest()
        return _same(base64.b64encode(digest).decode(), given.strip())

    def inbound(self, body: Any) -> list[Remote]:
        """A callback: ``{"Action", "Type": "ticket", "ID", "Entity": "<ticket JSON>"}``."""
        if not isinstance(body, dict) or str(body.get("Type", "")).lower() != "ticket":
            raise ValueError("Not a ticket callback.")
        entity = body.get("Entity")
        if isinstance(entity, str):
            entity = json.loads(entity) if entity else {}
        if not isinstance(entity, dict):
            raise ValueError("The callback has no ticket.")
        entity.setdefault("id", body.get("ID"))
        if entity.get("id") in (None, ""):
            raise ValueError("The callback names no ticket.")
        return self.tickets([entity])


# --------------------------------------------------------------------------- Autotask

AUTOTASK_COMPLETE = 5


class Autotask:
    def headers(self, conn: PsaConnection) -> dict[str, str]:
        return {
            "ApiIntegrationCode": conn.app_id,
            "UserName": conn.api_user,
            "Secret": conn.api_secret,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def create(self, conn: PsaConnection, ticket: dict[str, Any]) -> tuple[str, str, bytes]:
        body: dict[str, Any] = {
            "companyID": _int_or_text(conn.company_ref),
            "title": ticket["summary"][:255],
            "description": ticket["description"][:8000],
            "status": _int_or_text(conn.new_status_ref or "1"),
        }
        if conn.board_ref:
            body["queueID"] = _int_or_text(conn.board_ref)
        if ticket.get("psa_priority"):
            body["priority"] = _int_or_text(ticket["psa_priority"])
        return "POST", f"{_root(conn)}/Tickets", _json(body)

    def created_id(self, body: Any) -> str:
        return str(body["itemId"])

    def note(self, conn: PsaConnection, external_id: str, text: str) -> tuple[str, str, bytes]:
        body = {
            "ticketID": _int_or_text(external_id),
            "title": "PatchOps",
            "description": text[:32000],
            "noteType": 1,
            "publish": 1,
        }
        return "POST", f"{_root(conn)}/Tickets/{external_id}/Notes", _json(body)

    def close(self, conn: PsaConnection, external_id: str) -> tuple[str, str, bytes]:
        status = _int_or_text(conn.closed_status_ref or str(AUTOTASK_COMPLETE))
        body = {"id": _int_or_text(external_id), "status": status}
        return "PATCH", f"{_root(conn)}/Tickets", _json(body)

    def poll(self, conn: PsaConnection, since: datetime | None) -> tuple[str, str, bytes]:
        items: list[dict[str, Any]] = [
            {"op": "eq", "field": "companyID", "value": _int_or_text(conn.company_ref)}
        ]
        if conn.board_ref:
            items.append({"op": "eq", "field": "queueID", "value": _int_or_text(conn.board_ref)})
        if since:
            items.append({"op": "gte", "field": "lastActivityDate", "value": since.isoformat()})
        body = {"filter": [{"op": "and", "items": items}], "MaxRecords": 500}
        return "POST", f"{_root(conn)}/Tickets/query", _json(body)

    def _remote(self, item: dict[str, Any]) -> Remote:
        status = str(item.get("status", ""))
        return Remote(
            external_id=str(item["id"]),
            status=status,
            status_name=status,
            closed=status == str(AUTOTASK_COMPLETE),
            summary=str(item.get("title", "")),
            created_at=_when(item.get("createDate")),
            company=str(item.get("companyID", "")),
            board=str(item.get("queueID", "") or ""),
            resolved_by=(
                f"resource:{item['completedByResourceID']}"
                if item.get("completedByResourceID")
                else ""
            ),
        )

    def tickets(self, body: Any) -> list[Remote]:
        items = body.get("items", []) if isinstance(body, dict) else []
        return [self._remote(item) for item in items if isinstance(item, dict)]

    def verify(self, conn: PsaConnection, headers: dict[str, str], raw: bytes) -> bool:
        given = headers.get("x-hook-signature", "")
        if not given.startswith("sha1=") or not conn.webhook_secret:
            return False
        digest = hmac.new(conn.webhook_secret.encode(), raw, hashlib.sha1).digest()
        return _same("sha1=" + base64.b64encode(digest).decode(), given.strip())

    def inbound(self, body: Any) -> list[Remote]:
        """A ticket webhook: ``{"Guid", "EntityType": "Ticket", "Id", "Action", "Fields"}``."""
        if not isinstance(body, dict) or str(body.get("EntityType", "")).lower() != "ticket":
            raise ValueError("Not a ticket webhook.")
        if body.get("Id") in (None, ""):
            raise ValueError("The webhook names no ticket.")
        fields = body.get("Fields") or {}
        if not isinstance(fields, dict) or "status" not in {k.lower() for k in fields}:
            return []  # a change of some other field
        lowered = {k.lower(): v for k, v in fields.items()}
        return [
            self._remote(
                {
                    "id": body["Id"],
                    "status": lowered["status"],
                    "title": lowered.get("title", ""),
                    "companyID": lowered.get("companyid", ""),
                    "queueID": lowered.get("queueid", ""),
                }
            )
        ]


# --------------------------------------------------------------------------- HaloPSA


class Halo:
    def token(self, conn: PsaConnection) -> str:
        """The bearer token, fetched again once it is about to expire (through the outbox's
        transport: a refused sign-in is a refused delivery)."""
        now = timezone.now()
        if conn.access_token and conn.token_expires_at and conn.token_expires_at > now:
            return conn.access_token
        form = {
            "grant_type": "client_credentials",
            "client_id": conn.api_user,
            "client_secret": conn.api_secret,
            "scope": "all",
        }
        url = f"{_root(conn)}/auth/token"
        if conn.login_company:
            url += "?" + urlencode({"tenant": conn.login_company})
        _, body = outbox.fetch(
            outbox.OutboundRequest(
                url=url,
                body=urlencode(form).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        )
        try:
            answer = json.loads(body)
            token = str(answer["access_token"])
        except (ValueError, KeyError, TypeError) as exc:
            raise outbox.PermanentDeliveryError("HaloPSA gave no access token.") from exc
        expires = now + timedelta(seconds=max(int(answer.get("expires_in") or 3600) - 60, 30))
        PsaConnection.objects.filter(pk=conn.pk).update(
            access_token=token, token_expires_at=expires
        )
        conn.access_token, conn.token_expires_at = token, expires
        return token

    def headers(self, conn: PsaConnection) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token(conn)}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def create(self, conn: PsaConnection, ticket: dict[str, Any]) -> tuple[str, str, bytes]:
        body: dict[str, Any] = {
            "summary": ticket["summary"],
            "details": ticket["description"],
            "client_id": _int_or_text(conn.company_ref),
        }
        if conn.board_ref:
            body["team_id"] = _int_or_text(conn.board_ref)
        if ticket.get("psa_priority"):
            body["priority_id"] = _int_or_text(ticket["psa_priority"])
        if conn.new_status_ref:
            body["status_id"] = _int_or_text(conn.new_status_ref)
        return "POST", f"{_root(conn)}/api/Tickets", _json([body])

    def created_id(self, body: Any) -> str:
        item = body[0] if isinstance(body, list) else body
        return str(item["id"])

    def note(self, conn: PsaConnection, external_id: str, text: str) -> tuple[str, str, bytes]:
        body = [
            {
                "ticket_id": _int_or_text(external_id),
                "note": text,
                "outcome": "Note",
                "hiddenfromuser": False,
            }
        ]
        return "POST", f"{_root(conn)}/api/Actions", _json(body)

    def close(self, conn: PsaConnection, external_id: str) -> tuple[str, str, bytes]:
        body = [
            {"id": _int_or_text(external_id), "status_id": _int_or_text(conn.closed_status_ref)}
        ]
        return "POST", f"{_root(conn)}/api/Tickets", _json(body)

    def poll(self, conn: PsaConnection, since: datetime | None) -> tuple[str, str, bytes]:
        params: dict[str, Any] = {
            "client_id": conn.company_ref,
            "pageinate": "true",
            "page_size": 500,
            "page_no": 1,
        }
        if conn.board_ref:
            params["team_id"] = conn.board_ref
        return "GET", f"{_root(conn)}/api/Tickets?{urlencode(params)}", b""

    def _remote(self, conn_closed: str, item: dict[str, Any]) -> Remote:
        status = str(item.get("status_id", ""))
        return Remote(
            external_id=str(item["id"]),
            status=status,
            status_name=str(item.get("status_name", "") or status),
            closed=bool(conn_closed) and status == conn_closed,
            summary=str(item.get("summary", "")),
            created_at=_when(item.get("dateoccurred")),
            company=str(item.get("client_id", "")),
            board=str(item.get("team_id", "") or ""),
        )

    def tickets(self, body: Any, closed: str = "") -> list[Remote]:
        items = body.get("tickets", []) if isinstance(body, dict) else body
        return [self._remote(closed, item) for item in items or [] if isinstance(item, dict)]

    def verify(self, conn: PsaConnection, headers: dict[str, str], raw: bytes) -> bool:
        given = headers.get("authorization", "")
        if not given.lower().startswith("basic ") or not conn.webhook_secret:
            return False
        expected = base64.b64encode(
            f"{conn.webhook_username}:{conn.webhook_secret}".encode()
        ).decode()
        return _same(given[6:].strip(), expected)

    def inbound(self, body: Any) -> list[Remote]:
        """A ticket webhook: the ticket as ``{"ticket": {...}}`` or the ticket itself."""
        item = body.get("ticket", body) if isinstance(body, dict) else None
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            raise ValueError("The webhook names no ticket.")
        if "status_id" not in item:
            return []
        return self.tickets([item])


PROTOCOLS: dict[str, Any] = {
    PsaKind.CONNECTWISE: ConnectWise(),
    PsaKind.AUTOTASK: Autotask(),
    PsaKind.HALOPSA: Halo(),
}


def protocol(conn: PsaConnection) -> Any:
    return PROTOCOLS[conn.kind]


def verify_inbound(conn: PsaConnection, headers: dict[str, str], raw: bytes) -> bool:
    """Whether a call back carries this connection's valid signature (or credentials)."""
    return protocol(conn).verify(conn, {k.lower(): v for k, v in headers.items()}, raw)


def parse_inbound(conn: PsaConnection, body: Any) -> list[Remote]:
    """The tickets whose status a call back reports (ValueError: not a ticket call)."""
    return protocol(conn).inbound(body)


def parse_ticket_list(conn: PsaConnection, body: Any) -> list[Remote]:
    proto = protocol(conn)
    if conn.kind == PsaKind.HALOPSA:
        return proto.tickets(body, conn.closed_status_ref)
    return proto.tickets(body)
