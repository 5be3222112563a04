from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from common.thresholds import pct_colour
from findings.choices import FINDING_STATE_COLOR, TIER_COLOR
from findings.explain import explain_finding

register = template.Library()


@register.filter
def tier_color(tier: str) -> str:
    return TIER_COLOR.get(tier, "gray")


@register.filter
def state_color(state: str) -> str:
    return FINDING_STATE_COLOR.get(state, "gray")


@register.filter
def pct_color(value: Any) -> str:
    """green ≥ 95 %, orange ≥ 80 %, red below; gray when there is nothing to measure."""
    return pct_colour(None if value == "" else value)


@register.filter
def pct(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)):.2f} %"


@register.filter
def get_item(mapping: dict, key: str) -> Any:
    return (mapping or {}).get(key)


@register.inclusion_tag("findings/partials/_why_this_update.html")
def why_this_update(finding: Any) -> dict[str, Any]:
    """``{% why_this_update finding %}``: the catalogue's reason for a finding's patch."""
    return {"why": explain_finding(finding), "finding": finding}
