"""The two committed clients the every-route test calls: built through the real producers,
the second three times the first, so a query count that grows with the data shows."""

# ruff: noqa: F403, F405
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client as HttpClient
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.choices import MembershipRole, TokenScope
from tests import routes
from tests.mfa import sign_in
from tests.producers import (
    Device,
    all_day_window,
    load_catalogue,
    push_api,
    roll_out,
    scan,
    tag_ephi,
)
from tests.route_rules import *

# --- the two clients ---------------------------------------------------------------------------


@dataclass
class Side:
    """One committed client with its objects and the credentials of its principals."""

    client: Any
    scale: int
    ids: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.client.slug

    def http(self, principal: str | None) -> HttpClient:
        http = HttpClient()
        if principal is None:
            return http
        kind, _ = PRINCIPALS[principal]
        if kind == "session":
            http.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[principal]
        else:
            http.defaults["HTTP_AUTHORIZATION"] = f"Bearer {self.tokens[principal]}"
        return http

    def url(self, route: routes.Route, objects: Side | None = None) -> str:
        """The route's URL under this client, with object ids of ``objects`` (default: own)."""
        values = {}
        for param in route.params:
            kind, what = param_source(route, param)
            if kind == "constant":
                values[param] = what
            elif what in SHARED_OBJECTS:
                values[param] = self.ids[what]
            else:
                values[param] = (objects or self).ids[what]
        url = route.url(values, slug=self.slug)
        query = QUERIES.get(route.key)
        return f"{url}?{query.format(**self.ids)}" if query else url


@dataclass
class World:
    small: Side
    big: Side
    catalogue_folder: Path


CVES = [f"CVE-2031-{40000 + i}" for i in range(12)]
KBS = [f"KB59{i:05d}" for i in range(6)]


def _scan_hosts(scale: int) -> list[dict[str, Any]]:
    return [
        {
            "status": "up",
            "ip": f"10.77.0.{10 + i}",
            "ipv6": None,
            "mac": f"b8:27:eb:00:00:{i:02x}",
            "mac_vendor": "Raspberry Pi Foundation",
            "hostnames": [f"sensor-{i}.lan"],
            "os_guesses": [{"name": "Linux 4.15 - 5.8", "accuracy": 96}],
            "open_ports": [{"port": 22, "protocol": "tcp", "service": "ssh"}],
        }
        for i in range(2 * scale)
    ]


def _osv(identifier: str, cve: str) -> dict[str, Any]:
    return {
        "id": identifier,
        "modified": "2031-03-01T00:00:00Z",
        "published": "2031-02-27T00:00:00Z",
        "summary": "openssl security update",
        "upstream": [cve],
        "affected": [
            {
                "package": {"ecosystem": "Rocky Linux:9", "name": "openssl"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.7-25"}]}
                ],
            }
        ],
    }


