"""Filter building blocks shared by every app's FilterSets (pages and API)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

__all__ = ["IsoDateTimeFilter", "UtcIsoDateTimeField"]


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, normalised to UTC.

    PostgreSQL accepts UTC offsets up to ±15:59 only, while ISO 8601 and Python allow any offset
    under 24 h; normalising to UTC keeps such input a valid filter instead of a database error. A
    moment that falls outside years 1–9999 once in UTC is rejected as a field error.
    """

    default_error_messages = {
        "out_of_range": "Enter a date and time between the years 1 and 9999 (UTC).",
    }

    def to_python(self, value: Any) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError) as exc:
            raise ValidationError(self.error_messages["out_of_range"], code="out_of_range") from exc


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """``django_filters.IsoDateTimeFilter`` that turns every offset into UTC first."""

    field_class = UtcIsoDateTimeField
