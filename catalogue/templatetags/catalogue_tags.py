"""``{% why_this_update finding %}``: the catalogue's reason for a finding's patch."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("catalogue/partials/_why_this_update.html")
def why_this_update(finding: Any) -> dict[str, Any]:
    from findings.pipeline import explain_finding

    return {"why": explain_finding(finding), "finding": finding}
