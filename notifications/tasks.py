"""Thin Celery entry points of the notifications: one e-mail, and the daily digests."""

from __future__ import annotations

import smtplib

from celery import shared_task

from common.dependencies import DEPENDENCY_ERRORS

from . import services


@shared_task(
    name=services.SEND_TASK,
    acks_late=True,
    autoretry_for=(smtplib.SMTPException, OSError, *DEPENDENCY_ERRORS),
    retry_backoff=30,
    retry_backoff_max=1800,
    retry_jitter=True,
    max_retries=8,
    soft_time_limit=60,
    time_limit=90,
)
def send_notification(notification_id: int) -> str:
    """Send one immediate notification (a second run sends nothing)."""
    return services.send_notification(notification_id)


@shared_task(name="notifications.send_due_digests", soft_time_limit=600, time_limit=660)
def send_due_digests() -> dict:
    """Beat entry (hourly): the daily digest of every user whose digest hour it is."""
    return services.send_due_digests()
