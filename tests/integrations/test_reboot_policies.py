"""Reboot policies carried out: a rollout's jobs carry the SLA rule's reboot policy, the agent's
dry run shows per OS family the restart it would arrange, a manual-approval restart waits for a
person in the portal, and a finding whose fix waits for a restart is not verified until an
inventory without the pending restart arrives. Everything goes through the API an agent uses
(agent jobs, discovery push) and the portal's pages."""

import math
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_tenants.utils import tenant_context

from common.choices import OsFamily
from evidence.models import EvidenceEvent
from findings.choices import FindingState, RebootPolicy, SeverityTier
from findings.policy import update_sla_policy
from integrations.models import AgentJob
from integrations.reboot import next_local_time
from inventory.models import Asset
from patchops_agent.jobs import run_job
from rings.choices import RolloutSelection, WaveState
from rings.models import Wave
from rings.services import approve_wave, assign_rings, create_rollout, evaluate_rollout
from tenants.choices import TokenScope
from tests.producers import maintenance_window, office

pytestmark = pytest.mark.django_db

NIGHT = datetime(2026, 6, 3, 3, 30, tzinfo=UTC)  # Tuesday 22:30 in Chicago, inside the window
RAN = NIGHT + timedelta(minutes=10)
BASE = "/clients/tenant-a/"
JOBS = f"{BASE}api/v1/agent-jobs/"
DISCOVERY = f"{BASE}api/v1/discovery/"
SYSTEM = {OsFamily.WINDOWS: "Windows", OsFamily.MACOS: "Darwin", OsFamily.LINUX: "Linux"}
CLASSES = ("workstation", "core_server", "do_not_disrupt")


def _set_policy(policy: str, actor) -> None:
    """The client's SLA policy gives every class and tier ``policy`` (Sundays 02:00 when
    scheduled), as an MSP admin saves it."""
    rules = [
        {
            "asset_class": key,
            "tier": tier,
            "window_hours": 72,
            "reboot_policy": policy,
            "reboot_weekday": 6 if policy == RebootPolicy.SCHEDULED else None,
            "reboot_time": "02:00" if policy == RebootPolicy.SCHEDULED else None,
        }
        for key in CLASSES
        for tier in SeverityTier.values
    ]
    update_sla_policy(rules=rules, actor=actor, at=NIGHT - timedelta(days=1))


def _canary_jobs(tenant, personas, policy: str, http):
    """A rollout of every open patch under ``policy``: the canary wave's install jobs."""
    with tenant_context(tenant), time_machine.travel(NIGHT, tick=False):
        office()
        maintenance_window()
        _set_policy(policy, personas.msp_admin)
        assign_rings()
        rollout = create_rollout(
            name="June",
            actor=personas.engineer,
            selection=RolloutSelection.PATCH_IDENTIFIERS,
            patch_identifiers=["KB5030001", "USN-6854-1", "macOS-14.7.1"],
        )
        evaluate_rollout(rollout=rollout)
        wave = Wave.objects.select_related("ring").get(rollout=rollout, ring__key="canary")
        approve_wave(wave=wave, user=personas.engineer)
        evaluate_rollout(rollout=rollout)
        snapshots = list(
            AgentJob.objects.filter(wave=wave, action="snapshot").values_list("agent_id", flat=True)
        )
    # Core servers take a snapshot first: their agents report it taken.
    with time_machine.travel(NIGHT, tick=False):
        for agent_id in snapshots:
            for job in _poll(http, agent_id):
                _post(http, job, {"agent_id": agent_id, "status": "succeeded", "log": "taken"})
    with tenant_context(tenant), time_machine.travel(NIGHT, tick=False):
        evaluate_rollout(rollout=rollout)
        wave.refresh_from_db()
        assert wave.state == WaveState.DEPLOYING
        assets = {
            a.agent_id: a
            for a in Asset.objects.filter(agent_jobs__wave=wave, agent_jobs__action="install")
        }
        window_start = wave.window_start
    return rollout, assets, window_start


