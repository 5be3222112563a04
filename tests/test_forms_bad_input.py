"""Garbage posted to every HTML form: a 400 with errors or a redirect with a message, no 500."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from exceptions_register.models import RiskException
from rings.models import MaintenanceWindow, Rollout
from rings.services import assign_rings, create_rollout, evaluate_rollout
from tests.exceptions_register.factories import make_exception
from tests.producers import maintenance_window, office

pytestmark = pytest.mark.django_db

PAGE = "/clients/tenant-a/"
OK = {200, 302, 400, 403, 404}
GARBAGE = [
    "",
    " ",
    "not-a-uuid",
    "-1",
    "99999999999999999999999",
    "²",
    "1e309",
    "NaN",
    "2026-13-45T25:61",
    "9999-12-31T23:59",
    "0001-01-01 00:00",
    "x" * 5000,
    "\x00",
    "<script>alert(1)</script>",
    "00000000-0000-0000-0000-000000000000",
]
SLA_RULE = "core_server.critical."
ROLLOUT_FIELDS = ["name", "selection", "patches", "patch_identifiers", "os_family"] + [
    "expedite",
    "expedite_reason",
    "soak_hours",
]


@pytest.fixture
def objects(tenant_a, personas):
    with tenant_context(tenant_a):
        office()
        assign_rings()
        rollout = create_rollout(
            name="Garbage KB",
            actor=personas.engineer,
            selection="patch_identifiers",
            patch_identifiers=["KB5030001"],
        )
        evaluate_rollout(rollout=rollout)
        exception = make_exception(client=tenant_a, approver=personas.owner_a)
        window = maintenance_window(name="Nightly")
        return {"rollout": rollout, "exception": exception, "window": window}


PORTAL_DECISION_FIELDS = [
    "decision",
    "password",
    "text_sha256",
    "reason",
    "totp_code",
    "passkey_assertion",
]


def _forms(objects) -> list[tuple[str, str, list[str]]]:
    rollout = objects["rollout"].uuid
    exc = objects["exception"].uuid
    window = objects["window"].uuid
    exception_fields = [
        "kind",
        "ticket_reference",
        "reason",
        "expires_at",
        "approver",
        "assets",
        "findings",
        "control_kind_0",
        "control_description_0",
    ]
    return [
        ("engineer", "exceptions/new/", exception_fields),
        ("engineer", f"exceptions/{exc}/edit/", exception_fields),
        ("engineer", f"exceptions/{exc}/renew/", exception_fields),
        ("engineer", f"exceptions/{exc}/revoke/", ["reason"]),
        ("owner_a", f"portal/exceptions/{exc}/", PORTAL_DECISION_FIELDS),
        (
            "msp_admin",
            "sla-policy/",
            [
                SLA_RULE + f
                for f in ("window_hours", "reboot_policy", "reboot_weekday", "reboot_time")
            ],
        ),
        ("msp_admin", "sla-policy/", ["failure_rate_threshold_pct"]),
        (
            "msp_admin",
            "rings/",
            ["ring", "canary-name", "canary-soak_hours", "canary-failure_threshold_pct"]
            + ["canary-approver_role", "canary-fleet_percent", "canary-canary_size"]
            + ["canary-verify_timeout_hours"],
        ),
        (
            "engineer",
            "maintenance-windows/",
            ["name", "scope", "site", "asset_class", "recurrence", "weekdays", "day_of_month"]
            + ["nth", "weekday", "offset_days", "start_time", "duration_minutes", "is_active"],
        ),
        ("engineer", "maintenance-windows/", ["delete"]),
        (
            "engineer",
            f"maintenance-windows/{window}/",
            ["name", "scope", "site", "asset_class", "recurrence", "weekdays", "day_of_month"]
            + ["nth", "weekday", "offset_days", "start_time", "duration_minutes", "is_active"],
        ),
        ("engineer", "rollouts/new/", ROLLOUT_FIELDS),
        ("engineer", "rollouts/preview/", ROLLOUT_FIELDS),
        ("engineer", f"rollouts/{rollout}/resume/", ["reason"]),
        ("engineer", f"rollouts/{rollout}/approve/", ["wave"]),
        ("engineer", f"rollouts/{rollout}/halt/", ["reason"]),
        ("engineer", f"rollouts/{rollout}/rollback/", ["wave", "what", "outcome"]),
        ("engineer", f"rollouts/{rollout}/runbook/", ["wave", "check", "passed", "note"]),
        (
            "engineer",
            "restore-tests/",
            ["action", "asset", "scheduled_for", "what", "test", "outcome", "performed_at"]
            + ["performed_by", "evidence_url", "note"],
        ),
        ("msp_admin", "restore-tests/", ["action", "max_age_days", "gate_waves"]),
        (
            "engineer",
            "integrations/rmm/",
            ["name", "kind", "base_url", "api_key", "site_filter", "timeout_seconds"]
            + ["is_enabled"],
        ),
        ("engineer", "integrations/rmm/test/", ["name"]),
        (
            "engineer",
            "integrations/network-scans/",
            ["scanner", "cidr", "top_ports", "ports", "timing"],
        ),
        ("account_manager", "reports/", ["kind", "period"]),
        ("msp_admin", "people/", ["action", "email", "role", "user", "invitation"]),
        ("owner_a", "people/", ["action", "email", "role", "user", "invitation"]),
    ]


def test_garbage_posted_to_every_form_never_answers_500(login, personas, objects, tenant_a):
    failures = []
    for persona, url, fields in _forms(objects):
        http = login(getattr(personas, persona))
        http.raise_request_exception = False
        for value in GARBAGE:
            response = http.post(PAGE + url, {name: value for name in fields})
            if response.status_code not in OK:
                failures.append((persona, url, repr(value[:20]), response.status_code))
    assert failures == [], "\n".join(map(str, failures))


def test_invalid_rollout_and_window_posts_write_nothing(login, personas, objects, tenant_a):
    http = login(personas.engineer)
    with tenant_context(tenant_a):
        before = (
            Rollout.objects.count(),
            MaintenanceWindow.objects.count(),
            RiskException.objects.count(),
            EvidenceEvent.objects.count(),
        )
    for value in ["", "not-a-uuid", "²", "\x00"]:
        http.post(PAGE + "rollouts/new/", {"name": value, "selection": value})
        http.post(PAGE + "maintenance-windows/", {"delete": value})
        http.post(PAGE + "maintenance-windows/", {"name": value, "duration_minutes": value})
        http.post(
            f"{PAGE}maintenance-windows/{objects['window'].uuid}/",
            {"name": value, "recurrence": value, "nth": value, "duration_minutes": value},
        )
        http.post(PAGE + "rollouts/new/", {"name": "x", "patches": [value, "KB5030001"]})
        http.post(PAGE + "exceptions/new/", {"kind": value, "expires_at": value})
    with tenant_context(tenant_a):
        after = (
            Rollout.objects.count(),
            MaintenanceWindow.objects.count(),
            RiskException.objects.count(),
            EvidenceEvent.objects.count(),
        )
    assert after == before
