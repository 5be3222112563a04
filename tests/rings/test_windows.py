"""Maintenance-window arithmetic: recurrences, short months, Patch Tuesday and DST edges."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rings import windows as w
from rings.choices import WindowRecurrence as R

CHICAGO = ZoneInfo("America/Chicago")
BERLIN = ZoneInfo("Europe/Berlin")


def spec(**kwargs) -> w.WindowSpec:
    kwargs.setdefault("start_time", time(22, 0))
    kwargs.setdefault("duration", timedelta(hours=4))
    return w.WindowSpec(**kwargs)


def _days(s: w.WindowSpec, start: date, n: int) -> list[date]:
    found = []
    for opening, _ in w.occurrences(s, CHICAGO, start):
        found.append(opening.astimezone(CHICAGO).date())
        if len(found) == n:
            return found
    return found


def test_patch_tuesday_is_the_second_tuesday():
    assert w.patch_tuesday(2026, 3) == date(2026, 3, 10)
    assert w.patch_tuesday(2026, 9) == date(2026, 9, 8)  # the 1st is a Tuesday
    assert w.patch_tuesday(2026, 11) == date(2026, 11, 10)


def test_patch_tuesday_plus_four_days_opens_on_the_saturday_after():
    s = spec(recurrence=R.PATCH_TUESDAY, offset_days=4)
    start, end = w.next_occurrence(s, CHICAGO, datetime(2026, 3, 1, tzinfo=UTC))
    assert start.astimezone(CHICAGO) == datetime(2026, 3, 14, 22, 0, tzinfo=CHICAGO)
    assert end - start == timedelta(hours=4)


def test_patch_tuesday_offset_may_cross_into_the_next_month():
    s = spec(recurrence=R.PATCH_TUESDAY, offset_days=20)
    # 07-14 + 20, 08-11 + 20, 09-08 + 20, 10-13 + 20 (lands in November), then 11-10 + 20
    assert _days(s, date(2026, 8, 1), 5) == [
        date(2026, 8, 3),
        date(2026, 8, 31),
        date(2026, 9, 28),
        date(2026, 11, 2),
        date(2026, 11, 30),
    ]


def test_monthly_day_31_clamps_to_the_last_day_of_short_months():
    s = spec(recurrence=R.MONTHLY_DAY, day_of_month=31)
    assert _days(s, date(2027, 1, 1), 4) == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
    ]


def test_monthly_day_29_in_a_leap_february():
    s = spec(recurrence=R.MONTHLY_DAY, day_of_month=30)
    start, _ = w.next_occurrence(s, CHICAGO, datetime(2028, 2, 1, tzinfo=UTC))
    assert start.astimezone(CHICAGO).date() == date(2028, 2, 29)


def test_nth_weekday_second_tuesday_and_last_friday():
    second_tuesday = spec(recurrence=R.MONTHLY_NTH_WEEKDAY, nth=2, weekday=1)
    last_friday = spec(recurrence=R.MONTHLY_NTH_WEEKDAY, nth=-1, weekday=4)
    after = datetime(2026, 7, 1, tzinfo=UTC)
    assert w.next_occurrence(second_tuesday, CHICAGO, after)[0].astimezone(CHICAGO).date() == (
        date(2026, 7, 14)
    )
    assert w.next_occurrence(last_friday, CHICAGO, after)[0].astimezone(CHICAGO).date() == (
        date(2026, 7, 31)
    )


def test_weekly_window_open_and_closed():
    s = spec(recurrence=R.WEEKLY, weekdays=(6,), start_time=time(2, 0))  # Sunday 02:00
    sunday = datetime(2026, 7, 5, 3, 0, tzinfo=CHICAGO)
    assert w.is_open(s, CHICAGO, sunday)
    assert not w.is_open(s, CHICAGO, sunday + timedelta(hours=4))
    assert not w.is_open(s, CHICAGO, sunday - timedelta(hours=2))


def test_window_at_0230_on_spring_forward_day_opens_at_0330_wall_time():
    # America/Chicago springs forward on 2026-03-08: 02:00 CST → 03:00 CDT; 02:30 never happens.
    s = spec(
        recurrence=R.WEEKLY, weekdays=(6,), start_time=time(2, 30), duration=timedelta(hours=2)
    )
    start, end = w.next_occurrence(s, CHICAGO, datetime(2026, 3, 7, tzinfo=UTC))
    local = start.astimezone(CHICAGO)
    assert (local.date(), local.hour, local.minute) == (date(2026, 3, 8), 3, 30)
    assert start == datetime(2026, 3, 8, 8, 30, tzinfo=UTC)
    assert end - start == timedelta(hours=2)  # elapsed duration kept
    assert w.is_open(s, CHICAGO, datetime(2026, 3, 8, 9, 0, tzinfo=UTC))
    # The Sunday after, 02:30 exists again and the window opens at 02:30 CDT.
    nxt, _ = w.next_occurrence(s, CHICAGO, end)
    assert nxt.astimezone(CHICAGO).time() == time(2, 30)
    assert nxt == datetime(2026, 3, 15, 7, 30, tzinfo=UTC)


def test_window_at_0130_on_fall_back_day_opens_once_at_first_occurrence():
    # 2026-11-01 Chicago: 02:00 CDT → 01:00 CST; 01:30 happens twice.
    s = spec(
        recurrence=R.WEEKLY, weekdays=(6,), start_time=time(1, 30), duration=timedelta(hours=1)
    )
    found = [
        start
        for start, _ in w.occurrences(s, CHICAGO, date(2026, 11, 1))
        if start < datetime(2026, 11, 2, tzinfo=UTC)
    ]
    assert found == [datetime(2026, 11, 1, 6, 30, tzinfo=UTC)]  # 01:30 CDT, the first one
    # One elapsed hour: closes at 01:30 CST wall time (the second 01:30).
    assert not w.is_open(s, CHICAGO, datetime(2026, 11, 1, 7, 30, tzinfo=UTC))


def test_window_across_the_berlin_dst_change_keeps_its_duration():
    # Europe/Berlin springs forward 2026-03-29 02:00 → 03:00; a 22:00 window of 6 h spans it.
    s = spec(recurrence=R.WEEKLY, weekdays=(5,), duration=timedelta(hours=6))
    start, end = w.next_occurrence(s, BERLIN, datetime(2026, 3, 27, tzinfo=UTC))
    assert start.astimezone(BERLIN) == datetime(2026, 3, 28, 22, 0, tzinfo=BERLIN)
    assert end.astimezone(BERLIN) == datetime(2026, 3, 29, 5, 0, tzinfo=BERLIN)  # wall +7 h


def test_window_open_before_midnight_is_still_found_after_midnight():
    s = spec(recurrence=R.WEEKLY, weekdays=(0,))  # Monday 22:00 for 4 h
    tuesday_0100 = datetime(2026, 7, 7, 1, 0, tzinfo=CHICAGO)
    assert w.is_open(s, CHICAGO, tuesday_0100)
    start, _ = w.current_or_next(s, CHICAGO, tuesday_0100)
    assert start.astimezone(CHICAGO).date() == date(2026, 7, 6)


@settings(max_examples=60, deadline=None)
@given(
    at=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31)),
    recurrence=st.sampled_from(list(R)),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
    day=st.integers(1, 31),
    nth=st.sampled_from([1, 2, 3, 4, -1]),
    weekday=st.integers(0, 6),
    offset=st.integers(-7, 20),
)
def test_next_occurrence_is_open_and_not_before_after(
    at, recurrence, hour, minute, day, nth, weekday, offset
):
    s = w.WindowSpec(
        recurrence=recurrence,
        start_time=time(hour, minute),
        duration=timedelta(hours=3),
        weekdays=(weekday,),
        day_of_month=day,
        nth=nth,
        weekday=weekday,
        offset_days=offset,
    )
    after = at.replace(tzinfo=UTC)
    start, end = w.next_occurrence(s, CHICAGO, after)
    assert start >= after
    assert start - after < timedelta(days=40)
    assert w.is_open(s, CHICAGO, start) and not w.is_open(s, CHICAGO, end)


@pytest.mark.django_db
def test_model_methods_use_the_client_time_zone(in_tenant_a):
    from tests.producers import maintenance_window

    window = maintenance_window(weekdays=[6], start_time="02:00")
    start, end = window.next_occurrence(datetime(2026, 7, 1, tzinfo=UTC))
    assert start == datetime(2026, 7, 5, 7, 0, tzinfo=UTC)  # 02:00 CDT
    assert window.is_open(start) and not window.is_open(end)


@pytest.mark.django_db
def test_window_without_weekdays_is_invalid(in_tenant_a):
    from django.core.exceptions import ValidationError

    from rings.models import MaintenanceWindow

    window = MaintenanceWindow(
        name="Never",
        scope="client",
        recurrence="weekly",
        weekdays=[],
        start_time=time(22, 0),
        duration_minutes=240,
    )
    with pytest.raises(ValidationError) as exc:
        window.full_clean()
    assert "weekdays" in exc.value.message_dict
