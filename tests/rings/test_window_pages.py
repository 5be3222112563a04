"""The maintenance-window pages: the list names the days, the form keeps only the chosen
recurrence's fields, windows are edited with an event, and the calendar shows the next
openings in the client's time zone."""

from datetime import UTC, datetime

import pytest
import time_machine
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from rings.models import MaintenanceWindow

pytestmark = pytest.mark.django_db

PAGE = "/clients/tenant-a/maintenance-windows/"
SUNDAYS = {
    "name": "Sunday night",
    "scope": "client",
    "recurrence": "weekly",
    "weekdays": ["6"],
    "offset_days": "0",
    "start_time": "02:00",
    "duration_minutes": "180",
    "is_active": "on",
}


def _add(http, **fields):
    response = http.post(PAGE, {**SUNDAYS, **fields})
    assert response.status_code == 302, response.content.decode()[-2000:]
    return MaintenanceWindow.objects.order_by("-pk").first()


def test_list_names_the_days_in_the_clients_zone(login, personas, tenant_a):
    http = login(personas.engineer)
    with tenant_context(tenant_a):
        window = _add(http)
    page = http.get(PAGE).content.decode()
    assert "Sundays 02:00–05:00 Chicago time" in page
    assert f'href="{PAGE}{window.uuid}/"' in page


def test_fields_of_another_recurrence_are_ignored_whatever_was_posted(login, personas, tenant_a):
    http = login(personas.engineer)
    with tenant_context(tenant_a):
        window = _add(
            http,
            name="Last Friday",
            recurrence="monthly_nth_weekday",
            nth="-1",
            weekday="4",
            # Left over from the weekly and monthly fields the browser hid (or never hid):
            weekdays=["1", "9"],
            day_of_month="40",
            offset_days="99",
        )
        assert (window.recurrence, window.nth, window.weekday) == ("monthly_nth_weekday", -1, 4)
        assert (window.weekdays, window.day_of_month, window.offset_days) == ([], None, 0)
    assert "Last Friday of each month 02:00–05:00 Chicago time" in http.get(PAGE).content.decode()


def test_form_marks_each_recurrence_field_for_the_script(login, personas, tenant_a):
    page = login(personas.engineer).get(PAGE).content.decode()
    assert (
        'data-show-when="recurrence" data-show-values="weekly" data-testid="field-weekdays"' in page
    )
    assert 'data-show-values="monthly_nth_weekday" data-testid="field-nth"' in page
    assert 'data-show-values="patch_tuesday" data-testid="field-offset_days"' in page
    assert 'data-show-when="scope" data-show-values="site" data-testid="field-site"' in page
    assert "js/window_form.js" in page


def test_edit_a_window_records_before_and_after(login, personas, tenant_a):
    http = login(personas.engineer)
    with tenant_context(tenant_a):
        window = _add(http)
    url = f"{PAGE}{window.uuid}/"
    form = http.get(url).content.decode()
    assert 'value="Sunday night"' in form and "Sundays 02:00–05:00 Chicago time" in form
    response = http.post(
        url,
        {**SUNDAYS, "recurrence": "patch_tuesday", "offset_days": "4", "start_time": "22:00"},
        follow=True,
    )
    assert "4 days after Patch Tuesday 22:00–01:00 (next day) Chicago time" in (
        response.content.decode()
    )
    with tenant_context(tenant_a):
        window.refresh_from_db()
        assert (window.recurrence, window.offset_days, window.weekdays) == (
            "patch_tuesday",
            4,
            [],
        )
        event = EvidenceEvent.objects.filter(kind="window.updated").get()
    assert event.payload["before"] == "Sundays 02:00–05:00 Chicago time"
    assert (
        event.payload["after"] == "4 days after Patch Tuesday 22:00–01:00 (next day) Chicago time"
    )
    assert {"recurrence", "offset_days", "start_time"} <= set(event.payload["changed"])


def test_bad_edit_is_refused_with_the_fields_message_and_changes_nothing(login, personas, tenant_a):
    http = login(personas.engineer)
    with tenant_context(tenant_a):
        window = _add(http)
        events = EvidenceEvent.objects.count()
    url = f"{PAGE}{window.uuid}/"
    bad = http.post(url, {**SUNDAYS, "weekdays": [], "duration_minutes": "5"})
    assert bad.status_code == 400
    page = bad.content.decode()
    assert "A weekly window needs at least one weekday." in page
    assert 'data-testid="error-duration_minutes"' in page
    assert "Sundays 02:00–05:00 Chicago time" in page  # the stored window, unchanged
    with tenant_context(tenant_a):
        window.refresh_from_db()
        assert (window.weekdays, window.duration_minutes) == ([6], 180)
        assert EvidenceEvent.objects.count() == events


def test_viewers_read_a_window_but_cannot_change_it(login, personas, tenant_a):
    with tenant_context(tenant_a):
        window = _add(login(personas.engineer))
    url = f"{PAGE}{window.uuid}/"
    viewer = login(personas.viewer_a)
    page = viewer.get(url)
    assert page.status_code == 200 and 'data-testid="window-form"' not in page.content.decode()
    assert viewer.post(url, {**SUNDAYS, "name": "Mine"}).status_code == 403
    assert login(personas.owner_b).get(url).status_code in (403, 404)
    with tenant_context(tenant_a):
        window.refresh_from_db()
        assert window.name == "Sunday night"
    assert (
        login(personas.engineer).get(f"{PAGE}00000000-0000-0000-0000-000000000000/").status_code
        == 404
    )


def test_calendar_lists_next_openings_across_the_dst_change(login, personas, tenant_a):
    http = login(personas.engineer)
    with time_machine.travel(datetime(2026, 3, 1, 0, 0, tzinfo=UTC), tick=False):
        with tenant_context(tenant_a):
            _add(http, start_time="02:30")
            _add(http, name="Paused", is_active="", weekdays=["5"])
        page = http.get(PAGE).content.decode()
    calendar = page[page.index('data-testid="window-calendar"') :]
    # Saturday 28 Feb 18:00 CST now: Sunday 1 March 02:30 CST, then 8 March, when 02:30 does
    # not exist (clocks jump to 03:00) and the window opens 03:30 CDT, then 15 March.
    assert 'data-day="2026-03-01"' in calendar and "02:30 CST" in calendar
    assert 'data-day="2026-03-08"' in calendar and "03:30 CDT" in calendar
    assert 'data-day="2026-03-15"' in calendar and "02:30 CDT" in calendar
    assert calendar.count('data-testid="opening"') == 4  # 1, 8, 15 and 22 March
    assert "Paused" not in calendar  # inactive windows do not open
