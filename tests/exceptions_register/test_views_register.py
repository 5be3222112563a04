"""Engineer pages: register, create form errors, detail, edit of a signed exception, CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from exceptions_register.choices import ExceptionState
from exceptions_register.models import RiskException
from tests.exceptions_register.factories import make_active, make_exception
from tests.producers import reported_asset

pytestmark = pytest.mark.django_db
BASE = "/clients/tenant-a/exceptions/"


def _form(personas, asset, **overrides):
    expiry = (timezone.now() + timedelta(days=20)).astimezone(timezone.get_current_timezone())
    data = {
        "kind": "deferral",
        "ticket_reference": "PSA-77",
        "reason": "Vendor certification pending.",
        "expires_at": expiry.strftime("%Y-%m-%dT%H:%M"),
        "approver": personas.owner_a.pk,
        "assets": [asset.pk],
        "control_kind_0": "extra_monitoring",
        "control_description_0": "EDR review.",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("who", ["engineer", "msp_admin", "account_manager", "owner_a", "viewer_a"])
def test_register_lists_exceptions_for_everyone_who_may_view(in_tenant_a, personas, login, who):
    make_active(client=in_tenant_a, approver=personas.owner_a, ticket_reference="PSA-LIST")
    response = login(getattr(personas, who)).get(BASE)
    assert response.status_code == 200
    assert "PSA-LIST" in response.content.decode()


def test_register_shows_counts_aging_and_days_left(in_tenant_a, personas, login):
    make_active(
        client=in_tenant_a,
        approver=personas.owner_a,
        expires_at=timezone.now() + timedelta(days=10, hours=1),
    )
    body = login(personas.engineer).get(BASE).content.decode()
    assert 'data-testid="active-count">1<' in body
    assert "<td>10</td>" in body  # days left
    assert "expiring-soon" in body


def test_register_filters_by_state(in_tenant_a, personas, login):
    make_active(client=in_tenant_a, approver=personas.owner_a, ticket_reference="PSA-ACT")
    make_exception(client=in_tenant_a, approver=personas.owner_a, ticket_reference="PSA-PEND")
    body = login(personas.engineer).get(BASE, {"state": "active"}).content.decode()
    assert "PSA-ACT" in body and "PSA-PEND" not in body


def test_engineer_creates_an_exception_pending_signoff(in_tenant_a, personas, login):
    asset = reported_asset()
    response = login(personas.engineer).post(BASE + "new/", _form(personas, asset))
    assert response.status_code == 302
    exception = RiskException.objects.get(ticket_reference="PSA-77")
    assert exception.state == ExceptionState.PENDING_SIGNOFF
    assert exception.requested_by == personas.engineer
    assert response.url.endswith(f"/exceptions/{exception.uuid}/")


@pytest.mark.parametrize(
    ("override", "field", "message"),
    [
        ({"ticket_reference": ""}, "ticket_reference", "PSA ticket reference is required"),
        ({"expires_at": ""}, "expires_at", "needs a hard expiry"),
        ({"approver": ""}, "approver", "Name the client owner"),
        (
            {"kind": "isolated_lane", "control_kind_0": "", "control_description_0": ""},
            "control_description_0",
            "at least one compensating control",
        ),
    ],
)
def test_create_form_shows_clear_errors(in_tenant_a, personas, login, override, field, message):
    asset = reported_asset()
    response = login(personas.engineer).post(BASE + "new/", _form(personas, asset, **override))
    assert response.status_code == 400
    assert message in response.context["form"].errors[field][0]
    assert RiskException.objects.count() == 0


def test_create_form_refuses_expiry_beyond_maximum_and_non_owner(in_tenant_a, personas, login):
    asset = reported_asset()
    far = (timezone.now() + timedelta(days=120)).strftime("%Y-%m-%dT%H:%M")
    http = login(personas.engineer)
    response = http.post(BASE + "new/", _form(personas, asset, expires_at=far))
    assert "at most 90 days" in response.context["form"].errors["expires_at"][0]
    # The field offers this client's owners only; a viewer is refused like anyone else.
    response = http.post(BASE + "new/", _form(personas, asset, approver=personas.viewer_a.pk))
    assert "owner of this client" in response.context["form"].errors["approver"][0]
    assert RiskException.objects.count() == 0


@pytest.mark.parametrize("who", ["account_manager", "owner_a", "viewer_a"])
def test_only_operators_may_create(in_tenant_a, personas, login, who):
    asset = reported_asset()
    response = login(getattr(personas, who)).post(BASE + "new/", _form(personas, asset))
    assert response.status_code == 403
    assert RiskException.objects.count() == 0


def test_editing_a_signed_exception_on_the_page_leaves_it_unchanged(in_tenant_a, personas, login):
    exception = make_active(client=in_tenant_a, approver=personas.owner_a)
    signed_text = exception.signature.signed_text
    asset = exception.assets.get()
    response = login(personas.engineer).post(
        f"{BASE}{exception.uuid}/edit/",
        _form(personas, asset, reason="Rewritten after signature.", ticket_reference="PSA-1001"),
    )
    assert response.status_code == 302
    exception.refresh_from_db()
    assert exception.state == ExceptionState.ACTIVE
    assert exception.canonical_text() == signed_text
    new = RiskException.objects.get(supersedes=exception)
    assert new.reason == "Rewritten after signature."
    assert new.state == ExceptionState.PENDING_SIGNOFF


def test_revoke_from_the_detail_page(in_tenant_a, personas, login):
    exception = make_active(client=in_tenant_a, approver=personas.owner_a)
    http = login(personas.engineer)
    http.post(f"{BASE}{exception.uuid}/revoke/", {"reason": "Patched early."})
    exception.refresh_from_db()
    assert exception.state == ExceptionState.REVOKED
    assert "Patched early." in http.get(f"{BASE}{exception.uuid}/").content.decode()


def test_detail_of_another_clients_exception_is_404(tenant_b, personas, login):
    with tenant_context(tenant_b):
        other = make_exception(client=tenant_b, approver=personas.owner_b)
    assert login(personas.engineer).get(f"{BASE}{other.uuid}/").status_code == 404


def test_csv_export_has_aging_days_left_and_duration(in_tenant_a, personas, login):
    exception = make_active(client=in_tenant_a, approver=personas.owner_a)
    response = login(personas.account_manager).get(BASE + "export.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == str(exception.uuid)
    assert row["state"] == "active"
    assert row["aging_days"] == "0"
    assert row["days_left"] == "29"
    assert row["duration_days"] == "29"
    assert row["approver"] == "owner@a.test"


def test_client_home_shows_expiring_soon_to_engineers_and_portal_link_to_owners(
    in_tenant_a, personas, login, http
):
    make_active(
        client=in_tenant_a,
        approver=personas.owner_a,
        ticket_reference="PSA-SOON",
        expires_at=timezone.now() + timedelta(days=3),
    )
    make_exception(client=in_tenant_a, approver=personas.owner_a)
    body = login(personas.engineer).get("/clients/tenant-a/").content.decode()
    assert "PSA-SOON" in body and 'data-testid="portal-link"' not in body
    http.logout()
    body = login(personas.owner_a).get("/clients/tenant-a/").content.decode()
    assert 'data-testid="portal-link"' in body and "1 awaiting your signature" in body


def test_renew_page_creates_a_successor_with_the_new_expiry(in_tenant_a, personas, login):
    exception = make_active(client=in_tenant_a, approver=personas.owner_a)
    http = login(personas.engineer)
    page = http.get(f"{BASE}{exception.uuid}/renew/")
    assert page.status_code == 200 and "creates version 2" in page.content.decode()
    later = (timezone.now() + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M")
    response = http.post(
        f"{BASE}{exception.uuid}/renew/",
        _form(personas, exception.assets.get(), expires_at=later, ticket_reference="PSA-1001"),
    )
    assert response.status_code == 302
    renewal = RiskException.objects.get(supersedes=exception)
    assert renewal.version == 2
    assert renewal.expires_at > exception.expires_at


def test_draft_is_sent_for_signoff_from_its_page(in_tenant_a, personas, login):
    draft = make_exception(client=in_tenant_a, approver=personas.owner_a, submit=False)
    login(personas.engineer).post(f"{BASE}{draft.uuid}/submit/")
    draft.refresh_from_db()
    assert draft.state == ExceptionState.PENDING_SIGNOFF


def test_register_query_count_does_not_grow_with_rows(in_tenant_a, personas, login):
    http = login(personas.engineer)

    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert http.get(BASE).status_code == 200
        return len(captured)

    make_active(client=in_tenant_a, approver=personas.owner_a, ticket_reference="PSA-0")
    one = queries_for_page()
    for n in range(1, 6):
        make_active(client=in_tenant_a, approver=personas.owner_a, ticket_reference=f"PSA-{n}")
    assert queries_for_page() == one


def test_csv_export_neutralises_formulas(in_tenant_a, personas, login):
    make_active(client=in_tenant_a, approver=personas.owner_a, reason='=HYPERLINK("x")')
    response = login(personas.engineer).get(BASE + "export.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]["reason"].startswith("'=")


def test_editing_a_pending_exception_changes_it_in_place(in_tenant_a, personas, login):
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a)
    response = login(personas.engineer).post(
        f"{BASE}{exception.uuid}/edit/",
        _form(personas, exception.assets.get(), reason="Clarified.", ticket_reference="PSA-2"),
    )
    assert response.status_code == 302
    exception.refresh_from_db()
    assert (exception.reason, exception.ticket_reference) == ("Clarified.", "PSA-2")
    assert exception.state == ExceptionState.PENDING_SIGNOFF
    assert RiskException.objects.count() == 1
