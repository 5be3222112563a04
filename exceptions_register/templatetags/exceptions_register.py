"""Template tags other pages (the client home) use to show register fragments."""

from __future__ import annotations

from typing import Any

from django import template

from tenants.permissions import Capability, current_client, has_capability

from ..selectors import EXPIRING_SOON_DAYS, awaiting_signature, expiring_soon

register = template.Library()


@register.inclusion_tag("exceptions_register/partials/_expiring_soon.html", takes_context=True)
def exceptions_expiring_soon(context: dict[str, Any]) -> dict[str, Any]:
    request = context["request"]
    return {
        "expiring": list(expiring_soon()),
        "expiring_days": EXPIRING_SOON_DAYS,
        "current_client": current_client(request),
    }


@register.simple_tag(takes_context=True)
def exceptions_awaiting_count(context: dict[str, Any]) -> int:
    request = context["request"]
    client = current_client(request)
    if not has_capability(request.user, client, Capability.SIGN):
        return 0
    return awaiting_signature(request.user).count()
