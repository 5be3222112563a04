"""Read side of the integrations: the outbox as the integrations page, the API and the rollout
page show it."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import OutboxMessage

__all__ = ["visible_outbox_messages", "rollout_outbox_messages"]


def visible_outbox_messages() -> QuerySet[OutboxMessage]:
    """Every outbound call of the current client, newest first."""
    return OutboxMessage.objects.select_related(
        "rmm_webhook", "psa_ticket", "psa_connection"
    ).order_by("-created_at", "-pk")


def rollout_outbox_messages(rollout_uuid: object) -> list[OutboxMessage]:
    """The calls made for one rollout, oldest first (one query)."""
    return list(
        OutboxMessage.objects.filter(subject_type="rollout", subject_id=str(rollout_uuid))
        .select_related("rmm_webhook", "psa_ticket", "psa_connection")
        .order_by("created_at", "pk")
    )
