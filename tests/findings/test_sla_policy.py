"""SLA policy: seeded defaults, admin-only edits with history and evidence, re-dating rule."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from findings.choices import RebootPolicy
from findings.models import Finding, SlaPolicyChange, SlaRule
from findings.policy import update_sla_policy
from tests.producers import Device, push

URL = "/clients/tenant-a/api/v1/sla-policy/"


@pytest.mark.django_db
def test_every_client_is_seeded_with_the_design_defaults(in_tenant_a):
    rules = {(r.asset_class.key, r.tier): r for r in SlaRule.objects.select_related("asset_class")}
    assert len(rules) == 15  # 3 classes × 5 tiers
    core = rules[("core_server", "critical")]
    assert (core.window_hours, core.reboot_policy, core.reboot_weekday, core.reboot_time) == (
        24, RebootPolicy.SCHEDULED, 6, time(2, 0),
    )  # fmt: skip
    ws = rules[("workstation", "high")]
    assert (ws.window_hours, ws.reboot_policy) == (7 * 24, RebootPolicy.USER_PROMPTED)
    for tier in ("medium", "low"):
        dnd = rules[("do_not_disrupt", tier)]
        assert (dnd.window_hours, dnd.reboot_policy) == (30 * 24, RebootPolicy.MANUAL_APPROVAL)


@pytest.mark.django_db
def test_policy_change_redates_only_findings_not_yet_overdue(in_tenant_a, personas):
    now = timezone.now()
    pc = Device("pc-1")  # a workstation: high = 168 h, low = 30 days
    script = [
        (9, lambda: pc.missing_kb("KB5040001", severity="high")),  # due 2 days ago: overdue
        (2, lambda: pc.missing_kb("KB5040002", severity="high")),  # due in 5 days
        (
            1,
            lambda: pc.missing_kb("KB5040003", severity="high").missing_kb(
                "KB5040004", severity="low"
            ),
        ),  # fmt: skip
        (0.5, lambda: pc.install_kb("KB5040003")),  # verified by this inventory
    ]
    for days_ago, change in script:
        with time_machine.travel(now - timedelta(days=days_ago), tick=False):
            push(change())
    found = {f.patch_identifier: f for f in Finding.objects.all()}
    overdue, on_time, verified, other_tier = (found[f"KB504000{i}"] for i in (1, 2, 3, 4))
    assert overdue.due_at == now - timedelta(days=2) and on_time.due_at == now + timedelta(days=5)
    assert verified.state == "verified" and other_tier.tier == "low"
    change = update_sla_policy(
        rules=[{"asset_class": "workstation", "tier": "high", "window_hours": 72,
                "reboot_policy": "user_prompted"}],
        actor=personas.msp_admin, at=now,
    )  # fmt: skip
    assert change.redated_findings == 1
    assert Finding.objects.get(pk=on_time.pk).due_at == on_time.detected_at + timedelta(hours=72)
    assert Finding.objects.get(pk=overdue.pk).due_at == overdue.due_at
    assert Finding.objects.get(pk=verified.pk).due_at == verified.due_at
    assert Finding.objects.get(pk=other_tier.pk).due_at == other_tier.due_at
    assert {"asset_class": "workstation", "tier": "high", "window_hours": 168,
            "reboot_policy": "user_prompted", "reboot_weekday": None,
            "reboot_time": None} in change.before  # fmt: skip
    assert change.actor == "admin@msp.test"
    event = EvidenceEvent.objects.get(kind="sla_policy.changed")
    assert event.payload["redated_findings"] == 1


@pytest.mark.django_db
def test_bad_rule_changes_nothing(in_tenant_a, personas):
    with pytest.raises(ValidationError) as exc:
        update_sla_policy(
            rules=[{"asset_class": "workstation", "tier": "high", "window_hours": 0,
                    "reboot_policy": "scheduled"}],
            actor=personas.msp_admin, at=timezone.now(),
        )  # fmt: skip
    assert "rules[0].window_hours" in exc.value.message_dict
    assert "rules[0].reboot_weekday" in exc.value.message_dict
    assert not SlaPolicyChange.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "status"),
    [("msp_admin", 200), ("engineer", 403), ("account_manager", 403), ("owner_a", 403),
     ("owner_b", 404)],
)  # fmt: skip
def test_put_needs_administer(login, personas, persona, status):
    body = {
        "rules": [
            {
                "asset_class": "core_server",
                "tier": "critical",
                "window_hours": 12,
                "reboot_policy": "scheduled",
                "reboot_weekday": 6,
                "reboot_time": "03:00",
            }
        ]
    }
    response = login(getattr(personas, persona)).put(URL, body, content_type="application/json")
    assert response.status_code == status


@pytest.mark.django_db
def test_get_for_viewers_and_put_400_on_bad_input(login, personas, tenant_a):
    body = login(personas.viewer_a).get(URL).json()
    assert len(body["rules"]) == 15 and "redating_rule" in body
    response = login(personas.msp_admin).put(
        URL, {"rules": [{"asset_class": "nope", "tier": "x", "window_hours": 5,
                         "reboot_policy": "manual_approval"}]}, content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    assert "rules[0].asset_class" in response.json()
    with tenant_context(tenant_a):
        assert not SlaPolicyChange.objects.exists()


@pytest.mark.django_db
def test_sla_page_view_for_all_edit_for_admin(login, personas, tenant_a):
    page = "/clients/tenant-a/sla-policy/"
    viewer = login(personas.viewer_a).get(page)
    assert viewer.status_code == 200 and b"Only MSP admins" in viewer.content
    assert login(personas.engineer).post(page, {}).status_code == 403
    admin = login(personas.msp_admin)
    prefix = "core_server.critical."
    form = {"window_hours": "12", "reboot_policy": "scheduled", "reboot_weekday": "6",
            "reboot_time": "02:00"}  # fmt: skip
    response = admin.post(page, {prefix + k: v for k, v in form.items()})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert (
            SlaRule.objects.get(asset_class__key="core_server", tier="critical").window_hours == 12
        )
    history = admin.get(page)
    assert b"admin@msp.test" in history.content
