"""The delivery state of outbound calls where other pages show them (the rollout page)."""

from __future__ import annotations

from django import template

from integrations.models import OutboxMessage
from integrations.selectors import rollout_outbox_messages

register = template.Library()


@register.simple_tag
def rollout_calls(rollout: object) -> list[OutboxMessage]:
    """``{% rollout_calls rollout as calls %}``: the rollout's calls to the RMM, oldest first."""
    return rollout_outbox_messages(getattr(rollout, "uuid", rollout))


@register.filter
def calls_for(calls: list[OutboxMessage], rollback: object) -> list[OutboxMessage]:
    """The calls among ``calls`` that carry ``rollback`` (a rollback event)."""
    wanted = str(getattr(rollback, "uuid", rollback))
    return [c for c in calls if c.payload.get("rollback") == wanted]
