"""Celery entry points of the dashboard (thin: call one service, return a small dict)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from .digest import send_weekly_digest


@shared_task(name="dashboard.send_weekly_digest", acks_late=True, soft_time_limit=600)
def send_weekly_digest_task() -> dict:
    """E-mail the week just ended to MSP admins and engineers (Mondays, from beat)."""
    return {"sent": send_weekly_digest(at=timezone.now())}