def _poll(http, agent_id: str) -> list[dict]:
    response = http.get(JOBS, {"agent_id": agent_id})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _post(http, job: dict, body: dict) -> None:
    response = http.post(f"{JOBS}{job['id']}/result/", body, content_type="application/json")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "policy", [RebootPolicy.SCHEDULED, RebootPolicy.USER_PROMPTED, RebootPolicy.MANUAL_APPROVAL]
)
def test_each_policy_through_a_job_and_the_agents_dry_run_on_each_os_family(
    tenant_a, personas, make_token, api, policy
):
    _, token = make_token(TokenScope.AGENT, tenant_a)
    http = api(token)
    _rollout, assets, window_start = _canary_jobs(tenant_a, personas, policy, http)
    families = {a.os_family for a in assets.values()}
    assert families == {OsFamily.WINDOWS, OsFamily.MACOS, OsFamily.LINUX}
    # Sunday 02:00 in Chicago, the first after the window opened (Tuesday 22:00).
    sunday = datetime(2026, 6, 7, 2, 0, tzinfo=ZoneInfo("America/Chicago"))
    assert sunday.weekday() == 6 and sunday > window_start
    seen = set()
    with time_machine.travel(RAN, tick=False):
        for agent_id, asset in sorted(assets.items()):
            system = SYSTEM[asset.os_family]
            if system in seen:
                continue
            seen.add(system)
            (job,) = _poll(http, agent_id)
            assert job["reboot_policy"] == policy
            assert job["reboot"]["policy"] == policy
            result = run_job(job, agent_id, dry_run=True, system=system)
            _post(http, job, result)
            with tenant_context(tenant_a):
                log = asset.agent_jobs.get(uuid=job["id"]).dry_run_results[-1]["log"]
            if policy == RebootPolicy.SCHEDULED:
                assert job["reboot"]["at"] == sunday.astimezone(UTC).isoformat()
                assert job["reboot"]["local"] == "Sunday 02:00"
                assert job["reboot"]["timezone"] == "America/Chicago"
                seconds = int((sunday - RAN).total_seconds())
                notice = "Scheduled restart for updates at Sunday 02:00 America/Chicago."
                expected = (
                    f"would run: shutdown /r /t {seconds} /c {notice}"
                    if system == "Windows"
                    else f"would run: shutdown -r +{math.ceil(seconds / 60)} {notice}"
                )
                assert expected in log
                assert "scheduled restart at Sunday 02:00 America/Chicago" in log
            elif policy == RebootPolicy.USER_PROMPTED:
                deadline = (RAN + timedelta(minutes=240)).strftime("%H:%M")
                notice = (
                    "Updates were installed on this computer. Please save your work: it restarts"
                    f" by the deadline. Deadline {deadline} UTC."
                )
                if system == "Windows":
                    assert f"would run: shutdown /r /t 14400 /c {notice}" in log
                    assert "would run in the background: powershell" in log
                    assert "WScript.Shell" in log and "snooze 60 minutes" in log
                    assert "for($i=0;$i -le 3;$i++)" in log
                elif system == "Darwin":
                    assert f"would run: shutdown -r +240 {notice}" in log
                    assert "would run in the background: /bin/sh -c" in log
                    assert 'buttons {"Snooze 60 min", "Restart now"}' in log
                else:
                    assert f"would run: wall {notice}" in log
                    assert f"would run: shutdown -r +240 {notice}" in log
                    assert "in the background" not in log
            else:
                assert job["reboot"] == {"policy": "manual_approval", "approved": False}
                assert "restart awaits approval in the portal: not restarting" in log
                assert "would run" not in log.split("reboot policy")[1]
    assert seen == {"Windows", "Darwin", "Linux"}


