"""The presentation helpers: sparklines, percentage bars and durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import dateformat, timezone

from tenants.templatetags.ui import duration, pct_bar, sparkline, when


def test_sparkline_draws_one_point_per_known_value_and_skips_gaps():
    svg = sparkline([Decimal("90"), None, Decimal("80"), Decimal("70")])
    assert svg.startswith("<svg") and 'class="sparkline"' in svg
    points = svg.split('points="')[1].split('"')[0].split()
    assert len(points) == 3
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[0] < ys[1] < ys[2]  # falling values run down the chart


def test_sparkline_without_data_says_so():
    assert "no data" in sparkline([]) and "no data" in sparkline([None, None])


def test_sparkline_reads_an_attribute_and_survives_a_flat_line():
    class Row:
        def __init__(self, pct):
            self.compliance_pct = pct

    svg = sparkline([Row(Decimal("50")), Row(Decimal("50"))], "compliance_pct")
    assert svg.count(",") >= 2 and "nan" not in svg.lower()


def test_pct_bar_fills_in_proportion_and_colours_by_threshold():
    full = pct_bar(Decimal("100"), 100)
    assert 'width="100.0"' in full and "#1b7f3b" in full
    half = pct_bar(Decimal("50"), 100)
    assert 'width="50.0"' in half and "#b3261e" in half
    assert 'width="0.0"' in pct_bar(None, 100)


def test_duration_reads_as_days_hours_minutes():
    assert duration(timedelta(days=14, hours=11, minutes=45, seconds=51)) == "14 d 11 h"
    assert duration(timedelta(hours=5, minutes=12)) == "5 h 12 min"
    assert duration(timedelta(minutes=40)) == "40 min"
    assert duration(None) == "—"


@pytest.mark.parametrize("zone", ["UTC", "America/Chicago", "Asia/Kolkata", "Pacific/Auckland"])
@pytest.mark.parametrize(
    "instant",
    [datetime(2026, 1, 5, 3, 7, tzinfo=UTC), datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)],
)
def test_when_writes_the_default_format_as_dateformat_does(zone, instant):
    with timezone.override(zone):
        local = timezone.localtime(instant)
        expected = f"{dateformat.format(local, 'Y-m-d H:i')} {local.tzname()}"
        assert when(instant) == expected
        assert when(instant, "Y-m-d") == f"{dateformat.format(local, 'Y-m-d')} {local.tzname()}"
    assert when(None) == "—"
