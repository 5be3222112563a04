"""Who reacts when an event is appended: the integrations, webhooks and notifications subscribe
to the kinds they care about instead of every producer calling each of them.

A subscriber is ``handler(event)`` and runs inside the transaction that appends the event, right
after it is written (so whatever it queues, e.g. an outbox row, exists exactly when the event
does, and rolls back with it). A subscriber must be quick and must not touch the network: it
writes rows and queues tasks (``transaction.on_commit``). Apps subscribe once, in their
``AppConfig.ready()``::

    from evidence.subscribers import subscribe

    subscribe(["rollout.halted", "rollout.completed"], webhooks.services.on_event)

The current schema (``connection.schema_name``) is the event's client. The evidence app imports
no other app; the subscribers import it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["subscribe", "unsubscribe", "subscribers_of", "notify"]

Handler = Callable[[Any], None]
_BY_KIND: dict[str, list[Handler]] = {}


def subscribe(kinds: Iterable[str], handler: Handler) -> Handler:
    """Call ``handler(event)`` for every appended event of one of ``kinds`` (idempotent)."""
    if isinstance(kinds, str):
        kinds = [kinds]
    for kind in kinds:
        handlers = _BY_KIND.setdefault(kind, [])
        if handler not in handlers:
            handlers.append(handler)
    return handler


def unsubscribe(kinds: Iterable[str], handler: Handler) -> None:
    if isinstance(kinds, str):
        kinds = [kinds]
    for kind in kinds:
        handlers = _BY_KIND.get(kind, [])
        if handler in handlers:
            handlers.remove(handler)


def subscribers_of(kind: str) -> list[Handler]:
    return list(_BY_KIND.get(kind, ()))


def notify(events: Iterable[Any]) -> None:
    """Hand each appended event to the subscribers of its kind, in order."""
    for event in events:
        for handler in _BY_KIND.get(event.kind, ()):
            handler(event)
