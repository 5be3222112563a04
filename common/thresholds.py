"""Reference thresholds defined once: every page, PDF and chart colours a percentage the same."""

from __future__ import annotations

from decimal import Decimal

# Compliance (and any "share done") percentage: green from 95 %, orange from 80 %, red below.
GREEN_FROM_PCT = Decimal(95)
ORANGE_FROM_PCT = Decimal(80)


def pct_colour(value: float | Decimal | None) -> str:
    """green / orange / red for a percentage; gray when there is nothing to measure."""
    if value is None:
        return "gray"
    number = Decimal(str(value))
    if number >= GREEN_FROM_PCT:
        return "green"
    return "orange" if number >= ORANGE_FROM_PCT else "red"
