"""Catalogue freshness: as-of dates from the real files, on the page, in the API, in a report's
footnote, and a dashboard warning for an old KEV or MSRC catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from catalogue.freshness import catalogue_freshness, stale_catalogues
from tenants.choices import TokenScope

pytestmark = [pytest.mark.realdata, pytest.mark.django_db]


@pytest.fixture
def imported(realdata):
    call_command("import_kev", str(realdata / "cisa-kev/known_exploited_vulnerabilities.json"))
    call_command("import_msrc", str(realdata / "msrc-cvrf/cvrfDocument-2023-Nov.xml"))
    call_command("import_msrc", str(realdata / "msrc-cvrf/cvrfDocument-2023-Dec.xml"))
    call_command("import_epss", str(realdata / "epss/epss_scores-current.excerpt.csv"))


def test_as_of_dates_come_from_the_files(imported):
    now = datetime(2025, 8, 30, tzinfo=UTC)
    states = {s.kind: s for s in catalogue_freshness(now=now)}
    # KEV dateReleased 2025-08-25T17:04:19Z, catalogVersion 2025.08.25
    assert states["kev"].as_of.date().isoformat() == "2025-08-25"
    assert states["kev"].version == "2025.08.25" and states["kev"].age_days == 4
    # The newest MSRC document (2023-Dec, CurrentReleaseDate 2023-12-21), whatever the order.
    assert states["msrc"].as_of.date().isoformat() == "2023-12-21"
    assert states["epss"].as_of.date().isoformat() == "2026-09-29"
    assert states["nvd"].is_empty and states["nvd"].as_of is None
    assert [s.kind for s in stale_catalogues(now=now)] == ["msrc"]
    assert not states["kev"].is_stale
    later = now + timedelta(days=10)
    assert {s.kind for s in stale_catalogues(now=later)} == {"kev", "msrc"}


def test_freshness_api_and_page(imported, make_token, api, personas, login):
    _, plaintext = make_token(TokenScope.READ)
    response = api(plaintext).get("/api/v1/catalogue-freshness/")
    assert response.status_code == 200
    body = {row["kind"]: row for row in response.json()}
    assert body["kev"]["version"] == "2025.08.25" and body["kev"]["as_of"].startswith("2025-08-25")
    assert body["msrc"]["is_stale"] is True and body["msrc"]["max_age_days"] == 35
    page = login(personas.engineer).get("/catalogues/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-testid="catalogue-freshness"' in text and "2025.08.25" in text


def test_dashboard_warns_about_an_old_msrc_catalogue(imported, personas, login):
    body = login(personas.msp_admin).get("/").content.decode()
    assert 'data-testid="stale-catalogue"' in body and "MSRC CVRF catalogue is" in body


def test_report_footnote_states_each_catalogue(imported, tenant_a):
    from datetime import date

    from django.template.loader import render_to_string
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from evidence.reports import base_context

    # Reports render inside the client's schema and in its zone (Chicago); a catalogue's date
    # is the one it states: EPSS scored on 2026-09-29 (UTC midnight) is not the 28th there.
    with tenant_context(tenant_a), timezone.override(tenant_a.tz):
        context = base_context(tenant_a, date(2025, 8, 1), "Monthly compliance report")
        html = render_to_string("evidence/pdf/base.html", context)
    kinds = {s.kind for s in context["catalogues"]}
    assert kinds == {"kev", "msrc", "epss"}
    assert "Vulnerability data as of:" in html and "CISA KEV 2025-08-25" in html
    assert "FIRST EPSS 2026-09-29" in html


def test_the_warning_age_is_configurable(imported, personas, login, settings):
    """``CATALOGUE_MAX_AGE_DAYS`` moves the line: an age beyond the catalogue's silences its
    warning, an age of zero days raises one as soon as the snapshot is a day old."""
    from catalogue.freshness import catalogue_freshness

    states = {s.kind: s for s in catalogue_freshness()}
    settings.CATALOGUE_MAX_AGE_DAYS = {"msrc": states["msrc"].age_days + 1, "kev": 0}
    body = login(personas.msp_admin).get("/").content.decode()
    assert "MSRC CVRF catalogue is" not in body
    assert 'data-testid="stale-catalogue"' in body and "CISA KEV catalogue is" in body
    settings.CATALOGUE_MAX_AGE_DAYS = {
        "msrc": states["msrc"].age_days + 1,
        "kev": states["kev"].age_days + 1,
    }
    body = login(personas.msp_admin).get("/").content.decode()
    assert 'data-testid="stale-catalogue"' not in body
