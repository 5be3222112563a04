"""Automatic patch policies: each occurrence (N days after Patch Tuesday, client's time zone)
creates exactly one rollout through the rollout service, with the findings real ingest opened;
an approval step holds the rollout until the policy's approver approves; MSP-wide templates
create and update the policies of many clients; bad input is refused with clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from findings.models import Finding
from inventory.models import AssetClass
from rings import tasks
from rings.choices import PolicyRunOutcome, WaveState
from rings.models import PatchPolicy, PolicyRun, Ring, Rollout, Wave
from tests.producers import Device, all_day_window, push
from tests.rings.producers import person

# Every test takes ``tenant_a`` or ``personas`` (the test's transaction), except the race of two
# workers, whose client is committed (``committed_client``).
A = "/clients/tenant-a/api/v1/"
B = "/clients/tenant-b/api/v1/"
KB_CRIT, KB_HIGH, KB_MEDIUM, KB_NOV = "KB5036001", "KB5036002", "KB5036003", "KB5046001"

# Sunday 2026-03-01, before March's Patch Tuesday (Tuesday 10 March 2026).
MARCH_1 = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


def post(http, url: str, body: dict):
    return http.post(url, json.dumps(body), content_type="application/json")


def patch(http, url: str, body: dict):
    return http.patch(url, json.dumps(body), content_type="application/json")


def fleet(client) -> list[Device]:
    """Two Windows workstations miss a critical, a high and a medium OS update; a Windows
    server misses the critical one (all reported by their agents, through ingest)."""
    devices = [Device("ws-01"), Device("ws-02"), Device("srv-01", os="windows_server")]
    for device in devices[:2]:
        device.missing_kb(KB_CRIT, severity="critical")
        device.missing_kb(KB_HIGH, severity="high")
        device.missing_kb(KB_MEDIUM, severity="medium")
    devices[2].missing_kb(KB_CRIT, severity="critical")
    with tenant_context(client):
        push(devices)
    return devices


WORKSTATIONS_POLICY = {
    "name": "Workstations: critical and high",
    "tiers": ["critical", "high"],
    "product_class": "os",
    "asset_classes": ["workstation"],
    "schedule": "patch_tuesday",
    "offset_days": 2,
    "run_at": "09:00",
}


def run_policies(client) -> dict:
    """What the beat does for one client: the per-client task, called directly."""
    with tenant_context(client):
        return tasks.run_client_patch_policies()


def rollouts(client) -> list[Rollout]:
    with tenant_context(client):
        return list(Rollout.objects.order_by("created_at"))


def finding_uuids(client, hostnames, kbs) -> set[str]:
    with tenant_context(client):
        return {
            str(u)
            for u in Finding.objects.filter(
                asset__hostname__in=hostnames, patch_identifier__in=kbs
            ).values_list("uuid", flat=True)
        }


def rollout_finding_uuids(client, rollout) -> set[str]:
    with tenant_context(client):
        return {str(u) for u in rollout.findings.values_list("uuid", flat=True)}


# --- once per Patch Tuesday, across daylight saving time -----------------------------------------


def test_a_policy_creates_one_rollout_per_patch_tuesday_across_dst(tenant_a, personas):
    engineer = person(personas.engineer)
    with at(MARCH_1):
        devices = fleet(tenant_a)
        created = post(engineer, f"{A}patch-policies/", WORKSTATIONS_POLICY)
        assert created.status_code == 201, created.content
        policy = created.json()
        # March 2026: Patch Tuesday is the 10th; two days later, 09:00 in Chicago is CDT
        # (daylight saving time began on 8 March): 14:00 UTC.
        assert policy["next_occurrence"] == "2026-03-12T14:00:00Z"
        page = engineer.get(f"/clients/tenant-a/patch-policies/{policy['id']}/")
        assert "Thursday 2026-03-12 09:00 CDT" in page.content.decode()

    with at(datetime(2026, 3, 12, 13, 55, tzinfo=UTC)):  # 08:55 CDT: not yet
        assert run_policies(tenant_a)["due"] == 0
    assert rollouts(tenant_a) == []

    with at(datetime(2026, 3, 12, 14, 5, tzinfo=UTC)):  # 09:05 CDT
        first = run_policies(tenant_a)
        second = run_policies(tenant_a)  # the beat fires again: nothing new
    assert first["created"] == 1 and second["due"] == 0
    march = rollouts(tenant_a)
    assert len(march) == 1
    # Critical and high OS updates of the workstations, not the medium one, not the server.
    expected = finding_uuids(tenant_a, ["ws-01", "ws-02"], [KB_CRIT, KB_HIGH])
    assert len(expected) == 4
    assert rollout_finding_uuids(tenant_a, march[0]) == expected

    with at(datetime(2026, 3, 25, 9, 0, tzinfo=UTC)):  # later in March
        assert run_policies(tenant_a)["due"] == 0
    # April to October (all CDT): Patch Tuesday + 2 days at 09:00 is 14:00 UTC. The beat runs
    # each month; the March rollout still carries the findings, so there is nothing to patch.
    for month, day in ((4, 16), (5, 14), (6, 11), (7, 16), (8, 13), (9, 10), (10, 15)):
        with at(datetime(2026, month, day, 13, 55, tzinfo=UTC)):
            assert run_policies(tenant_a)["due"] == 0, month
        with at(datetime(2026, month, day, 14, 5, tzinfo=UTC)):
            assert run_policies(tenant_a)["nothing"] == 1, month
            assert run_policies(tenant_a)["due"] == 0, month
    assert len(rollouts(tenant_a)) == 1

    # November: ingest reports a new critical update; the March rollout still carries its own.
    with at(datetime(2026, 11, 2, 18, 0, tzinfo=UTC)):
        for device in devices[:2]:
            device.missing_kb(KB_NOV, severity="critical")
        with tenant_context(tenant_a):
            push(devices)
    # November 2026: Patch Tuesday is the 10th, two days later 09:00 CST (daylight saving time
    # ended on 1 November) is 15:00 UTC: at 14:05 UTC it is 08:05 in Chicago.
    with at(datetime(2026, 11, 12, 14, 5, tzinfo=UTC)):
        assert run_policies(tenant_a)["due"] == 0
    with at(datetime(2026, 11, 12, 15, 5, tzinfo=UTC)):
        assert run_policies(tenant_a)["created"] == 1
        assert run_policies(tenant_a)["due"] == 0
    all_rollouts = rollouts(tenant_a)
    assert len(all_rollouts) == 2
    november = all_rollouts[1]
    assert rollout_finding_uuids(tenant_a, november) == finding_uuids(
        tenant_a, ["ws-01", "ws-02"], [KB_NOV]
    )

    runs = engineer.get(f"{A}patch-policies/{policy['id']}/runs/").json()
    created_runs = [r for r in runs["results"] if r["outcome"] == "created"]
    assert runs["count"] == 9  # one run per month, March to November
    assert [(r["occurrence"], r["rollout"]) for r in created_runs] == [
        ("2026-11-12T15:00:00Z", str(november.uuid)),
        ("2026-03-12T14:00:00Z", str(march[0].uuid)),
    ]
    with tenant_context(tenant_a):
        events = EvidenceEvent.objects.filter(kind="policy.ran", subject_id=policy["id"])
        outcomes = sorted((e.payload["outcome"], e.payload["rollout"] or "") for e in events)
        assert outcomes == sorted(
            [("created", str(november.uuid)), ("created", str(march[0].uuid))]
            + [("nothing", "")] * 7
        )


def test_an_occurrence_with_nothing_to_patch_is_recorded(tenant_a, personas):
    engineer = person(personas.engineer)
    with at(MARCH_1):
        with tenant_context(tenant_a):
            push([Device("ws-09").missing_kb(KB_MEDIUM, severity="medium")])
        policy = post(engineer, f"{A}patch-policies/", WORKSTATIONS_POLICY).json()
    with at(datetime(2026, 3, 12, 14, 5, tzinfo=UTC)):
        assert run_policies(tenant_a)["nothing"] == 1
        assert run_policies(tenant_a)["due"] == 0
    assert rollouts(tenant_a) == []
    runs = engineer.get(f"{A}patch-policies/{policy['id']}/runs/").json()["results"]
    assert [(r["outcome"], r["rollout"]) for r in runs] == [("nothing", None)]
    page = engineer.get(f"/clients/tenant-a/patch-policies/{policy['id']}/").content.decode()
    assert "Nothing to patch" in page


def test_a_weekly_policy_runs_on_its_weekday_in_the_clients_zone(tenant_b, personas):
    """Tenant B is in Berlin: Mondays 06:00 there is 05:00 UTC in winter."""
    engineer = person(personas.engineer)
    with at(datetime(2026, 1, 7, 12, 0, tzinfo=UTC)):  # a Wednesday
        with tenant_context(tenant_b):
            push([Device("b-ws-01").missing_kb(KB_CRIT, severity="critical")])
        body = {"name": "Mondays", "tiers": ["critical"], "schedule": "weekly", "weekday": 0,
                "run_at": "06:00"}  # fmt: skip
        policy = post(engineer, f"{B}patch-policies/", body).json()
        assert policy["next_occurrence"] == "2026-01-12T05:00:00Z"
    with at(datetime(2026, 1, 12, 4, 59, tzinfo=UTC)):
        assert run_policies(tenant_b)["due"] == 0
    with at(datetime(2026, 1, 12, 5, 1, tzinfo=UTC)):
        assert run_policies(tenant_b)["created"] == 1
    assert len(rollouts(tenant_b)) == 1


def test_the_beat_dispatches_only_to_clients_with_a_due_occurrence(tenant_a, tenant_b, personas):
    engineer = person(personas.engineer)
    with at(MARCH_1):
        post(engineer, f"{A}patch-policies/", WORKSTATIONS_POLICY)
    with (
        at(datetime(2026, 3, 12, 14, 5, tzinfo=UTC)),
        mock.patch.object(tasks.run_client_patch_policies, "apply_async", autospec=True) as send,
    ):
        result = tasks.dispatch_patch_policies()
    assert result["sent"] == ["tenant-a"] and send.call_count == 1
    from patchops.celery import app

    entry = app.conf.beat_schedule["rings.dispatch_patch_policies"]
    assert entry["task"] == "rings.dispatch_patch_policies" and entry["schedule"] <= 600


def test_a_policy_created_after_an_occurrence_waits_for_the_next(tenant_a, personas):
    engineer = person(personas.engineer)
    with at(datetime(2026, 3, 13, 12, 0, tzinfo=UTC)):  # the day after March's occurrence
        fleet(tenant_a)
        policy = post(engineer, f"{A}patch-policies/", WORKSTATIONS_POLICY).json()
        assert run_policies(tenant_a)["due"] == 0
        # April 2026: Patch Tuesday is the 14th, +2 days, 09:00 CDT.
        assert policy["next_occurrence"] == "2026-04-16T14:00:00Z"


# --- the approval step ---------------------------------------------------------------------------


def _rings_promote_on_their_own(admin) -> None:
    """Every ring promotes on its own (no ring approver), so only the policy can hold."""
    for ring in admin.get(f"{A}rings/").json()["results"]:
        response = patch(admin, f"{A}rings/{ring['id']}/", {"approver_role": "none"})
        assert response.status_code == 200, response.content


def _first_deploying_wave(client, rollout) -> Wave:
    with tenant_context(client):
        return (
            Wave.objects.filter(rollout=rollout)
            .exclude(state=WaveState.SKIPPED)
            .select_related("ring")
            .order_by("order")
            .first()
        )


def test_an_approval_step_holds_the_rollout_until_the_policys_approver_approves(tenant_a, personas):
    admin, engineer, owner = (
        person(personas.msp_admin),
        person(personas.engineer),
        person(personas.owner_a),
    )
    with at(MARCH_1):
        fleet(tenant_a)
        all_day_window(admin)
        _rings_promote_on_their_own(admin)
        held = post(
            engineer,
            f"{A}patch-policies/",
            {**WORKSTATIONS_POLICY, "name": "Held", "approver_role": "client_owner"},
        )
        assert held.status_code == 201, held.content
    with at(datetime(2026, 3, 12, 14, 5, tzinfo=UTC)):
        assert run_policies(tenant_a)["created"] == 1
        (rollout,) = rollouts(tenant_a)
        for _ in range(3):
            tasks_tick(tenant_a)
        wave = _first_deploying_wave(tenant_a, rollout)
        assert wave.state == WaveState.AWAITING and wave.promoted_at is None
        detail = engineer.get(f"{A}rollouts/{rollout.uuid}/").json()
        first = next(w for w in detail["waves"] if w["id"] == str(wave.uuid))
        assert first["required_approver"] == "client_owner"
        # An engineer may not give the client owner's approval.
        refused = post(engineer, f"{A}rollouts/{rollout.uuid}/approve/", {"wave": str(wave.uuid)})
        assert refused.status_code == 403
        tasks_tick(tenant_a)
        assert _first_deploying_wave(tenant_a, rollout).state == WaveState.AWAITING
        approved = owner.post(
            f"/clients/tenant-a/rollouts/{rollout.uuid}/approve/", {"wave": str(wave.uuid)}
        )
        assert approved.status_code == 302
        tasks_tick(tenant_a)
        wave = _first_deploying_wave(tenant_a, rollout)
        assert wave.promoted_at is not None and wave.state != WaveState.AWAITING


def test_without_an_approval_step_the_same_rollout_starts_on_its_own(tenant_a, personas):
    admin, engineer = person(personas.msp_admin), person(personas.engineer)
    with at(MARCH_1):
        fleet(tenant_a)
        all_day_window(admin)
        _rings_promote_on_their_own(admin)
        post(engineer, f"{A}patch-policies/", WORKSTATIONS_POLICY)
    with at(datetime(2026, 3, 12, 14, 5, tzinfo=UTC)):
        run_policies(tenant_a)
        (rollout,) = rollouts(tenant_a)
        for _ in range(3):
            tasks_tick(tenant_a)
        assert _first_deploying_wave(tenant_a, rollout).promoted_at is not None


def tasks_tick(client) -> dict:
    with tenant_context(client):
        return tasks.evaluate_client_rollouts()


# --- MSP-wide templates --------------------------------------------------------------------------


TEMPLATE = {
    "name": "Standard workstations",
    "tiers": ["critical", "high"],
    "product_class": "os",
    "asset_classes": ["workstation"],
    "schedule": "patch_tuesday",
    "offset_days": 2,
    "run_at": "09:00",
    "approver_role": "engineer",
}


def test_a_template_applied_to_two_clients_creates_and_updates_their_policies(
    tenant_a, tenant_b, personas
):
    admin = person(personas.msp_admin)
    with at(MARCH_1):
        created = post(admin, "/api/v1/patch-policy-templates/", TEMPLATE)
        assert created.status_code == 201, created.content
        template = created.json()
        url = f"/api/v1/patch-policy-templates/{template['id']}/apply/"
        applied = post(admin, url, {"clients": ["tenant-a", "tenant-b"]})
        assert applied.status_code == 200, applied.content
        assert [r["outcome"] for r in applied.json()["results"]] == ["created", "created"]
        a = admin.get(f"{A}patch-policies/").json()["results"]
        b = admin.get(f"{B}patch-policies/").json()["results"]
    assert [(p["name"], p["template"]) for p in a] == [(TEMPLATE["name"], template["id"])]
    assert [(p["name"], p["template"]) for p in b] == [(TEMPLATE["name"], template["id"])]
    assert a[0]["asset_classes"] == b[0]["asset_classes"] == ["workstation"]
    # The same rule, each in its own zone: 09:00 in Chicago (CDT) and in Berlin (CET).
    assert a[0]["next_occurrence"] == "2026-03-12T14:00:00Z"
    assert b[0]["next_occurrence"] == "2026-03-12T08:00:00Z"

    with at(MARCH_1 + timedelta(hours=1)):
        changed = patch(admin, f"/api/v1/patch-policy-templates/{template['id']}/",
                        {"offset_days": 3})  # fmt: skip
        assert changed.status_code == 200, changed.content
        again = post(admin, url, {"clients": ["tenant-a", "tenant-b"]})
    assert [r["outcome"] for r in again.json()["results"]] == ["updated", "updated"]
    for client in (tenant_a, tenant_b):
        with tenant_context(client):
            (policy,) = PatchPolicy.objects.all()
            assert policy.offset_days == 3 and str(policy.template) == template["id"]
            kinds = list(
                EvidenceEvent.objects.filter(subject_id=policy.uuid).values_list("kind", flat=True)
            )
            assert sorted(kinds) == ["policy.created", "policy.updated"]


def test_a_template_a_client_cannot_take_applies_nowhere(tenant_a, tenant_b, personas):
    admin = person(personas.msp_admin)
    with tenant_context(tenant_b):
        Ring.objects.filter(key="pilot").update(key="pilot-b")  # tenant B renamed its pilot ring
    template = post(
        admin, "/api/v1/patch-policy-templates/", {**TEMPLATE, "rings": ["canary", "pilot"]}
    ).json()
    response = post(
        admin,
        f"/api/v1/patch-policy-templates/{template['id']}/apply/",
        {"clients": ["tenant-a", "tenant-b"]},
    )
    assert response.status_code == 400
    assert response.json()["clients"] == ["tenant-b: This client has no rings pilot."]
    for client in (tenant_a, tenant_b):
        with tenant_context(client):
            assert not PatchPolicy.objects.exists()
    unknown = post(
        admin,
        f"/api/v1/patch-policy-templates/{template['id']}/apply/",
        {"clients": ["no-such-client"]},
    )
    assert unknown.status_code == 400 and "no-such-client" in unknown.json()["clients"][0]


def test_templates_are_for_msp_admins(personas):
    engineer, admin = person(personas.engineer), person(personas.msp_admin)
    assert engineer.get("/patch-policy-templates/").status_code == 403
    assert engineer.get("/api/v1/patch-policy-templates/").status_code == 403
    assert admin.get("/patch-policy-templates/").status_code == 200
    page = admin.post(
        "/patch-policy-templates/",
        {"name": "Servers", "tiers": ["critical"], "product_class": "os",
         "schedule": "patch_tuesday", "offset_days": "5", "run_at": "22:00",
         "approver_role": "none", "asset_classes": "core_server"},
    )  # fmt: skip
    assert page.status_code == 302, page.content.decode()
    detail = admin.get(page["Location"]).content.decode()
    assert "5 days after Patch Tuesday at 22:00" in detail


def test_applying_a_template_from_its_page(tenant_a, personas):
    admin = person(personas.msp_admin)
    template = post(admin, "/api/v1/patch-policy-templates/", TEMPLATE).json()
    response = admin.post(
        f"/patch-policy-templates/{template['id']}/", {"apply": "1", "clients": [tenant_a.pk]}
    )
    assert response.status_code == 200
    assert "Created “Standard workstations”" in response.content.decode()
    empty = admin.post(f"/patch-policy-templates/{template['id']}/", {"apply": "1"})
    assert empty.status_code == 400 and "Choose at least one client." in empty.content.decode()


# --- pages and bad input -------------------------------------------------------------------------


FORM = {
    "name": "Form policy",
    "is_active": "on",
    "tiers": ["critical", "high"],
    "product_class": "os",
    "schedule": "patch_tuesday",
    "offset_days": "2",
    "weekday": "",
    "run_at": "09:00",
    "approver_role": "none",
}


def test_the_pages_create_and_edit_a_policy(tenant_a, personas):
    engineer = person(personas.engineer)
    empty = engineer.get("/clients/tenant-a/patch-policies/").content.decode()
    assert "No patch policy yet" in empty
    with tenant_context(tenant_a):
        workstation = AssetClass.objects.get(key="workstation")
    response = engineer.post(
        "/clients/tenant-a/patch-policies/new/", {**FORM, "asset_classes": [workstation.pk]}
    )
    assert response.status_code == 302, response.content.decode()
    detail = response["Location"]
    with tenant_context(tenant_a):
        policy = PatchPolicy.objects.get(name="Form policy")
        assert list(policy.asset_classes.values_list("key", flat=True)) == ["workstation"]
    listing = engineer.get("/clients/tenant-a/patch-policies/").content.decode()
    assert "Form policy" in listing and "2 days after Patch Tuesday at 09:00" in listing
    assert "every critical and high OS update" in listing
    edited = engineer.post(detail, {**FORM, "schedule": "weekly", "weekday": "4"})
    assert edited.status_code == 302
    with tenant_context(tenant_a):
        policy.refresh_from_db()
        assert (policy.schedule, policy.weekday, policy.offset_days) == ("weekly", 4, 0)
    # A client owner sees the policies but may not change them.
    owner = person(personas.owner_a)
    assert owner.get(detail).status_code == 200
    assert owner.post(detail, FORM).status_code == 403
    assert owner.get("/clients/tenant-a/patch-policies/new/").status_code == 403


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"tiers": []}, "tiers", "Choose at least one severity tier, or include KEV updates."),
        ({"tiers": ["severe"]}, "tiers", "Select a valid choice."),
        ({"offset_days": "30"}, "offset_days", "less than or equal to 21"),
        ({"schedule": "weekly", "weekday": ""}, "weekday", "A weekly policy needs its weekday."),
        ({"run_at": "25:00"}, "run_at", "Enter a valid time."),
        ({"name": ""}, "name", "This field is required."),
    ],
)
def test_the_form_refuses_bad_input_with_a_clear_error(tenant_a, personas, change, field, message):
    engineer = person(personas.engineer)
    response = engineer.post("/clients/tenant-a/patch-policies/new/", {**FORM, **change})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors.get(field, [])), response.context[
        "form"
    ].errors
    with tenant_context(tenant_a):
        assert not PatchPolicy.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"tiers": []}, "tiers", "Choose at least one severity tier, or include KEV updates."),
        ({"tiers": ["severe"]}, "tiers", "is not a valid choice"),
        ({"offset_days": 30}, "offset_days", "less than or equal to 21"),
        ({"schedule": "weekly"}, "weekday", "A weekly policy needs its weekday."),
        ({"weekday": 2}, "weekday", "Only a weekly policy has a weekday."),
        ({"asset_classes": ["servers"]}, "asset_classes", "does not exist"),
        ({"approver_role": "boss"}, "approver_role", "is not a valid choice"),
        ({"run_at": "9 o'clock"}, "run_at", "Time has wrong format"),
    ],
)
def test_the_api_refuses_bad_input_with_a_clear_error(tenant_a, personas, change, field, message):
    engineer = person(personas.engineer)
    response = post(engineer, f"{A}patch-policies/", {**WORKSTATIONS_POLICY, **change})
    assert response.status_code == 400, response.content
    assert message in json.dumps(response.json()[field]), response.json()
    with tenant_context(tenant_a):
        assert not PatchPolicy.objects.exists()


def test_a_duplicate_name_and_a_read_token_are_refused(tenant_a, personas, make_token, api):
    engineer = person(personas.engineer)
    assert post(engineer, f"{A}patch-policies/", WORKSTATIONS_POLICY).status_code == 201
    again = post(engineer, f"{A}patch-policies/", WORKSTATIONS_POLICY)
    assert again.status_code == 400 and "name" in again.json()
    _, token = make_token("read", tenant_a)
    reader = api(token)
    assert reader.get(f"{A}patch-policies/").json()["count"] == 1
    denied = reader.post(f"{A}patch-policies/", json.dumps({**WORKSTATIONS_POLICY, "name": "x"}),
                         content_type="application/json")  # fmt: skip
    assert denied.status_code == 403


def test_a_run_records_the_error_once(tenant_a, personas):
    """A client without rings cannot take a rollout: the run records why, once."""
    engineer = person(personas.engineer)
    with at(MARCH_1):
        fleet(tenant_a)
        policy = post(engineer, f"{A}patch-policies/", WORKSTATIONS_POLICY).json()
        with tenant_context(tenant_a):
            for ring in Ring.objects.all():
                ring.delete()  # what deleting every ring leaves
    with at(datetime(2026, 3, 12, 14, 5, tzinfo=UTC)):
        assert run_policies(tenant_a)["failed"] == 1
        assert run_policies(tenant_a)["due"] == 0
    with tenant_context(tenant_a):
        (run,) = PolicyRun.objects.filter(policy__uuid=policy["id"])
        assert run.outcome == PolicyRunOutcome.FAILED and run.message == "This client has no rings."
        assert not Rollout.objects.exists()


# --- two workers at once -------------------------------------------------------------------------


@pytest.fixture
def committed_client(django_db_setup, django_db_blocker):
    """A client whose data is committed (both workers' connections see it), dropped after."""
    import uuid

    from django.db import connection

    from tenants.models import Client, Domain
    from tenants.services import create_client

    with django_db_blocker.unblock():
        client = create_client(
            slug=f"policy-race-{uuid.uuid4().hex[:8]}",
            name="Policy Race Clinic",
            timezone_name="America/Chicago",
        )
        try:
            yield client
        finally:
            connection.set_schema_to_public()
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{client.schema_name}" CASCADE')
            Domain.objects.filter(tenant_id=client.pk).delete()
            Client.objects.filter(pk=client.pk)._raw_delete(using="default")
            connection.close()


def test_two_workers_running_at_once_create_one_rollout(committed_client):
    import threading

    from django.db import connections

    from tenants.models import User

    engineer = person(User.objects.get(email="engineer@msp.test"))
    slug = committed_client.slug
    with at(MARCH_1):
        fleet(committed_client)
        created = post(engineer, f"/clients/{slug}/api/v1/patch-policies/", WORKSTATIONS_POLICY)
        assert created.status_code == 201, created.content
    barrier = threading.Barrier(2)
    outcomes: list = [None, None]

    def work(index: int) -> None:
        try:
            with tenant_context(committed_client):
                barrier.wait(timeout=10)
                outcomes[index] = tasks.run_client_patch_policies()
        except Exception as exc:  # noqa: BLE001 - reported below
            outcomes[index] = exc
        finally:
            connections.close_all()

    with at(datetime(2026, 3, 12, 14, 5, tzinfo=UTC)):
        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    assert sorted(o.get("created", 0) for o in outcomes) == [0, 1], outcomes
    with tenant_context(committed_client):
        assert Rollout.objects.count() == 1
        assert PolicyRun.objects.count() == 1
        assert EvidenceEvent.objects.filter(kind="policy.ran").count() == 1


GARBAGE = ["", " ", "-1", "99999999999999999999999", "²", "NaN", "25:61", "x" * 5000, "\x00",
           "<script>alert(1)</script>", "00000000-0000-0000-0000-000000000000"]  # fmt: skip
TEMPLATE_FORM = {**FORM, "asset_classes": "workstation", "rings": "", "description": ""}


def test_garbage_in_every_policy_and_template_field_is_refused_without_a_500(tenant_a, personas):
    engineer, admin = person(personas.engineer), person(personas.msp_admin)
    engineer.raise_request_exception = admin.raise_request_exception = False
    template = post(admin, "/api/v1/patch-policy-templates/", TEMPLATE).json()
    pages = [
        (engineer, "/clients/tenant-a/patch-policies/new/", FORM),
        (admin, "/patch-policy-templates/", TEMPLATE_FORM),
        (admin, f"/patch-policy-templates/{template['id']}/", TEMPLATE_FORM),
        (admin, f"/patch-policy-templates/{template['id']}/", {"apply": "1"}),
    ]
    for http, url, form in pages:
        for field in [*form, "clients"]:
            for value in GARBAGE:
                response = http.post(url, {**form, field: value})
                assert response.status_code in (200, 302, 400), (url, field, value)
