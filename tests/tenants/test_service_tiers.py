"""Service tiers: a client's plan decides its report kinds and cadence, the HIPAA pack, QBRs and
exposure monitoring; pages, reports, tasks and the API respect it, and account managers see who
would gain from an upgrade."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from reports.delivery import recipient_kinds
from reports.models import ReportRequest, StoredReport
from reports.services import due_for_monthly, monthly_kinds
from reports.tasks import generate_report_task
from tenants.choices import TokenScope
from tenants.tiers import Plan, tier_of

pytestmark = pytest.mark.django_db
API = "/clients/tenant-a/api/v1/"
PAGE = "/clients/tenant-a/reports/"


@pytest.fixture
def queued(monkeypatch) -> list[dict]:
    """What the views queue (the broker is not under test here): the task's kwargs."""
    sent: list[dict] = []
    monkeypatch.setattr(
        generate_report_task, "apply_async", lambda kwargs=None, **_: sent.append(kwargs)
    )
    return sent


def _ask_hipaa(http):
    return http.post(
        API + "reports/", {"kind": "hipaa", "period": "2026-10"}, content_type="application/json"
    )


def _change_plan(http, plan: str):
    return http.post("/plans/", {"client": "tenant-a", "plan": plan})


def test_a_tier_that_turns_the_hipaa_pack_off_and_on(
    tenant_a, login, personas, api, make_token, queued
):
    admin = login(personas.msp_admin)
    _, token = make_token(TokenScope.WRITE, tenant_a)
    integration = api(token)
    assert tenant_a.is_hipaa and tier_of(tenant_a).hipaa_pack  # the Compliance plan
    assert "hipaa" in monthly_kinds(tenant_a)

    # Off: the Essentials plan has no HIPAA pack, no QBR, no evidence bundle.
    assert _change_plan(admin, Plan.ESSENTIALS).status_code == 302
    tenant_a.refresh_from_db()
    assert tenant_a.plan == Plan.ESSENTIALS
    assert monthly_kinds(tenant_a) == ["monthly", "inventory", "exceptions"]
    assert "hipaa" not in dict(recipient_kinds(tenant_a))
    refused = _ask_hipaa(integration)
    assert refused.status_code == 400
    assert "not part of Alpha Clinic's Essentials plan" in refused.json()["kind"][0]
    page = admin.post(PAGE, {"kind": "hipaa", "period": "2026-10"}, follow=True)
    assert page.status_code == 200 and "Essentials plan" in page.content.decode()
    assert "hipaa" not in dict(admin.get(PAGE).context["kinds"])
    with pytest.raises(CommandError, match="Essentials plan"):
        call_command("generate_report", "tenant-a", "--kind", "hipaa", "--period", "2026-10")
    with tenant_context(tenant_a):
        assert not ReportRequest.objects.exists()
        changed = EvidenceEvent.objects.get(kind="client.plan_changed")
        assert changed.payload == {"from": "compliance", "to": "essentials", "label": "Essentials"}
    # The account manager sees that this HIPAA client would gain from an upgrade.
    gains = login(personas.account_manager).get("/plans/?gains=1").content.decode()
    assert 'data-testid="plan-row-tenant-a"' in gains
    assert "without the HIPAA-aligned evidence pack" in gains
    listed = login(personas.engineer).get("/api/v1/clients/tenant-a/").json()
    assert listed["plan"] == "essentials" and listed["tier"]["hipaa_pack"] is False

    # On again: the pack is offered, requested and stored as a real PDF.
    admin = login(personas.msp_admin)
    assert _change_plan(admin, Plan.COMPLIANCE).status_code == 302
    tenant_a.refresh_from_db()
    assert "hipaa" in monthly_kinds(tenant_a) and "hipaa" in dict(recipient_kinds(tenant_a))
    assert "hipaa" in dict(admin.get(PAGE).context["kinds"])
    accepted = _ask_hipaa(integration)
    assert accepted.status_code == 202
    with tenant_context(tenant_a):
        generate_report_task.apply(kwargs=queued[-1])
        stored = StoredReport.objects.get(kind="hipaa")
        assert stored.file.open("rb").read(5) == b"%PDF-"
    assert login(personas.engineer).get("/api/v1/clients/tenant-a/").json()["tier"]["hipaa_pack"]


def test_the_cadence_of_a_plan_decides_which_months_the_schedule_reports(tenant_a, tenant_b):
    # 1 Nov 2026 06:00 UTC is the 1st in Chicago and Berlin: October is reported monthly only.
    moment = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    tenant_b.plan = Plan.ESSENTIALS
    assert [c.slug for c, _ in due_for_monthly(moment, [tenant_a, tenant_b])] == ["tenant-a"]
    # 1 Oct: September ends a quarter, so the quarterly plan reports it too.
    moment = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
    due = due_for_monthly(moment, [tenant_a, tenant_b])
    assert [(c.slug, p) for c, p in due] == [
        ("tenant-a", date(2026, 9, 1)),
        ("tenant-b", date(2026, 9, 1)),
    ]


def test_cross_client_page_and_api_show_each_tier(tenant_a, tenant_b, login, personas):
    http = login(personas.msp_admin)
    assert _change_plan(http, Plan.COMPLIANCE_EXPOSURE).status_code == 302
    home = http.get("/").content.decode()
    assert "Compliance + Exposure" in home and "Compliance</td>" in home
    body = http.get("/api/v1/clients/").json()
    tiers = {c["slug"]: (c["plan"], c["tier"]["exposure_response_hours"]) for c in body["results"]}
    assert tiers == {"tenant-a": ("compliance_exposure", 4), "tenant-b": ("compliance", None)}
    assert http.get("/api/v1/clients/?plan=compliance").json()["count"] == 1


def test_plan_changes_need_the_administer_capability_and_a_known_plan(tenant_a, login, personas):
    assert _change_plan(login(personas.engineer), Plan.ESSENTIALS).status_code == 403
    assert login(personas.owner_a).get("/plans/").status_code == 403
    assert _change_plan(login(personas.owner_b), Plan.ESSENTIALS).status_code == 403
    bad = _change_plan(login(personas.msp_admin), "platinum")
    assert bad.status_code == 400 and "Unknown plan" in bad.content.decode()
    missing = login(personas.msp_admin).post("/plans/", {"client": "nope", "plan": "essentials"})
    assert missing.status_code == 404
    tenant_a.refresh_from_db()
    assert tenant_a.plan == Plan.COMPLIANCE


def test_create_client_takes_a_plan_and_refuses_an_unknown_one(db):
    from tenants.models import Client

    with pytest.raises(CommandError, match="plan"):
        call_command("create_client", "gold-clinic", "--name", "Gold Clinic", "--plan", "gold")
    assert not Client.objects.filter(slug="gold-clinic").exists()
    call_command("create_client", "lean-clinic", "--name", "Lean Clinic", "--plan", Plan.ESSENTIALS)
    made = Client.objects.get(slug="lean-clinic")
    assert made.plan == Plan.ESSENTIALS and tier_of(made).report_months == {3, 6, 9, 12}
