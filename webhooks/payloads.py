"""The JSON envelope of every webhook delivery and the ``data`` of each event type.

Envelope (stable; new keys may be added, none removed or renamed)::

    {
      "id": "<uuid of the event>",           same for every endpoint that hears it
      "type": "rollout.halted",               one of the catalogue (choices.WebhookEvent)
      "created_at": "2026-12-03T18:00:00+00:00",
      "client": {"slug": "acme", "name": "Acme Dental"},
      "url": "https://portal/clients/acme/rollouts/<uuid>/",   the page in the portal
      "data": {…}                             per type, below
    }

The data holds only what the client's own portal shows on that page (identifiers, hostnames,
patch names, states and dates): never a person's name or address, an IP address, a signer's
details or a file path.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

__all__ = ["DATA_FIELDS", "PAGES", "envelope", "portal_url"]

# Payload fields of the evidence event copied into ``data`` per webhook type (besides the
# subject's id, named by the type's subject key).
DATA_FIELDS: dict[str, tuple[str, ...]] = {
    "finding.overdue": ("patch", "hostname", "tier", "kev", "state", "detected_at", "due_at"),
    "finding.verified": ("patch", "hostname", "from_state", "verified_at", "within_sla"),
    "rollout.halted": ("reason", "ring", "cancelled_jobs"),
    "rollout.completed": (
        "deployed",
        "verified",
        "failed",
        "rolled_back",
        "waves",
        "skipped_waves",
        "expedited",
    ),
    "exception.requested": ("version", "kind", "ticket_reference", "expires_at"),
    "exception.signed": ("version", "kind", "ticket_reference", "expires_at", "starts_at"),
    "exception.expiring": ("version", "kind", "ticket_reference", "expires_at", "days_before"),
    "report.ready": ("kind", "period", "version", "sha256", "size"),
    "webhook.test": ("message",),
}
# Per type: the key naming the subject in ``data`` and its portal page (under the client).
PAGES: dict[str, tuple[str, str]] = {
    "finding.overdue": ("finding", "findings/{id}/"),
    "finding.verified": ("finding", "findings/{id}/"),
    "rollout.halted": ("rollout", "rollouts/{id}/"),
    "rollout.completed": ("rollout", "rollouts/{id}/"),
    "exception.requested": ("exception", "portal/exceptions/{id}/"),
    "exception.signed": ("exception", "portal/exceptions/{id}/"),
    "exception.expiring": ("exception", "portal/exceptions/{id}/"),
    "report.ready": ("report", "reports/"),
    "webhook.test": ("endpoint", "webhooks/"),
}


def portal_url(client: Any, page: str) -> str:
    return f"{settings.PORTAL_URL.rstrip('/')}/clients/{client.slug}/{page}"


def envelope(
    *,
    type: str,  # noqa: A002 - the envelope's own word
    event_id: str,
    created_at: Any,
    client: Any,
    subject_id: str,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """The body of one delivery of event ``event_id`` of ``type`` in ``client``."""
    key, page = PAGES[type]
    data: dict[str, Any] = {key: str(subject_id)}
    for name in DATA_FIELDS[type]:
        if name in payload:
            data[name] = payload[name]
    if type == "exception.signed":
        data["findings_excepted"] = len(payload.get("findings_excepted", []))
    return {
        "id": str(event_id),
        "type": type,
        "created_at": created_at.isoformat(),
        "client": {"slug": client.slug, "name": client.name},
        "url": portal_url(client, page.format(id=subject_id)),
        "data": data,
    }