def _installed(job: dict, agent_id: str, *, reboot_required: bool) -> dict:
    return {
        "agent_id": agent_id,
        "status": "succeeded",
        "dry_run": False,
        "started_at": "2026-06-03T03:41:00Z",
        "finished_at": "2026-06-03T03:45:00Z",
        "packages": [
            {"name": p["name"], "version": p.get("version") or "", "status": "installed"}
            for p in job["packages"]
        ],
        "reboot_required": reboot_required,
        "log": "installed",
    }


def _inventory(asset, hotfixes: list[str], *, reboot_pending: bool, at: datetime) -> dict:
    return {
        "agent_id": asset.agent_id,
        "collected_at": at.isoformat(),
        "system_info": {"hostname": asset.hostname},
        "os_version": {"name": asset.os_name or "Microsoft Windows 11 Pro", "build": "22631"},
        "patches": [{"hotfix_id": kb, "installed_on": "6/3/2026"} for kb in hotfixes],
        "reboot_pending": reboot_pending,
    }


def test_manual_approval_waits_for_a_person_and_the_next_poll_carries_it(
    tenant_a, personas, make_token, api, login
):
    _, token = make_token(TokenScope.AGENT, tenant_a)
    http = api(token)
    _rollout, assets, _ = _canary_jobs(tenant_a, personas, RebootPolicy.MANUAL_APPROVAL, http)
    agent_id, asset = next(
        (k, a) for k, a in sorted(assets.items()) if a.os_family == OsFamily.LINUX
    )
    with time_machine.travel(RAN, tick=False):
        (job,) = _poll(http, agent_id)
        _post(http, job, _installed(job, agent_id, reboot_required=True))
    with tenant_context(tenant_a):
        asset.refresh_from_db()
        assert asset.reboot_pending and asset.reboot_approval == "awaiting"
        assert asset.reboot_pending_since == RAN

    viewer = login(personas.viewer_a)
    page = viewer.get(f"{BASE}assets/{asset.uuid}/")
    assert "Reboot pending approval" in page.content.decode()
    assert 'data-testid="approve-reboot"' not in page.content.decode()
    assert viewer.post(f"{BASE}assets/{asset.uuid}/approve-reboot/").status_code == 403
    home = viewer.get(BASE).content.decode()
    assert 'data-testid="count-reboot-approval"' in home
    listed = viewer.get(f"{BASE}assets/", {"reboot_approval": "awaiting"}).content.decode()
    assert asset.hostname in listed and "Reboot pending approval" in listed
    others = [a.hostname for a in assets.values() if a.pk != asset.pk]
    assert not any(f">{name}<" in listed for name in others)
    # Nothing restarts without the approval: the agent's poll has no job for it.
    assert _poll(http, agent_id) == []

    engineer = login(personas.engineer)
    with time_machine.travel(RAN + timedelta(hours=1), tick=False):
        assert (
            'data-testid="approve-reboot"'
            in engineer.get(f"{BASE}assets/{asset.uuid}/").content.decode()
        )
        response = engineer.post(f"{BASE}assets/{asset.uuid}/approve-reboot/")
        assert response.status_code == 302
        again = engineer.post(f"{BASE}assets/{asset.uuid}/approve-reboot/", follow=True)
        assert "Nothing was approved" in again.content.decode()
    with tenant_context(tenant_a):
        asset.refresh_from_db()
        assert asset.reboot_approval == "approved"
        assert asset.reboot_approved_by == personas.engineer.email
        assert asset.agent_jobs.filter(action="reboot").count() == 1
        event = EvidenceEvent.objects.get(kind="asset.reboot_approved")
        assert event.payload["hostname"] == asset.hostname
    with time_machine.travel(RAN + timedelta(hours=2), tick=False):
        (reboot,) = _poll(http, agent_id)
        assert reboot["action"] == "reboot" and reboot["reboot"]["approved"] is True
        result = run_job(reboot, agent_id, dry_run=True, system="Linux")
        notice = f"Restart approved by {personas.engineer.email}: this computer restarts in one"
        assert f"would run: shutdown -r +1 {notice}" in result["log"]
        windows = run_job(reboot, agent_id, dry_run=True, system="Windows")
        assert "would run: shutdown /r /t 60 /c Restart approved by" in windows["log"]