def import_catalogue(folder: Path, cves: list[str]) -> None:
    """KEV, NVD, EPSS and OSV documents for ``cves``, through the catalogue's importers."""
    from catalogue.services import run_import

    load_catalogue(
        folder,
        kev=cves,
        cvss={c: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" for c in cves},
        epss={c: "0.4" for c in cves},
    )
    osv = folder / "osv"
    osv.mkdir(exist_ok=True)
    for cve in cves:
        (osv / f"RLSA-{cve}.json").write_text(json.dumps(_osv(f"RLSA-{cve[4:]}", cve)))
    run_import(kind="osv", path=osv)


def _user(email: str, staff_role: str = "") -> Any:
    from tenants.models import User
    from tests.conftest import PASSWORD

    return User.objects.filter(email=email).first() or User.objects.create_user(
        email=email, password=PASSWORD, staff_role=staff_role
    )


def _session(user: Any) -> str:
    http = HttpClient()
    sign_in(http, user)
    return http.cookies[settings.SESSION_COOKIE_NAME].value


def queue_rollout(findings: list[Any], *, engineer: Any) -> Any:
    """A rollout of ``findings`` approved up to its first agent jobs, which nobody reports."""
    from integrations.choices import JobStatus
    from integrations.models import AgentJob
    from rings.choices import RolloutSelection, WaveState
    from rings.models import Ring, Wave
    from rings.services import approve_wave, create_rollout, evaluate_rollout, pin_asset

    first = Ring.objects.order_by("order").first()
    for finding in findings:
        pin_asset(asset=finding.asset, ring=first, actor=engineer)
    rollout = create_rollout(
        name=f"Waiting {findings[0].patch_identifier}",
        actor=engineer,
        selection=RolloutSelection.FINDINGS,
        finding_ids=[f.uuid for f in findings],
    )
    for _ in range(6):
        evaluate_rollout(rollout=rollout)
        for wave in Wave.objects.filter(
            rollout=rollout, state=WaveState.AWAITING, approval__isnull=True
        ).select_related("ring", "rollout"):
            approve_wave(wave=wave, user=engineer)
        if AgentJob.objects.filter(wave__rollout=rollout, status=JobStatus.QUEUED).exists():
            return rollout
    raise AssertionError(f"{rollout.name} queued no agent job")


def build_side(slug: str, scale: int, *, engineer: Any, staff: dict) -> Side:
    """A client of ``scale`` times the base fleet, built through the real producers."""
    from evidence.models import EvidenceEvent
    from findings.models import Finding, FindingTriage
    from findings.triage import request_triage
    from integrations.connectors import WebhookConnector
    from integrations.models import AgentJob, OutboxMessage, PsaTicket, RmmWebhook
    from integrations.services import open_ticket
    from inventory.models import (
        DiscoveryRun,
        InstalledSoftware,
        InventorySnapshot,
        SoftwarePolicy,
        UnknownDevice,
    )
    from inventory.services import create_snapshot
    from privileged.models import PrivilegedAccountIssue
    from privileged.services import (
        AccountInput,
        create_account,
        detect_overdue,
        start_offboarding,
    )
    from reports.models import ReportRecipient, ReportRequest, StoredReport
    from rings.models import (
        MaintenanceWindow,
        PatchPolicy,
        RestoreTest,
        Ring,
        Rollout,
        RunbookCheck,
    )
    from rings.services import run_policy
    from scorecards.services import record_scorecard
    from tenants.services import add_membership, create_client, issue_api_token, set_plan
    from tenants.tiers import Plan
    from tests.exceptions_register.factories import make_exception, sign
    from uploads.models import FileUpload

    client = create_client(
        slug=slug, name=f"Route Clinic {scale}", timezone_name="America/Chicago", is_hipaa=True
    )
    side = Side(client=client, scale=scale)
    # Users stay after the clients are dropped (their rows are referenced from client schemas).
    owner = _user(f"owner-{scale}@routes.test")
    viewer = _user(f"viewer-{scale}@routes.test")
    add_membership(user=owner, client=client, role=MembershipRole.CLIENT_OWNER)
    add_membership(user=viewer, client=client, role=MembershipRole.CLIENT_VIEWER)
    for name, scope in (
        ("read_token", TokenScope.READ),
        ("write_token", TokenScope.WRITE),
        ("agent_token", TokenScope.AGENT),
    ):
        side.tokens[name] = issue_api_token(
            name=f"{slug}-{name}", scope=scope, client=client
        ).plaintext
    side.sessions = {"owner": _session(owner), "viewer": _session(viewer), **staff}

    kbs = KBS[: 2 * scale]
    devices = []
    for i in range(3 * scale):
        device = Device(f"WS-{i:02d}", ephi=i % 2 == 0)
        for j, kb in enumerate(kbs):
            device.missing_kb(kb, cves=[CVES[j]], severity="critical" if j % 2 else "high")
        devices.append(device)
    for i in range(scale):
        server = Device(f"srv-{i:02d}", os="ubuntu", packages={"openssl": "3.0.2-0ubuntu1.10"})
        devices.append(server.missing_package("openssl", "3.0.2-0ubuntu1.15", cves=[CVES[-1]]))
    devices.append(Device("KIOSK-01", os="macos", role="shared_kiosk"))
    agent = side.http("agent_token")
    for n in range(scale + 1):
        if n:  # between two pushes every Windows device installs a hotfix: software history
            for device in devices:
                if device.os == "windows":
                    device.install_kb(f"KB58{n:05d}")
        push_api(agent, devices, slug=slug)

    admin_http = side.http("admin")
    tag_ephi(admin_http, [d for d in devices if d.ephi], slug=slug)  # people decide ePHI
    all_day_window(admin_http, slug=slug)
    for i in range(scale):
        response = admin_http.post(
            f"/clients/{slug}/api/v1/maintenance-windows/",
            {"name": f"Night {i}", "scope": "client", "recurrence": "weekly", "weekdays": [i],
             "start_time": "22:00", "duration_minutes": 240},
            content_type="application/json",
        )  # fmt: skip
        assert response.status_code == 201, response.content
    with tenant_context(client):
        servers = [d.asset.uuid for d in devices if d.hostname.startswith("srv-")]
    for i, server_uuid in enumerate(servers):  # restore tests of the critical servers
        response = admin_http.post(
            f"/clients/{slug}/api/v1/restore-tests/",
            {"asset": str(server_uuid), "scheduled_for": f"2026-01-{i + 1:02d}",
             "what": f"Server image {i}"},
            content_type="application/json",
        )  # fmt: skip
        assert response.status_code == 201, response.content
    with tenant_context(client):
        for k in range(scale):
            findings = list(Finding.objects.filter(patch_identifier=kbs[k]).order_by("pk"))
            roll_out(findings, engineer=engineer, agent_http=agent, slug=slug, fail={"WS-01"})
        for k in range(scale, 2 * scale):  # rollouts whose jobs wait for their agents
            findings = list(Finding.objects.filter(patch_identifier=kbs[k]).order_by("pk"))
            queue_rollout(findings, engineer=engineer)
        scan(_scan_hosts(scale), actor=engineer)
        # Designated scanners (the servers' agents) and the scan jobs a scheduled run queues.
        from integrations.scans import designate_scanner, queue_scheduled_scans

        servers = [d for d in devices if d.hostname.startswith("srv-")]
        scan_subnets = [
            designate_scanner(scanner=server.asset, cidr=f"10.{100 + i}.0.0/24", actor=engineer)
            for i, server in enumerate(servers)
        ]
        queue_scheduled_scans(client=client, now=timezone.now())
        for _ in range(scale):
            create_snapshot(client=client, actor=engineer)
        assets = [d.asset for d in devices]
        # Half await the owner's signature, half are signed (active): both lists have rows.
        exceptions = [
            make_exception(
                client=client,
                approver=owner,
                actor=engineer,
                assets=assets[: 1 + k],
                findings=list(Finding.objects.filter(asset__in=assets[: 1 + k])[: 2 * scale]),
            )
            for k in range(2 * scale)
        ]
        for exception in exceptions[1::2]:
            sign(exception, client=client, user=owner)
        for k in range(2 * scale):
            open_ticket(category="patching", summary=f"Reboot pending on WS-{k:02d}")
        # Privileged accounts (rotations long overdue: issues), and a leaver's checklist.
        long_ago = timezone.localdate() - timedelta(days=400)
        for k in range(2 * scale):
            create_account(
                client=client,
                actor=engineer,
                data=AccountInput(
                    kind="shared_admin" if k % 2 else "privileged",
                    name=f"Admin {k}",
                    identifier=f"adm-{k}",
                    owner_name="Leaver",
                    owner_email="leaver@routes.test",
                    known_by=[f"tech-{k}@routes.test"],
                    systems=assets[: 1 + k],
                    mfa_state="enforced",
                    last_rotated_on=long_ago,
                    last_reviewed_on=long_ago,
                ),
            )
        detect_overdue()
        checklist = start_offboarding(actor=engineer, email="leaver@routes.test")
        # Requests to close findings as not applicable, awaiting an admin's approval.
        for finding in Finding.objects.filter(state="open").order_by("-pk")[:scale]:
            request_triage(
                client=client,
                findings=[finding],
                kind="not_applicable",
                reason="The feature is not installed",
                actor=engineer,
            )
    period = timezone.localdate(timezone=client.tz).strftime("%Y-%m")
    for _ in range(scale):  # versions 1…scale of this month's inventory report
        call_command("generate_report", slug, kind="inventory", period=period, stdout=StringIO())
    for i in range(2 * scale):
        for path, body in (
            (
                "report-recipients/",
                {"name": f"R {i}", "email": f"r{i}@routes.test", "kinds": ["qbr"]},
            ),
            ("software-policies/", {"name_pattern": f"Vendor {i} *", "is_supported": i % 2 == 0}),
            ("runbook-checks/", {"name": f"Check {i}", "order": i, "is_active": False}),
        ):
            response = admin_http.post(
                f"/clients/{slug}/api/v1/{path}", body, content_type="application/json"
            )
            assert response.status_code == 201, response.content
    for i in range(scale):  # patch policies (their runs found nothing of the low tier)
        response = admin_http.post(
            f"/clients/{slug}/api/v1/patch-policies/",
            {"name": f"Low {i}", "tiers": ["low"], "schedule": "weekly", "weekday": i % 7},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
    with tenant_context(client):
        for policy in PatchPolicy.objects.all():
            for k in range(scale):
                run_policy(policy=policy, occurrence=timezone.now() - timedelta(weeks=k))
    response = admin_http.post(
        "/api/v1/patch-policy-templates/",
        {"name": f"Template {slug}", "tiers": ["critical"], "asset_classes": ["workstation"]},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    policy_template = response.json()["id"]
    response = admin_http.post(
        f"/api/v1/patch-policy-templates/{policy_template}/apply/",
        {"clients": [slug]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    writer = side.http("write_token")
    for _ in range(scale):  # report requests, queued as the API queues them
        response = writer.post(
            f"/clients/{slug}/api/v1/reports/",
            {"kind": "inventory", "period": period},
            content_type="application/json",
        )
        assert response.status_code == 202, response.content
    for i in range(scale):  # uploads, through the API, and one catalogue file by the engineer
        inventory_file = SimpleUploadedFile(f"site-{i}.csv", b"hostname,os_family\npc-9,windows\n")
        response = writer.post(f"/clients/{slug}/api/v1/uploads/", {"file": inventory_file})
        assert response.status_code == 202, response.content
    kev = SimpleUploadedFile("kev.json", b'{"vulnerabilities": []}')
    engineer_http = side.http("engineer")
    response = engineer_http.post("/api/v1/catalogue-uploads/", {"kind": "kev", "file": kev})
    assert response.status_code == 202, response.content
    catalogue_upload = response.json()["id"]
    with tenant_context(client):
        # An RMM webhook (configured in the admin only) and calls queued through its outbox.
        hook = RmmWebhook.objects.create(
            name="RMM", url="http://127.0.0.1:9/hook", secret="k", is_active=False
        )
        for i in range(2 * scale):
            with transaction.atomic():
                WebhookConnector(hook).enqueue("wave.deploy", {"wave": f"w-{i}"}, key=f"{slug}-{i}")
        # A PSA connection (switched off) and a read of its tickets queued through the outbox.
        from integrations import psa

        psa_conn = psa.save_connection(
            data={
                "name": "PSA",
                "kind": "connectwise",
                "base_url": "http://127.0.0.1:9/v4_6_release/apis/3.0",
                "login_company": "msp",
                "api_user": "pub",
                "api_secret": "priv",
                "app_id": "cid",
                "company_ref": "1",
                "closed_status_ref": "2",
                "is_active": False,
            },
            actor="system:test",
        )
        with transaction.atomic():
            psa_message = psa.queue_poll(psa_conn)
    for i in range(scale):  # webhook endpoints of the client, a test delivery to each
        response = admin_http.post(
            f"/clients/{slug}/api/v1/webhooks/",
            {"url": f"https://hooks.example.com/{slug}/{i}", "events": ["rollout.halted"]},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        webhook = response.json()["id"]
        response = admin_http.post(f"/clients/{slug}/api/v1/webhooks/{webhook}/test/")
        assert response.status_code == 202, response.content
        webhook_delivery = response.json()["id"]
    response = admin_http.post(  # and one of the MSP, hearing every client
        "/api/v1/msp-webhooks/",
        {"url": f"https://hooks.example.com/msp/{slug}", "events": ["report.ready"]},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    msp_webhook = response.json()["id"]
    # Exposure monitoring (its plan): a signed feed and alerts, each with its three steps.
    set_plan(client=client, plan=Plan.COMPLIANCE_EXPOSURE)
    response = admin_http.post(
        f"/clients/{slug}/api/v1/exposure-feeds/",
        {"name": "Breach watch", "secret": f"route-feed-secret-{slug}-0123456789"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    exposure_feed = response.json()["id"]
    for i in range(scale):
        response = admin_http.post(
            f"/clients/{slug}/api/v1/exposure-alerts/",
            {
                "email": f"staff-{i}@{slug}.example",
                "source": "Have I Been Pwned",
                "exposed": "password",
                "breach": f"Breach {i}",
            },
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        exposure_alert = response.json()["id"]
    with tenant_context(client):
        first = devices[0].asset
        rollout = Rollout.objects.order_by("pk").first()
        side.ids = {
            "client": slug,
            "agent": devices[0].agent_id,
            "asset": first.uuid,
            "software": InstalledSoftware.objects.filter(asset=first).first().uuid,
            "unknown_device": UnknownDevice.objects.order_by("pk").first().uuid,
            "discovery_run": DiscoveryRun.objects.order_by("-pk").first().uuid,
            "snapshot": InventorySnapshot.objects.order_by("pk").first().uuid,
            "policy": SoftwarePolicy.objects.order_by("pk").first().uuid,
            "finding": first.findings.order_by("pk").first().uuid,
            "ring": Ring.objects.order_by("order").first().uuid,
            "rollout": rollout.uuid,
            "window": MaintenanceWindow.objects.order_by("pk").first().uuid,
            "runbook_check": RunbookCheck.objects.order_by("pk").first().uuid,
            "restore_test": RestoreTest.objects.order_by("pk").first().uuid,
            "exception": exceptions[-1].uuid,
            "privileged_account": checklist.items.order_by("order").first().account.uuid,
            "privileged_issue": PrivilegedAccountIssue.objects.order_by("pk").first().uuid,
            "offboarding": checklist.uuid,
            "offboarding_item": checklist.items.order_by("order").first().uuid,
            "event": EvidenceEvent.objects.order_by("pk").first().uuid,
            "report": StoredReport.objects.order_by("-version").first().uuid,
            "agent_job": AgentJob.objects.filter(wave__rollout=rollout).first().uuid,
            "psa_ticket": PsaTicket.objects.order_by("pk").first().uuid,
            "finding_triage": FindingTriage.objects.order_by("pk").first().uuid,
            "outbox_message": OutboxMessage.objects.order_by("pk").first().uuid,
            "psa_connection": psa_conn.uuid,
            "psa_message": psa_message.uuid,
            "scan_subnet": scan_subnets[0].uuid,
            "report_request": ReportRequest.objects.order_by("pk").first().uuid,
            "report_recipient": ReportRecipient.objects.order_by("pk").first().uuid,
            "upload": FileUpload.objects.filter(client=client).order_by("pk").first().uuid,
            "catalogue_upload": catalogue_upload,
            "patch_policy": PatchPolicy.objects.order_by("pk").first().uuid,
            "policy_template": policy_template,
            "webhook": webhook,
            "webhook_delivery": webhook_delivery,
            "msp_webhook": msp_webhook,
            "exposure_feed": exposure_feed,
            "exposure_alert": exposure_alert,
        }
    record_scorecard(client=client, at=timezone.now())
    return side
