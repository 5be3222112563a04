"""The report recipients of a client: managed by MSP admins and the client's account managers on
/clients/<slug>/reports/recipients/ and in the API; bad input is refused clearly, nothing saved."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from reports.models import ReportRecipient
from tenants.choices import TokenScope
from tests.mfa import sign_in

pytestmark = pytest.mark.django_db
PAGE = "/clients/tenant-a/reports/recipients/"
API = "/clients/tenant-a/api/v1/report-recipients/"


def _person(user) -> HttpClient:
    return sign_in(HttpClient(), user)


def _recipients(tenant) -> list[tuple[str, str, list[str]]]:
    with tenant_context(tenant):
        return [(r.name, r.email, r.kinds) for r in ReportRecipient.objects.all()]


def test_msp_admins_and_account_managers_manage_recipients_others_may_not(tenant_a, personas):
    for user in (personas.msp_admin, personas.account_manager):
        assert _person(user).get(PAGE).status_code == 200
    for user in (personas.engineer, personas.owner_a, personas.viewer_a):
        assert _person(user).get(PAGE).status_code == 403
        refused = _person(user).post(PAGE, {"name": "X", "email": "x@a.test", "kinds": "qbr"})
        assert refused.status_code == 403
    assert _person(personas.owner_b).get(PAGE).status_code == 404
    assert _recipients(tenant_a) == []


def test_the_page_adds_changes_and_removes_a_recipient_with_events(tenant_a, personas):
    http = _person(personas.account_manager)
    added = http.post(
        PAGE, {"name": " Dana Reyes ", "email": "dana@a.test", "kinds": ["qbr", "monthly"]}
    )
    assert added.status_code == 302
    assert _recipients(tenant_a) == [("Dana Reyes", "dana@a.test", ["monthly", "qbr"])]
    page = http.get(PAGE).content.decode()
    assert "dana@a.test" in page and "QBR executive summary" in page
    with tenant_context(tenant_a):
        uuid = str(ReportRecipient.objects.get().uuid)
    http.post(
        PAGE,
        {"action": "change", "recipient": uuid, "name": "Dana", "email": "dana@a.test",
         "kinds": ["qbr"]},
    )  # fmt: skip
    assert _recipients(tenant_a) == [("Dana", "dana@a.test", ["qbr"])]
    http.post(PAGE, {"action": "remove", "recipient": uuid})
    assert _recipients(tenant_a) == []
    with tenant_context(tenant_a):
        kinds = list(
            EvidenceEvent.objects.filter(subject_id=uuid)
            .order_by("sequence")
            .values_list("kind", "actor")
        )
    assert kinds == [
        ("report_recipient.added", personas.account_manager.email),
        ("report_recipient.changed", personas.account_manager.email),
        ("report_recipient.removed", personas.account_manager.email),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "Dana", "email": "not-an-address", "kinds": "qbr"}, "is not a valid e-mail"),
        ({"name": "Dana", "email": "", "kinds": "qbr"}, "Give the recipient&#x27;s e-mail"),
        ({"name": "", "email": "dana@a.test", "kinds": "qbr"}, "Give the recipient&#x27;s name"),
        ({"name": "Dana", "email": "dana@a.test"}, "Choose at least one report kind"),
        ({"name": "Dana", "email": "dana@a.test", "kinds": "weekly"}, "Not a report kind"),
        ({"name": "Dupe", "email": "OWNER@A.test", "kinds": "qbr"}, "already a report recipient"),
        ({"action": "drop", "name": "Dana"}, "Unknown action"),
        ({"action": "remove", "recipient": "nope"}, "No such recipient"),
    ],
)
def test_the_page_refuses_bad_input_clearly_and_saves_nothing(tenant_a, personas, body, message):
    http = _person(personas.msp_admin)
    http.post(PAGE, {"name": "Olivia", "email": "owner@a.test", "kinds": "monthly"})
    before = _recipients(tenant_a)
    answer = http.post(PAGE, body, follow=True)
    assert answer.status_code in (200, 400)
    assert message in answer.content.decode()
    assert _recipients(tenant_a) == before


def test_the_api_manages_recipients_and_refuses_bad_input(tenant_a, personas, make_token, api):
    http = _person(personas.msp_admin)
    made = http.post(
        API,
        {"name": "Dana", "email": "dana@a.test", "kinds": ["monthly", "qbr"]},
        content_type="application/json",
    )
    assert made.status_code == 201
    body = made.json()
    assert (body["email"], body["kinds"]) == ("dana@a.test", ["monthly", "qbr"])
    for bad, field, text in (
        ({"name": "D", "email": "DANA@a.test", "kinds": ["qbr"]}, "email", "already"),
        ({"name": "D", "email": "d@@a", "kinds": ["qbr"]}, "email", "not a valid"),
        ({"name": "D", "email": "e@a.test", "kinds": "qbr, monthly"}, "kinds", "Not a report"),
        ({"name": "D", "email": "e@a.test", "kinds": [1]}, "kinds", "as a list"),
        ({"name": "D", "email": "e@a.test", "kinds": []}, "kinds", "at least one"),
        ({"email": "e@a.test", "kinds": ["qbr"]}, "name", "name"),
    ):
        refused = http.post(API, bad, content_type="application/json")
        assert refused.status_code == 400, bad
        assert text in " ".join(refused.json()[field]), refused.json()
    assert [r["email"] for r in http.get(API).json()["results"]] == ["dana@a.test"]

    url = f"{API}{body['id']}/"
    patched = http.patch(url, {"kinds": ["qbr"]}, content_type="application/json")
    assert (patched.status_code, patched.json()["kinds"], patched.json()["name"]) == (
        200,
        ["qbr"],
        "Dana",
    )
    assert http.patch(url, {"email": "x"}, content_type="application/json").status_code == 400
    assert http.delete(url).status_code == 204
    assert _recipients(tenant_a) == []

    # Tokens, engineers and client people do not choose who receives the client's reports.
    _, token = make_token(TokenScope.WRITE, tenant_a)
    assert api(token).get(API).status_code == 403
    assert _person(personas.engineer).get(API).status_code == 403
    assert (
        _person(personas.owner_a)
        .post(
            API,
            {"name": "D", "email": "d@a.test", "kinds": ["qbr"]},
            content_type="application/json",
        )
        .status_code
        == 403
    )
    assert _recipients(tenant_a) == []


def test_the_hipaa_pack_is_offered_to_hipaa_clients_only(tenant_b, personas):
    http = _person(personas.msp_admin)
    refused = http.post(
        "/clients/tenant-b/api/v1/report-recipients/",
        {"name": "B", "email": "b@b.test", "kinds": ["hipaa"]},
        content_type="application/json",
    )
    assert refused.status_code == 400 and "hipaa" in refused.json()["kinds"][0]
    assert _recipients(tenant_b) == []