def test_a_finding_is_held_unverified_while_a_restart_is_pending(
    tenant_a, personas, make_token, api, login
):
    _, token = make_token(TokenScope.AGENT, tenant_a)
    http = api(token)
    rollout, assets, _ = _canary_jobs(tenant_a, personas, RebootPolicy.SCHEDULED, http)
    agent_id, asset = next(
        (k, a) for k, a in sorted(assets.items()) if a.os_family == OsFamily.WINDOWS
    )
    with time_machine.travel(RAN, tick=False):
        (job,) = _poll(http, agent_id)
        _post(http, job, _installed(job, agent_id, reboot_required=True))
    pushed = RAN + timedelta(minutes=5)
    with time_machine.travel(pushed, tick=False):
        body = _inventory(asset, ["KB5030001"], reboot_pending=True, at=pushed)
        response = http.post(DISCOVERY, body, content_type="application/json")
        assert response.status_code in (200, 201), response.content
    with tenant_context(tenant_a):
        finding = rollout.findings.get(asset=asset)
        assert finding.state == FindingState.DEPLOYED and finding.verified_at is None
        assert finding.awaiting_reboot_since == pushed
        held = EvidenceEvent.objects.get(
            kind="finding.verification_held", subject_id=str(finding.uuid)
        )
        assert held.payload["patch"] == "KB5030001" and "restart" in held.payload["reason"]
        asset.refresh_from_db()
        assert asset.reboot_pending and asset.reboot_pending_since == RAN
    page = login(personas.engineer).get(f"{BASE}findings/{finding.uuid}/").content.decode()
    assert 'data-testid="awaiting-reboot"' in page and asset.hostname in page
    _, read = make_token(TokenScope.READ, tenant_a)
    api_row = api(read).get(f"{BASE}api/v1/findings/{finding.uuid}/").json()
    assert api_row["awaiting_reboot_since"] is not None and api_row["state"] == "deployed"
    home = login(personas.engineer).get(BASE).content.decode()
    assert 'data-testid="count-reboot-pending"' in home

    restarted = pushed + timedelta(hours=4)
    http = api(token)  # the agent again (the test client carries one token at a time)
    with time_machine.travel(restarted, tick=False):
        body = _inventory(asset, ["KB5030001"], reboot_pending=False, at=restarted)
        response = http.post(DISCOVERY, body, content_type="application/json")
        assert response.status_code in (200, 201), response.content
    with tenant_context(tenant_a):
        finding.refresh_from_db()
        assert finding.state == FindingState.VERIFIED and finding.verified_at == restarted
        verified = EvidenceEvent.objects.get(kind="finding.verified", subject_id=str(finding.uuid))
        assert verified.payload["held_for_restart_since"] == pushed.isoformat()
        asset.refresh_from_db()
        assert not asset.reboot_pending and asset.reboot_pending_since is None


def test_a_scheduled_restart_the_spring_forward_change_skips_runs_an_hour_later():
    chicago = ZoneInfo("America/Chicago")
    friday = datetime(2026, 3, 6, 12, 0, tzinfo=chicago)  # DST starts Sunday 8 March, 02:00
    moment = next_local_time(6, time(2, 30), chicago, friday)
    assert moment == datetime(2026, 3, 8, 3, 30, tzinfo=chicago).astimezone(UTC)
    # An ordinary Sunday: the wall time itself, a week on when this week's has passed.
    after = datetime(2026, 3, 15, 3, 0, tzinfo=chicago)
    assert next_local_time(6, time(2, 30), chicago, after) == datetime(
        2026, 3, 22, 2, 30, tzinfo=chicago
    ).astimezone(UTC)
