"""Scope coverage and the supported/unsupported software list under /clients/<slug>/scope/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from inventory.models import SoftwarePolicy, SoftwarePolicyReview
from tests.producers import Device, adopt, push, scan

pytestmark = pytest.mark.django_db
BASE = "/clients/tenant-a/scope/"


@pytest.fixture
def estate(tenant_a):
    from inventory.services import run_ingest

    with tenant_context(tenant_a):
        push(
            Device(
                "front-desk-01", programs={"Adobe Acrobat Reader DC": "24.002", "AnyDesk": "8.0"}
            )
        )
        run_ingest(
            data={"agent_id": "agent-mac-02", "system_info": {"hostname": "mac-02"},
                  "os_version": {"name": "macOS", "version": "14.6.1", "platform": "darwin"}},
            source="agent", run_source="agent",
        )  # fmt: skip  # an agent that sent no patch or package list
        scan([{"status": "up", "ip": "10.0.0.30", "mac": "AA:BB:CC:00:00:30"}])
        adopt("10.0.0.30", actor="engineer@msp.test", hostname="printer-03")
        policy = SoftwarePolicy.objects.create(name_pattern="adobe acrobat*", is_supported=True)
        SoftwarePolicy.objects.create(name_pattern="anydesk*", is_supported=False)
        return policy


@pytest.mark.parametrize(
    "persona", ["msp_admin", "engineer", "account_manager", "owner_a", "viewer_a"]
)
def test_scope_renders_for_view_roles(login, personas, estate, persona):
    response = login(getattr(personas, persona)).get(BASE)
    assert response.status_code == 200
    text = response.content.decode()
    windows = text.split('data-testid="os-row-windows"')[1].split("</tr>")[0]
    assert "<td>1</td><td>1</td><td>0</td>" in windows and "100.0 %" in windows
    macos = text.split('data-testid="os-row-macos"')[1].split("</tr>")[0]
    assert "0.0 %" in macos
    outside = text.split('data-testid="no-patch-source"')[1].split("</ul>")[0]
    # A computer without a patch list is not reporting (it counts against compliance); only
    # the device no patch source covers is outside patch scope.
    assert "printer-03" in outside and "mac-02" not in outside
    assert "Unsupported" in text and "adobe acrobat*" in text
    assert ("review-form" in text) is (persona == "msp_admin")


def test_scope_is_404_for_another_clients_owner(login, personas, estate):
    other = login(personas.owner_b)
    assert other.get(BASE).status_code == 404
    assert other.post(f"{BASE}review/").status_code == 404


def test_never_reviewed_list_is_flagged_overdue(login, personas, estate):
    text = login(personas.viewer_a).get(BASE).content.decode()
    assert 'data-testid="review-overdue"' in text and "never been reviewed" in text


def test_old_review_is_flagged_and_a_fresh_one_is_not(login, personas, estate, tenant_a):
    with tenant_context(tenant_a):
        SoftwarePolicyReview.objects.create(
            reviewed_on=timezone.localdate() - timedelta(days=100), reviewed_by="admin@msp.test"
        )
    assert 'data-testid="review-overdue"' in login(personas.viewer_a).get(BASE).content.decode()
    response = login(personas.msp_admin).post(f"{BASE}review/", {"notes": "Q4 review"}, follow=True)
    text = response.content.decode()
    assert "Review recorded" in text and 'data-testid="review-overdue"' not in text
    with tenant_context(tenant_a):
        assert EvidenceEvent.objects.filter(kind="software_policy.reviewed").count() == 1


def test_admin_adds_and_edits_a_policy_row(login, personas, estate, tenant_a):
    client = login(personas.msp_admin)
    assert client.get(f"{BASE}policies/new/").status_code == 200
    response = client.post(
        f"{BASE}policies/new/", {"name_pattern": "java*", "is_supported": "", "notes": "EOL"},
        follow=True,
    )  # fmt: skip
    assert "“java*” saved." in response.content.decode()
    response = client.post(
        f"{BASE}policies/{estate.uuid}/",
        {"name_pattern": "adobe acrobat*", "is_supported": "", "notes": "replaced"},
        follow=True,
    )
    assert response.status_code == 200
    with tenant_context(tenant_a):
        assert SoftwarePolicy.objects.get(name_pattern="java*").is_supported is False
        assert SoftwarePolicy.objects.get(pk=estate.pk).notes == "replaced"
        kinds = list(EvidenceEvent.objects.values_list("kind", flat=True).order_by("pk"))
        assert kinds[-2:] == ["software_policy.created", "software_policy.changed"]


def test_duplicate_policy_pattern_is_rejected(login, personas, estate, tenant_a):
    response = login(personas.msp_admin).post(
        f"{BASE}policies/new/", {"name_pattern": "anydesk*", "is_supported": "on"}
    )
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    with tenant_context(tenant_a):
        assert SoftwarePolicy.objects.count() == 2


@pytest.mark.parametrize("persona", ["engineer", "account_manager", "owner_a", "viewer_a"])
def test_policy_actions_need_administer(login, personas, estate, tenant_a, persona):
    client = login(getattr(personas, persona))
    assert client.post(f"{BASE}review/").status_code == 403
    assert client.get(f"{BASE}policies/new/").status_code == 403
    assert client.post(f"{BASE}policies/{estate.uuid}/", {"name_pattern": "x"}).status_code == 403
    with tenant_context(tenant_a):
        assert not SoftwarePolicyReview.objects.exists()
        assert SoftwarePolicy.objects.get(pk=estate.pk).name_pattern == "adobe acrobat*"
