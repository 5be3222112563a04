"""People edit an asset's business attributes (asset page and ``PATCH assets/<id>/``): each
change an ``asset.attributes_changed`` event shown in the asset's history, and a change of
ePHI, class or role re-scores the asset's outstanding findings in the same call."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from findings import risk
from findings.models import Finding, SlaRule
from inventory.models import Asset
from tenants.choices import TokenScope
from tests.producers import Device, push

pytestmark = pytest.mark.django_db
PAGE = "/clients/tenant-a/assets/"
API = "/clients/tenant-a/api/v1/assets/"


@pytest.fixture
def clinic(tenant_a):
    """Two sites come from an operator's import; the front-desk PC reports a pending high
    update (ingest opens its finding); the server reports nothing missing."""
    pc = Device("frontdesk-01", attributes={"site": "Main clinic", "owner": "Reception"})
    pc.missing_kb("KB5037771", cves=["CVE-2024-30051"], severity="high")
    server = Device("dc-01", os="windows_server", attributes={"site": "Annex"})
    with tenant_context(tenant_a):
        push([pc, server])
        asset = pc.asset
        finding = Finding.objects.get(asset=asset)
        return {"pc": asset, "server": server.asset, "finding": finding}


def changes_events(tenant):
    with tenant_context(tenant):
        return list(
            EvidenceEvent.objects.filter(
                kind="asset.attributes_changed", subject_id__in=["portal", "api"]
            ).order_by("sequence")
        )


def expected_score(finding: Finding, *, is_ephi: bool, class_key: str, role: str) -> Decimal:
    """The documented formula over the finding's stored CVEs, with the asset's new attributes."""
    scores = risk.cve_score_map(finding.cves)
    per = [scores[c] for c in finding.cves if c in scores]
    return risk.risk_score(
        risk.RiskInput(
            cvss=max((s.cvss for s in per if s.cvss is not None), default=None),
            epss=max((s.epss for s in per if s.epss is not None), default=None),
            is_kev=finding.is_kev,
            is_ephi=is_ephi,
            asset_class_key=class_key,
            role=role,
        )
    )


def test_engineer_edits_every_attribute_on_the_asset_page(login, personas, clinic, tenant_a):
    url = f"{PAGE}{clinic['pc'].uuid}/"
    http = login(personas.engineer)
    page = http.get(url).content.decode()
    assert 'data-testid="edit-form"' in page and "<select multiple" not in page
    response = http.post(
        url,
        {
            "asset_class": "do_not_disrupt",
            "role": "shared_kiosk",
            "owner": "Front office",
            "location": "Desk 2",
            "site": "Annex",
            "is_ephi": "yes",
            "data_flows": ["creates", "transmits"],
        },
        follow=True,
    )
    assert response.status_code == 200
    with tenant_context(tenant_a):
        asset = Asset.objects.select_related("asset_class", "site").get(pk=clinic["pc"].pk)
        assert (asset.asset_class.key, asset.role, asset.owner, asset.location) == (
            "do_not_disrupt",
            "shared_kiosk",
            "Front office",
            "Desk 2",
        )
        assert asset.site.name == "Annex" and asset.is_ephi
        assert asset.data_flows == ["creates", "transmits"]
    [event] = changes_events(tenant_a)
    assert event.subject_id == "portal" and event.actor == personas.engineer.email
    [entry] = event.payload["assets"]
    assert entry["changes"]["owner"] == {"before": "Reception", "after": "Front office"}
    assert entry["changes"]["site"] == {"before": "Main clinic", "after": "Annex"}
    assert entry["changes"]["asset_class"] == {"before": "workstation", "after": "do_not_disrupt"}
    # The history on the page shows who changed what, before → after.
    page = response.content.decode()
    assert 'data-testid="attribute-history"' in page
    assert "Owner: Reception → Front office" in page
    assert "Site: Main clinic → Annex" in page
    assert "ePHI system: no → yes" in page
    assert personas.engineer.email in page


def test_a_field_left_out_keeps_its_value(login, personas, clinic, tenant_a):
    url = f"{PAGE}{clinic['pc'].uuid}/"
    login(personas.engineer).post(url, {"is_ephi": "no", "location": "Desk 9"})
    with tenant_context(tenant_a):
        asset = Asset.objects.select_related("site").get(pk=clinic["pc"].pk)
        assert asset.location == "Desk 9"
        assert asset.owner == "Reception" and asset.site.name == "Main clinic"
    [event] = changes_events(tenant_a)
    assert set(event.payload["assets"][0]["changes"]) == {"location"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"asset_class": "spaceship"}, "Class"),
        ({"role": "overlord"}, "Role"),
        ({"site": "Nowhere"}, "Site"),
        ({"owner": "x" * 201}, "Owner"),
        ({"is_ephi": "maybe"}, "ePHI system"),
        ({"data_flows": ["teleports"]}, "Sensitive-data flow"),
    ],
)
def test_bad_input_on_the_page_is_a_clear_error_and_changes_nothing(
    login, personas, clinic, tenant_a, body, field
):
    url = f"{PAGE}{clinic['pc'].uuid}/"
    response = login(personas.engineer).post(url, body)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved" in page and f"{field}:" in page
    with tenant_context(tenant_a):
        asset = Asset.objects.select_related("asset_class").get(pk=clinic["pc"].pk)
        assert (asset.asset_class.key, asset.role, asset.owner) == (
            clinic["pc"].asset_class.key,
            clinic["pc"].role,
            clinic["pc"].owner,
        )
    assert not changes_events(tenant_a)


@pytest.mark.parametrize("who", ["owner_a", "viewer_a", "account_manager"])
def test_owners_and_viewers_read_only(login, personas, clinic, tenant_a, who):
    url = f"{PAGE}{clinic['pc'].uuid}/"
    http = login(getattr(personas, who))
    page = http.get(url)
    assert page.status_code == 200 and b'data-testid="edit-form"' not in page.content
    assert http.post(url, {"owner": "Me"}).status_code == 403
    with tenant_context(tenant_a):
        assert Asset.objects.get(pk=clinic["pc"].pk).owner == "Reception"
    assert not changes_events(tenant_a)


def test_api_patch_with_a_write_token(make_token, api, clinic, tenant_a):
    token, plaintext = make_token(TokenScope.WRITE, tenant_a, name="psa-sync")
    response = api(plaintext).patch(
        f"{API}{clinic['server'].uuid}/",
        {"owner": "IT", "site": "", "role": "server", "asset_class": "do_not_disrupt"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["owner"], body["site"], body["asset_class"]) == ("IT", None, "do_not_disrupt")
    [event] = changes_events(tenant_a)
    assert event.subject_id == "api" and token.name in event.actor
    changes = event.payload["assets"][0]["changes"]
    assert changes["site"] == {"before": "Annex", "after": ""}
    assert "role" not in changes  # it was a server already: no change, no claim of one


@pytest.mark.parametrize(
    "body, key",
    [
        ({"asset_class": "spaceship"}, "asset_class"),
        ({"role": "overlord"}, "role"),
        ({"site": "Nowhere"}, "site"),
        ({"hostname": "renamed"}, "hostname"),
        ({"is_ephi": "perhaps"}, "is_ephi"),
        ({}, "non_field_errors"),
    ],
)
def test_api_patch_bad_input_is_400_and_changes_nothing(
    login, personas, clinic, tenant_a, body, key
):
    response = login(personas.engineer).patch(
        f"{API}{clinic['pc'].uuid}/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400 and key in response.json(), response.content
    with tenant_context(tenant_a):
        asset = Asset.objects.get(pk=clinic["pc"].pk)
        assert asset.hostname == "frontdesk-01" and asset.owner == "Reception"
    assert not changes_events(tenant_a)


def test_an_agent_token_cannot_set_business_attributes(make_token, api, clinic, tenant_a):
    _, plaintext = make_token(TokenScope.AGENT, tenant_a, name="clinic-agent")
    for body in ({"is_ephi": True}, {"asset_class": "core_server"}, {"owner": "Agent"}):
        response = api(plaintext).patch(
            f"{API}{clinic['pc'].uuid}/", body, content_type="application/json"
        )
        assert response.status_code == 403
    with tenant_context(tenant_a):
        asset = Asset.objects.select_related("asset_class").get(pk=clinic["pc"].pk)
        assert not asset.is_ephi and asset.asset_class.key == "workstation"
    assert not changes_events(tenant_a)


def test_ephi_change_rescores_findings_in_the_same_call(login, personas, clinic, tenant_a):
    finding = clinic["finding"]
    pc = clinic["pc"]
    response = login(personas.engineer).patch(
        f"{API}{pc.uuid}/", {"is_ephi": True}, content_type="application/json"
    )
    assert response.status_code == 200
    with tenant_context(tenant_a):
        after = Finding.objects.get(pk=finding.pk)
        want = expected_score(after, is_ephi=True, class_key=pc.asset_class.key, role=pc.role)
        assert after.risk_score == want != finding.risk_score
        assert after.due_at == finding.due_at  # ePHI does not move the SLA clock
    [event] = changes_events(tenant_a)
    [rescored] = event.payload["assets"][0]["findings"]
    assert rescored["id"] == str(finding.uuid)
    assert rescored["risk_score"] == {"before": str(finding.risk_score), "after": str(want)}
    assert "due_at" not in rescored
    # The portal's history shows it.
    page = login(personas.engineer).get(f"{PAGE}{pc.uuid}/").content.decode()
    assert f"risk {finding.risk_score} → {want}" in page


def test_bulk_tag_rescores_findings_too(login, personas, clinic, tenant_a):
    finding = clinic["finding"]
    response = login(personas.engineer).post(
        API + "bulk-tag/",
        {"assets": [str(clinic["pc"].uuid)], "is_ephi": True},
        content_type="application/json",
    )
    assert response.status_code == 200
    with tenant_context(tenant_a):
        after = Finding.objects.get(pk=finding.pk)
        pc = clinic["pc"]
        assert after.risk_score == expected_score(
            after, is_ephi=True, class_key=pc.asset_class.key, role=pc.role
        )
        event = EvidenceEvent.objects.get(kind="asset.tagged")
        assert event.payload["findings"][0]["risk_score"]["after"] == str(after.risk_score)


def test_class_change_moves_due_dates_to_the_new_window(login, personas, clinic, tenant_a):
    finding = clinic["finding"]
    with tenant_context(tenant_a):
        hours = SlaRule.objects.get(asset_class__key="core_server", tier=finding.tier).window_hours
        old_hours = SlaRule.objects.get(
            asset_class__key="workstation", tier=finding.tier
        ).window_hours
    assert hours != old_hours
    response = login(personas.engineer).patch(
        f"{API}{clinic['pc'].uuid}/",
        {"asset_class": "core_server"},
        content_type="application/json",
    )
    assert response.status_code == 200
    with tenant_context(tenant_a):
        after = Finding.objects.get(pk=finding.pk)
        assert after.due_at == finding.detected_at + timedelta(hours=hours)
        assert after.tier == finding.tier
        assert after.risk_score == expected_score(
            after, is_ephi=False, class_key="core_server", role=clinic["pc"].role
        )
    [event] = changes_events(tenant_a)
    [rescored] = event.payload["assets"][0]["findings"]
    assert rescored["due_at"]["before"] == finding.due_at.isoformat()
    assert rescored["due_at"]["after"] == after.due_at.isoformat()
    assert f"{old_hours} h → {hours} h" in rescored["due_at"]["why"]


def test_class_change_keeps_the_due_date_of_an_overdue_finding(login, personas, clinic, tenant_a):
    finding = clinic["finding"]
    with time_machine.travel(finding.due_at + timedelta(hours=1), tick=False):
        response = login(personas.engineer).patch(
            f"{API}{clinic['pc'].uuid}/",
            {"asset_class": "do_not_disrupt"},
            content_type="application/json",
        )
        assert response.status_code == 200
    with tenant_context(tenant_a):
        assert Finding.objects.get(pk=finding.pk).due_at == finding.due_at
    [event] = changes_events(tenant_a)
    [rescored] = event.payload["assets"][0]["findings"]
    assert "due_at" not in rescored and "breach is kept" in rescored["due_at_kept"]


def test_nothing_changed_records_nothing(login, personas, clinic, tenant_a):
    response = login(personas.engineer).patch(
        f"{API}{clinic['pc'].uuid}/", {"owner": "Reception"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert not changes_events(tenant_a)
    with tenant_context(tenant_a):
        assert Finding.objects.get(pk=clinic["finding"].pk).risk_score == (
            clinic["finding"].risk_score
        )


def test_history_lists_import_changes_too(login, personas, clinic, tenant_a):
    """An operator's import re-attributing the asset shows in the same history."""
    device = Device("frontdesk-01", attributes={"owner": "Billing"})
    with tenant_context(tenant_a), time_machine.travel(timezone.now() + timedelta(minutes=5)):
        push(device)
    page = login(personas.viewer_a).get(f"{PAGE}{clinic['pc'].uuid}/").content.decode()
    assert "Owner: Reception → Billing" in page
