"""The owner reads what they sign in plain words first: the patch, the system, the local expiry
and the compensating controls, generated from the exception; duplicate requests merge."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from evidence.models import EvidenceEvent
from exceptions_register.choices import ControlKind, ExceptionKind, ExceptionState
from exceptions_register.models import RiskException
from exceptions_register.plain import plain_summary
from exceptions_register.services import ControlInput
from tests.exceptions_register.factories import make_exception
from tests.producers import Device, push, reported_finding

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")  # tenant-a's time zone
TODAY = datetime(2026, 12, 3, 15, 0, tzinfo=CHICAGO)
EXPIRY = datetime(2026, 12, 28, 18, 0, tzinfo=CHICAGO)
CONTROLS = [
    ControlInput(kind=ControlKind.NETWORK_SEGMENTATION, description="VLAN 40 only."),
    ControlInput(kind=ControlKind.EXTRA_MONITORING, description="EDR alerts reviewed daily."),
]


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(TODAY, tick=False):
        yield


def _ehr_server_missing(kb: str):
    device = Device("srv-ehr", os="windows_server", role="server", ephi=True)
    return reported_finding(device, kb=kb, severity="critical")


def test_one_patch_on_an_ephi_server_reads_as_one_sentence(in_tenant_a, personas):
    finding = _ehr_server_missing("KB5068791")
    exception = make_exception(
        client=in_tenant_a,
        approver=personas.owner_a,
        findings=[finding],
        assets=[],
        expires_at=EXPIRY,
        controls=CONTROLS,
    )
    assert plain_summary(exception, tz=in_tenant_a.tz) == (
        "The critical Windows update KB5068791 stays off your patient-records server srv-ehr "
        "until 28 December, 18:00 Chicago time; meanwhile: network segmentation, extra "
        "monitoring. The exception ends by itself then; nothing stays deferred past that time "
        "without a new signature."
    )


def test_several_patches_on_several_devices_are_counted_and_named(in_tenant_a, personas):
    pcs = [Device(f"pc-{n}", role="workstation", ephi=(n == 2)) for n in (1, 2, 3, 4)]
    for pc in pcs:
        pc.missing_kb("KB5000010", severity="high").missing_kb("KB5000011", severity="critical")
    push(pcs)
    findings = [f for pc in pcs for f in pc.asset.findings.all()]
    exception = make_exception(
        client=in_tenant_a,
        approver=personas.owner_a,
        findings=findings,
        assets=[],
        expires_at=EXPIRY,
        controls=CONTROLS[1:],
    )
    text = plain_summary(exception, tz=in_tenant_a.tz)
    assert text.startswith(
        "Two updates (KB5000010 and KB5000011), the most severe critical, stay off your four "
        "workstations (pc-1, pc-2, pc-3 and 1 more), one of which holds patient records until "
        "28 December, 18:00 Chicago time; meanwhile: extra monitoring."
    )


def test_an_isolated_lane_keeps_the_device_out_of_automatic_patching(in_tenant_a, personas):
    finding = _ehr_server_missing("KB5068792")
    exception = make_exception(
        client=in_tenant_a,
        approver=personas.owner_a,
        kind=ExceptionKind.ISOLATED_LANE,
        assets=[finding.asset],
        expires_at=datetime(2027, 1, 15, 9, 30, tzinfo=CHICAGO),
        controls=CONTROLS[:1],
    )
    assert plain_summary(exception, tz=in_tenant_a.tz).startswith(
        "Your patient-records server srv-ehr stays out of automatic patching (an isolated lane) "
        "until 15 January 2027, 09:30 Chicago time; meanwhile: network segmentation."
    )


def test_the_portal_leads_with_the_summary_then_the_signed_text_and_hash(
    in_tenant_a, personas, login
):
    finding = _ehr_server_missing("KB5068793")
    exception = make_exception(
        client=in_tenant_a,
        approver=personas.owner_a,
        findings=[finding],
        assets=[],
        expires_at=EXPIRY,
        controls=CONTROLS,
    )
    page = login(personas.owner_a).get(f"/clients/tenant-a/portal/exceptions/{exception.uuid}/")
    body = page.content.decode()
    summary = plain_summary(exception, tz=in_tenant_a.tz)
    assert page.status_code == 200
    assert body.index(summary) < body.index("The exact text you sign")
    assert body.index("The exact text you sign") < body.index(exception.canonical_sha256())
    listing = login(personas.owner_a).get("/clients/tenant-a/portal/exceptions/")
    assert summary in listing.content.decode()


def test_a_duplicate_request_merges_into_the_open_one(in_tenant_a, personas):
    finding = _ehr_server_missing("KB5068794")
    first = make_exception(
        client=in_tenant_a,
        approver=personas.owner_a,
        findings=[finding],
        assets=[],
        ticket_reference="PSA-7001",
        expires_at=EXPIRY,
    )
    again = make_exception(
        client=in_tenant_a,
        approver=personas.owner_a,
        findings=[finding],
        assets=[],
        ticket_reference=" psa-7001 ",
        expires_at=EXPIRY,
    )
    other_scope = make_exception(
        client=in_tenant_a,
        approver=personas.owner_a,
        findings=[],
        assets=[finding.asset],
        ticket_reference="PSA-7001",
        expires_at=EXPIRY,
    )
    assert again.pk == first.pk and getattr(again, "merged_duplicate", False)
    assert other_scope.pk != first.pk
    assert RiskException.objects.filter(state=ExceptionState.PENDING_SIGNOFF).count() == 2
    (merged,) = EvidenceEvent.objects.filter(kind="exception.duplicate_merged")
    assert merged.subject_id == str(first.uuid)
    assert merged.payload["requested_by"] == personas.owner_a.email


def test_the_api_answers_200_with_the_exception_a_duplicate_merged_into(tenant_a, make_token, api):
    from django_tenants.utils import tenant_context

    from tenants.choices import TokenScope

    with tenant_context(tenant_a):
        finding = _ehr_server_missing("KB5068795")
    _, plaintext = make_token(TokenScope.WRITE, tenant_a)
    client = api(plaintext)
    body = {
        "kind": "deferral",
        "findings": [str(finding.uuid)],
        "assets": [],
        "reason": "Vendor certification pending.",
        "ticket_reference": "PSA-API-9",
        "expires_at": EXPIRY.isoformat(),
        "approver": "owner@a.test",
        "compensating_controls": [{"kind": "extra_monitoring", "description": "EDR review."}],
    }
    url = "/clients/tenant-a/api/v1/exceptions/"
    first = client.post(url, body, content_type="application/json")
    second = client.post(url, body, content_type="application/json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
