"""Per-client periodic work, one way: a beat task asks ``dispatch_per_client`` to queue a task
once per client, in that client's schema.

The queued task runs in the schema that was active when it was sent (tenant-schemas-celery
carries it in the message headers), so the per-client task itself needs no client argument.
``select`` runs inside each client's schema and decides whether that client is due: it returns
``False``/``None`` to skip the client, ``True`` to queue the task with no arguments, or a dict
of keyword arguments for this client's task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_tenants.utils import tenant_context

from .models import Client

__all__ = ["all_clients", "dispatch_per_client"]

Selection = bool | dict[str, Any] | None


def all_clients() -> list[Client]:
    """Every client (not the public schema), in a stable order."""
    return list(Client.objects.exclude(schema_name="public").order_by("pk"))


def dispatch_per_client(
    task: Any, *, select: Callable[[Client], Selection] | None = None
) -> list[str]:
    """Queue ``task`` in each client's schema where ``select`` says the client is due; return
    the slugs of the clients it was queued for."""
    sent: list[str] = []
    for client in all_clients():
        with tenant_context(client):
            decision = True if select is None else select(client)
            if not decision:
                continue
            kwargs = decision if isinstance(decision, dict) else {}
            task.apply_async(kwargs=kwargs)
        sent.append(client.slug)
    return sent
