"""The weekly review by e-mail: on Monday morning each MSP admin and engineer gets the week just
ended against the week before (the figures of ``dashboard.weekly.weekly_review``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache

from common.emails import send_templated
from scorecards.weekly import ensure_weekly_rollups, monday_of
from tenants.choices import StaffRole
from tenants.models import Client, User

from .weekly import weekly_review

__all__ = ["send_weekly_digest"]

_SENT_KEY = "dashboard:weekly-digest:{week}"


def send_weekly_digest(*, at: datetime) -> int:
    """Send the review of the last completed week (the week before the one holding ``at``) to
    every active MSP admin and engineer, one message each; returns how many were sent. A week
    is sent once: a second run for the same week (a retried or doubled task) sends nothing."""
    day = (at - timedelta(days=7)).date()
    week = (day - timedelta(days=day.weekday())).isoformat()
    if not cache.add(_SENT_KEY.format(week=week), at.isoformat(), timeout=14 * 24 * 3600):
        return 0
    recipients = list(
        User.objects.filter(
            is_active=True, staff_role__in=[StaffRole.MSP_ADMIN, StaffRole.ENGINEER]
        )
        .order_by("email")
        .values_list("email", flat=True)
    )
    if not recipients:
        return 0
    clients = list(Client.objects.exclude(schema_name="public").order_by("name"))
    # A week that closed (in some client's zone) after the hourly rollup ran is written now.
    monday = monday_of(day)
    ensure_weekly_rollups(clients, [monday, monday - timedelta(days=7)], at=at)
    review = weekly_review(clients, day)
    url = f"{settings.PORTAL_URL.rstrip('/')}/weekly-review/?week={week}"
    context = {"review": review, "week": week, "url": url}
    return sum(
        send_templated(template="dashboard/emails/weekly_review", to=[email], context=context)
        for email in recipients
    )
