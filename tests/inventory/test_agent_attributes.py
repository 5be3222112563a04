"""Agents report, they don't decide: a device's own push creates its asset and updates what the
device knows (OS, software, addresses), never its business attributes (ePHI, data flows, class,
role, owner, site, location). People set those on the asset pages and API, operators in the
files they import, and each change is an evidence event."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from inventory.models import Asset
from tenants.choices import TokenScope
from tests.producers import Device

pytestmark = pytest.mark.django_db

DISCOVERY = "/clients/tenant-a/api/v1/discovery/"
BUSINESS = ("is_ephi", "data_flows", "role", "owner", "location")


def agent_push(plaintext: str, device: Device, **extra) -> dict:
    body = device.payload() | extra
    response = HttpClient().post(
        DISCOVERY,
        json.dumps([body]),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {plaintext}",
    )
    assert response.status_code == 201, response.content
    return response.json()


def business_of(asset: Asset) -> dict:
    return {name: getattr(asset, name) for name in BUSINESS} | {
        "asset_class": asset.asset_class.key,
        "site": asset.site.name if asset.site else "",
    }


def events(kinds: tuple[str, ...]) -> list[EvidenceEvent]:
    return list(EvidenceEvent.objects.filter(kind__in=kinds).order_by("sequence"))


CLAIMS = {
    "ephi": True,
    "data_flows": ["transmits"],
    "asset_class": "do_not_disrupt",
    "role": "server",
    "owner": "Someone else",
    "site": "Elsewhere",
    "location": "Nowhere",
}


@pytest.fixture
def agent(make_token, tenant_a) -> str:
    return make_token(TokenScope.AGENT, tenant_a, name="clinic-agent")[1]


def test_an_agent_creates_its_asset_without_deciding_its_business_attributes(agent, tenant_a):
    device = Device("frontdesk-07", os="windows", attributes=CLAIMS)
    assert agent_push(agent, device)["attributes_ignored"] == 1
    with tenant_context(tenant_a):
        asset = Asset.objects.select_related("asset_class", "site").get(hostname="frontdesk-07")
        assert asset.os_name.startswith("Microsoft Windows")  # what the device knows: kept
        assert business_of(asset) == {
            "is_ephi": False,
            "data_flows": [],
            "role": "workstation",
            "owner": "",
            "location": "",
            "asset_class": "workstation",
            "site": "",
        }
        assert not events(("asset.attributes_changed", "asset.tagged"))


def test_an_agent_cannot_clear_ephi_or_change_the_class_a_person_set(
    agent, tenant_a, login, personas, tmp_path
):
    device = Device("pacs-02", os="windows_server", ip="10.20.5.10", mac="00:50:56:aa:bb:01")
    agent_push(agent, device)
    with tenant_context(tenant_a):
        asset = Asset.objects.get(hostname="pacs-02")
    # A person tags it (OPERATE, the asset API): evented.
    response = login(personas.engineer).patch(
        f"/clients/tenant-a/api/v1/assets/{asset.uuid}/",
        {"is_ephi": True, "data_flows": ["creates"]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    # An operator's CSV import sets its class and owner: evented.
    csv = tmp_path / "assets.csv"
    csv.write_text(
        "hostname,agent_id,os_family,os_name,role,asset_class,owner,location,ephi\n"
        f"pacs-02,{device.agent_id},windows,Windows Server 2022,server,do_not_disrupt,"
        "Radiology,Imaging room,yes\n"
    )
    call_command("ingest", "tenant-a", str(csv), "--format", "csv")
    with tenant_context(tenant_a):
        asset = Asset.objects.select_related("asset_class", "site").get(pk=asset.pk)
        decided = business_of(asset)
        assert decided["is_ephi"] is True and decided["asset_class"] == "do_not_disrupt"
        assert decided["owner"] == "Radiology" and decided["role"] == "server"
        tagged, changed = events(("asset.tagged", "asset.attributes_changed"))
        assert tagged.subject_id == "api" and tagged.actor == personas.engineer.email
        assert tagged.payload["assets"][0]["changes"] == {
            "is_ephi": {"before": False, "after": True},
            "data_flows": {"before": [], "after": ["creates"]},
        }
        assert changed.kind == "asset.attributes_changed" and changed.payload["source"] == "csv"
        [entry] = changed.payload["assets"]
        assert entry["id"] == str(asset.uuid)
        assert entry["changes"]["asset_class"] == {
            "before": "core_server",
            "after": "do_not_disrupt",
        }
        assert entry["changes"]["owner"] == {"before": "", "after": "Radiology"}
        assert "is_ephi" not in entry["changes"]  # already true: no change, no claim of one
        before_agent = EvidenceEvent.objects.count()

    # The agent reports again, claiming the opposite, and with a new address and OS build.
    device.ip = "10.20.5.99"
    claims = {"ephi": False, "data_flows": [], "asset_class": "workstation", "role": "other"}
    agent_push(
        agent,
        device,
        patchops=claims,
        os_version={"name": "Microsoft Windows Server 2022 Standard", "version": "10.0.20348",
                    "build": "20349", "platform": "windows"},
    )  # fmt: skip
    with tenant_context(tenant_a):
        asset = Asset.objects.select_related("asset_class", "site").get(pk=asset.pk)
        assert business_of(asset) == decided  # nothing a person or an operator set moved
        assert asset.ip_addresses == ["10.20.5.99"] and asset.os_build == "20349"
        new = EvidenceEvent.objects.filter(sequence__gt=before_agent).values_list("kind", flat=True)
        assert "asset.attributes_changed" not in new and "asset.tagged" not in new


def test_an_operator_import_that_changes_nothing_records_no_change(tenant_a, tmp_path):
    csv = tmp_path / "assets.csv"
    csv.write_text(
        "hostname,os_family,os_name,role,asset_class,owner,ephi\n"
        "lab-01,windows,Windows 11 Pro,workstation,workstation,Lab,yes\n"
    )
    call_command("ingest", "tenant-a", str(csv), "--format", "csv")
    call_command("ingest", "tenant-a", str(csv), "--format", "csv")
    with tenant_context(tenant_a):
        changed = events(("asset.attributes_changed",))
        # The first import set them on the new asset (an event); the second changed nothing.
        assert len(changed) == 1
        [entry] = changed[0].payload["assets"]
        assert entry["hostname"] == "lab-01"
        assert entry["changes"]["is_ephi"] == {"before": False, "after": True}
        assert Asset.objects.get(hostname="lab-01").is_ephi is True
