"""Templates: validated writes (the page and the API call these)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .models import PolicyTemplate
from .rules import RULE_FIELDS

__all__ = ["save_template", "TEMPLATE_FIELDS"]

TEMPLATE_FIELDS = ("name", "description", *RULE_FIELDS, "asset_classes", "rings")


def save_template(
    *, data: dict[str, Any], actor_label: str, template: PolicyTemplate | None = None
) -> PolicyTemplate:
    """Create or update a template from ``data`` (the keys of ``TEMPLATE_FIELDS``); the model's
    checks answer with field errors and nothing is saved."""
    unknown = sorted(set(data) - set(TEMPLATE_FIELDS))
    if unknown:
        raise ValidationError({k: "Not a template field." for k in unknown})
    now = timezone.now()
    template = template or PolicyTemplate(created_by=actor_label, created_at=now)
    for key, value in data.items():
        setattr(template, key, value)
    if isinstance(template.name, str):
        template.name = template.name.strip()
    template.asset_classes = sorted(set(template.asset_classes or []))
    template.rings = sorted(set(template.rings or []))
    template.updated_at = now
    template.full_clean()
    with transaction.atomic():
        template.save()
    return template
