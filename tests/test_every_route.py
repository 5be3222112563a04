"""Every page and API route, by construction.

The routes come from the URLconfs (``tests/routes.py``): the public one and the per-client one that
django-tenants serves under ``/clients/<slug>/``; the OpenAPI document is checked against them.
Each route is either exempt here with its reason or checked for:

* no credentials: 401 (JSON) from the API, a redirect to the sign-in page from a page;
* another client: its principals get a 404 under this client's URL, and this client's URL with
  another client's object id is a 404;
* a missing capability: 403 for every principal whose role lacks what the route asks (and the
  weakest principal holding it is let in); read-only principals are refused every write;
* queries: the count of each GET route does not grow with the data (a small client against a
  client three times its size) and stays at or below ``tests/query_counts.json``
  (``UPDATE_QUERY_COUNTS=1`` rewrites it).

Route parameters are filled from objects of two committed clients built once per module through
the real producers (agents pushing discovery payloads, rollouts run by the rings services with the
agents reporting their jobs, scans, exceptions, snapshots, reports, tickets); the clients are
dropped afterwards. Static files are not routes (WhiteNoise serves them before the URLconf).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import resolve
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.choices import MembershipRole, StaffRole, TokenScope
from tenants.permissions import Capability
from tests import routes
from tests.producers import Device, all_day_window, load_catalogue, push_api, roll_out, scan

V, OP, AD, R, S, P = (
    Capability.VIEW,
    Capability.OPERATE,
    Capability.ADMINISTER,
    Capability.REPORTS,
    Capability.SIGN,
    Capability.PUSH_DISCOVERY,
)
BASELINE = Path(__file__).with_name("query_counts.json")
UPDATE_BASELINE = os.environ.get("UPDATE_QUERY_COUNTS") == "1"

# Routes that answer without credentials on purpose, or are no client data at all.
EXEMPT = {
    "accounts/login/": "the sign-in page answers everyone",
    "accounts/logout/": "signing out needs no session",
    "health/": "the load balancer's health check answers without credentials",
    "api/schema/": "the OpenAPI document is public",
    "api/docs/": "the API documentation page is public",
}
EXEMPT_PREFIXES = {"admin/": "Django's admin site: its own staff sign-in, no client data"}
# API routes the OpenAPI document does not list (format-suffix aliases ``….<format>`` neither).
NOT_IN_SCHEMA = {"api/v1/": "the browsable API root lists links, it is no operation"}

# What fills each URL parameter, by "<resource segment>:<parameter>": an object of the client
# (looked up in ``Side.ids``) or a constant.
PARAMS: dict[str, str] = {
    "clients:slug": "client",
    "vulnerabilities:cve": "cve",
    "kev-entries:cve": "cve",
    "advisories:id": "advisory",
    "assets:uuid": "asset",
    "software:uuid": "software",
    "unknown-devices:uuid": "unknown_device",
    "discovery-runs:uuid": "discovery_run",
    "snapshots:uuid": "snapshot",
    "software-policies:uuid": "policy",
    "policies:uuid": "policy",
    "findings:id": "finding",
    "findings:uuid": "finding",
    "rings:id": "ring",
    "rollouts:id": "rollout",
    "rollouts:pk": "rollout",
    "maintenance-windows:id": "window",
    "runbook-checks:id": "runbook_check",
    "exceptions:uuid": "exception",
    "evidence:uuid": "event",
    "reports:uuid": "report",
    "agent-jobs:id": "agent_job",
    "psa-tickets:id": "psa_ticket",
    "outbox-messages:id": "outbox_message",
    "outbox:pk": "outbox_message",
    "report-requests:uuid": "report_request",
    "requests:uuid": "report_request",
}
CONSTANTS: dict[str, str] = {"snapshots:kind": "csv", "*:format": "json"}
# Query strings a route cannot be called without (``{name}`` from ``Side.ids``).
QUERIES = {"clients/<slug>/api/v1/agent-jobs/": "agent_id={agent}"}
# Reference data shared by every client: not "another client's object".
SHARED_OBJECTS = {"cve", "advisory"}

# The role table as the README states it (the test's own copy, not the engine's).
PRINCIPALS: dict[str, tuple[str, frozenset[Capability]]] = {
    "viewer": ("session", frozenset({V, R})),
    "account_manager": ("session", frozenset({V, R})),
    "owner": ("session", frozenset({V, R, S})),
    "engineer": ("session", frozenset({V, OP, R})),
    "admin": ("session", frozenset({V, OP, AD, R})),
    "read_token": ("token", frozenset({V, R})),
    "write_token": ("token", frozenset({V, OP, R})),
    "agent_token": ("token", frozenset({P})),
}
READ_ONLY = ("viewer", "read_token")
# Writes the permission layer lets a read-only principal send: the route decides further down
# (these calls carry no valid body, so never a 2xx here).
READ_ROLE_WRITES = {
    ("clients/<slug>/api/v1/rollouts/preview/", "POST"): "a preview reads, it changes nothing",
    ("clients/<slug>/api/v1/rollouts/<id>/approve/", "POST"): "the ring's approver role decides",
    ("clients/<slug>/rollouts/<pk>/approve/", "POST"): "the ring's approver role decides",
    ("clients/<slug>/api/v1/reports/", "POST"): "MSP staff and write tokens queue reports",
    ("clients/<slug>/reports/", "POST"): "MSP staff queue reports",
    ("clients/<slug>/exceptions/export.pdf", "POST"): "MSP staff queue reports",
    ("clients/<slug>/api/v1/report-requests/<uuid>/retry/", "POST"): "MSP staff queue reports",
    ("clients/<slug>/reports/requests/<uuid>/retry/", "POST"): "MSP staff queue reports",
}
# The only client API routes an agent token reaches.
AGENT_ROUTES = {
    "clients/<slug>/api/v1/discovery/",
    "clients/<slug>/api/v1/agent-jobs/",
    "clients/<slug>/api/v1/agent-jobs/<id>/result/",
}


def exemption(route: routes.Route) -> str | None:
    if route.key in EXEMPT:
        return EXEMPT[route.key]
    for prefix, reason in EXEMPT_PREFIXES.items():
        if route.key.startswith(prefix):
            return reason
    return None


def param_source(route: routes.Route, param: str) -> tuple[str, str] | None:
    """("object", resource) or ("constant", value) for a parameter, None when none is known."""
    segment = route.segment_of(param)
    for key in (f"{segment}:{param}", f"*:{param}"):
        if key in PARAMS:
            return "object", PARAMS[key]
        if key in CONSTANTS:
            return "constant", CONSTANTS[key]
    return None


ALL_ROUTES = routes.all_routes()
CHECKED = [
    r
    for r in ALL_ROUTES
    if exemption(r) is None and r.methods and all(param_source(r, p) for p in r.params)
]


def _ids(routes_: list[routes.Route]) -> list[str]:
    return [r.key for r in routes_]


def _client_objects(route: routes.Route) -> list[str]:
    return [
        p
        for p in route.params
        if param_source(route, p)[0] == "object" and param_source(route, p)[1] not in SHARED_OBJECTS
    ]


CLIENT_ROUTES = [r for r in CHECKED if r.in_client]
WITH_CLIENT_OBJECTS = [r for r in CHECKED if _client_objects(r)]
GET_ROUTES = [r for r in CHECKED if "GET" in r.methods]


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
    http.force_login(user)
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
    from findings.models import Finding
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
    from reports.models import ReportRequest, StoredReport
    from rings.models import MaintenanceWindow, Ring, Rollout, RunbookCheck
    from scorecards.services import record_scorecard
    from tenants.services import add_membership, create_client, issue_api_token
    from tests.exceptions_register.factories import make_exception, sign

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
        for k in range(scale):
            findings = list(Finding.objects.filter(patch_identifier=kbs[k]).order_by("pk"))
            roll_out(findings, engineer=engineer, agent_http=agent, slug=slug, fail={"WS-01"})
        for k in range(scale, 2 * scale):  # rollouts whose jobs wait for their agents
            findings = list(Finding.objects.filter(patch_identifier=kbs[k]).order_by("pk"))
            queue_rollout(findings, engineer=engineer)
        scan(_scan_hosts(scale), actor=engineer)
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
    period = timezone.localdate(timezone=client.tz).strftime("%Y-%m")
    for _ in range(scale):  # versions 1…scale of this month's inventory report
        call_command("generate_report", slug, kind="inventory", period=period, stdout=StringIO())
    for i in range(2 * scale):
        for path, body in (
            ("software-policies/", {"name_pattern": f"Vendor {i} *", "is_supported": i % 2 == 0}),
            ("runbook-checks/", {"name": f"Check {i}", "order": i, "is_active": False}),
        ):
            response = admin_http.post(
                f"/clients/{slug}/api/v1/{path}", body, content_type="application/json"
            )
            assert response.status_code == 201, response.content
    writer = side.http("write_token")
    for _ in range(scale):  # report requests, queued as the API queues them
        response = writer.post(
            f"/clients/{slug}/api/v1/reports/",
            {"kind": "inventory", "period": period},
            content_type="application/json",
        )
        assert response.status_code == 202, response.content
    with tenant_context(client):
        # An RMM webhook (configured in the admin only) and calls queued through its outbox.
        hook = RmmWebhook.objects.create(
            name="RMM", url="http://127.0.0.1:9/hook", secret="k", is_active=False
        )
        for i in range(2 * scale):
            with transaction.atomic():
                WebhookConnector(hook).enqueue("wave.deploy", {"wave": f"w-{i}"}, key=f"{slug}-{i}")
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
            "exception": exceptions[-1].uuid,
            "event": EvidenceEvent.objects.order_by("pk").first().uuid,
            "report": StoredReport.objects.order_by("-version").first().uuid,
            "agent_job": AgentJob.objects.filter(wave__rollout=rollout).first().uuid,
            "psa_ticket": PsaTicket.objects.order_by("pk").first().uuid,
            "outbox_message": OutboxMessage.objects.order_by("pk").first().uuid,
            "report_request": ReportRequest.objects.order_by("pk").first().uuid,
        }
    record_scorecard(client=client, at=timezone.now())
    return side


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    """Two committed clients (the second three times the first), dropped afterwards."""
    from catalogue.models import (
        Advisory,
        AdvisoryFix,
        CatalogueImport,
        EpssScore,
        KevEntry,
        Vulnerability,
    )
    from catalogue.signals import catalogue_changed
    from tenants.models import Client, User

    tag = uuid.uuid4().hex[:6]
    media = override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("route-media")))
    media.enable()
    folder = tmp_path_factory.mktemp("route-catalogue")
    # Committed imports must not queue a re-match of every client.
    receivers = catalogue_changed.receivers
    catalogue_changed.receivers = []
    catalogue_changed.sender_receivers_cache.clear()
    sides: list[Side] = []

    def clean_up() -> None:
        connection.set_schema_to_public()
        KevEntry.objects.filter(cve_id__in=CVES).delete()
        Vulnerability.objects.filter(cve_id__in=CVES).delete()
        EpssScore.objects.filter(cve_id__in=CVES).delete()
        for client in Client.objects.filter(slug__startswith=f"routes-{tag}-"):
            client.delete(force_drop=True)
        # Findings (in the dropped schemas) pointed at these advisories: no cascade to collect.
        ours = Advisory.objects.filter(identifier__startswith="RLSA-2031-")
        AdvisoryFix.objects.filter(advisory__in=ours)._raw_delete(using="default")
        ours._raw_delete(using="default")
        CatalogueImport.objects.filter(pk__gt=last_import or 0).delete()

    with django_db_blocker.unblock():
        last_import = CatalogueImport.objects.order_by("-pk").values_list("pk", flat=True).first()
        try:
            import_catalogue(folder / "base", CVES[:4])
            admin = User.objects.get(email="admin@msp.test")
            engineer = User.objects.get(email="engineer@msp.test")
            am = _user("am@routes.test", StaffRole.ACCOUNT_MANAGER)
            staff = {
                "admin": _session(admin),
                "engineer": _session(engineer),
                "account_manager": _session(am),
            }
            for name, scale in (("small", 1), ("big", 3)):
                sides.append(
                    build_side(f"routes-{tag}-{name}", scale, engineer=engineer, staff=staff)
                )
            sides[0].client.account_managers.add(am)
            cve = CVES[0]
            advisory = Advisory.objects.get(identifier=f"RLSA-{cve[4:]}").uuid
            for side in sides:
                side.ids.update(cve=cve, advisory=advisory)
        except BaseException:
            clean_up()
            raise
        finally:
            catalogue_changed.receivers = receivers
            catalogue_changed.sender_receivers_cache.clear()
            connection.set_schema_to_public()
    yield World(small=sides[0], big=sides[1], catalogue_folder=folder)
    with django_db_blocker.unblock():
        clean_up()
        connection.close()
    media.disable()


@pytest.fixture
def w(world, db) -> World:
    """The world inside this test's transaction (what a test writes is rolled back)."""
    return world


# --- requests ------------------------------------------------------------------------------------


def call(http: HttpClient, route: routes.Route, method: str, url: str) -> Any:
    if route.is_api:
        return http.generic(method, url, b"{}", content_type="application/json")
    if method == "GET":
        return http.get(url)
    return http.generic(method, url, b"", content_type="application/x-www-form-urlencoded")


def drain(response: Any) -> None:
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)


def is_json(response: Any) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def holds(principal: str, capability: Capability) -> bool:
    return capability in PRINCIPALS[principal][1]


def pool(route: routes.Route) -> list[str]:
    """Principals that may call the route's kind: pages take sessions, the API both."""
    return [p for p, (kind, _) in PRINCIPALS.items() if route.is_api or kind == "session"]


# --- the routes themselves ------------------------------------------------------------------------


def test_every_route_is_checked_or_exempt_with_a_reason():
    problems = []
    for route in ALL_ROUTES:
        if exemption(route):
            continue
        if not route.methods:
            problems.append(f"{route}: answers no HTTP method")
        for param in route.params:
            if param_source(route, param) is None:
                segment = route.segment_of(param)
                problems.append(
                    f"{route}: nothing fills <{param}>; add '{segment}:{param}' to PARAMS"
                )
    keys = {r.key for r in ALL_ROUTES}
    problems += [f"exempt route {k!r} no longer exists" for k in EXEMPT if k not in keys]
    problems += [f"{k!r} in NOT_IN_SCHEMA no longer exists" for k in NOT_IN_SCHEMA if k not in keys]
    problems += [f"{k!r} in AGENT_ROUTES no longer exists" for k in AGENT_ROUTES if k not in keys]
    by_key = {r.key: r for r in ALL_ROUTES}
    for key, method in READ_ROLE_WRITES:
        route = by_key.get(key)
        if route is None or method not in route.methods:
            problems.append(f"READ_ROLE_WRITES names {method} {key}, which is no route")
        elif route.capability(method) not in (V, R):
            problems.append(f"READ_ROLE_WRITES: {method} {key} needs more than reading now")
    assert not problems, "\n".join(problems)
    assert len(CHECKED) > 100 and CLIENT_ROUTES and WITH_CLIENT_OBJECTS and GET_ROUTES


def test_the_openapi_document_and_the_urlconf_list_the_same_api():
    operations = routes.schema_operations()
    served = {
        (r.key, m)
        for r in CHECKED
        if r.is_api and "format" not in r.params and r.key not in NOT_IN_SCHEMA
        for m in r.methods
    }
    assert sorted(operations - served) == [], "documented but not served (or exempt)"
    assert sorted(served - operations) == [], "served but not in the OpenAPI document"


# --- 401 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", CHECKED, ids=_ids(CHECKED))
def test_no_credentials_is_refused(w, route):
    url = w.small.url(route)
    path = url.split("?", 1)[0]
    path = path.split(f"/clients/{w.small.slug}", 1)[-1] if route.in_client else path
    urlconf = settings.ROOT_URLCONF if route.in_client else settings.PUBLIC_SCHEMA_URLCONF
    match = resolve(path, urlconf=urlconf)
    assert match.func.__name__ == route.view.__name__ or match.view_name == route.name, url
    for method in route.methods:
        response = call(w.small.http(None), route, method, url)
        if route.is_api:
            assert response.status_code == 401, (method, url, response.status_code)
            assert is_json(response), (method, url)
            bogus = HttpClient(HTTP_AUTHORIZATION="Bearer po_not-a-real-token")
            assert call(bogus, route, method, url).status_code == 401, (method, url)
        else:
            assert response.status_code == 302, (method, url, response.status_code)
            assert response["Location"].startswith(settings.LOGIN_URL), (method, url)


# --- 404 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", CLIENT_ROUTES, ids=_ids(CLIENT_ROUTES))
def test_another_clients_principals_get_404(w, route):
    """The big client's owner and token cannot see the small client at all."""
    url = w.small.url(route)
    strangers = ["owner"] + (["read_token", "agent_token"] if route.is_api else [])
    for method in route.methods:
        for principal in strangers:
            response = call(w.big.http(principal), route, method, url)
            assert response.status_code == 404, (principal, method, url, response.status_code)
            if route.is_api:
                assert is_json(response), (principal, method, url)


def _holder(route: routes.Route, capability: Capability | None) -> str:
    """A principal of this client holding the capability (MSP admin when it may)."""
    if capability is None:
        return "owner"  # outside a client: the owner sees only its own client
    for principal in ("admin", "owner", "agent_token"):
        if principal in pool(route) and holds(principal, capability):
            return principal
    raise AssertionError(f"no principal holds {capability} for {route}")


@pytest.mark.parametrize("route", WITH_CLIENT_OBJECTS, ids=_ids(WITH_CLIENT_OBJECTS))
def test_another_clients_object_is_404(w, route):
    """This client's URL with the other client's object ids: 404, whatever the method."""
    url = w.small.url(route, objects=w.big)
    assert url != w.small.url(route)
    for method in route.methods:
        principal = _holder(route, route.capability(method))
        response = call(w.small.http(principal), route, method, url)
        assert response.status_code == 404, (principal, method, url, response.status_code)
        if route.is_api:
            assert is_json(response), (principal, method, url)


# --- 403 ------------------------------------------------------------------------------------------


CAPABILITY_ROUTES = [r for r in CHECKED if r.in_client or r.is_api]


@pytest.mark.parametrize("route", CAPABILITY_ROUTES, ids=_ids(CAPABILITY_ROUTES))
def test_a_missing_capability_is_403(w, route):
    url = w.small.url(route)
    for method in route.methods:
        capability = route.capability(method)
        if capability is None:
            # Outside a client: any signed-in principal, except agent tokens (discovery only).
            refused = ["agent_token"] if route.is_api else []
            admitted = ["viewer"] if method == "GET" else []
        else:
            refused = [p for p in pool(route) if not holds(p, capability)]
            weakest = [p for p in pool(route) if holds(p, capability)]
            admitted = weakest[:1] if method == "GET" else []
            if method != "GET" and (route.key, method) not in READ_ROLE_WRITES:
                assert capability not in (V, R), (
                    f"{method} {route} is a write that needs {capability}"
                )
                refused += [p for p in READ_ONLY if p in pool(route) and p not in refused]
            if route.is_api and route.key not in AGENT_ROUTES:
                assert "agent_token" in refused, f"{route}: an agent token must not reach it"
        for principal in refused:
            response = call(w.small.http(principal), route, method, url)
            assert response.status_code == 403, (principal, method, url, response.status_code)
            if route.is_api:
                assert is_json(response), (principal, method, url)
        for principal in admitted:
            response = call(w.small.http(principal), route, method, url)
            drain(response)
            assert response.status_code == 200, (principal, method, url, response.status_code)
        if (route.key, method) in READ_ROLE_WRITES:
            for principal in READ_ONLY:
                if principal in pool(route):
                    response = call(w.small.http(principal), route, method, url)
                    status = response.status_code
                    # The API refuses (4xx); a page answers with its form's redirect and message.
                    redirect = status == 302 and not route.is_api
                    assert redirect or 400 <= status < 500, (principal, method, url, status)
                    if redirect:
                        assert not response["Location"].startswith(settings.LOGIN_URL)


# --- query counts -------------------------------------------------------------------------------


_measured: dict[str, int] = {}


@dataclass
class Measured:
    status: int
    queries: list[str]

    @property
    def count(self) -> int:
        return len(self.queries)


def _measure(http: HttpClient, url: str) -> Measured:
    with CaptureQueriesContext(connection) as captured:
        response = http.get(url)
        drain(response)
    return Measured(response.status_code, [q["sql"] for q in captured.captured_queries])


def _grown(small: Measured, big: Measured) -> str:
    """The statements the big data set ran more often (literals folded), for the message."""
    shape = Counter(re.sub(r"'[^']*'|\b\d+\b", "?", q) for q in small.queries)
    more = Counter(re.sub(r"'[^']*'|\b\d+\b", "?", q) for q in big.queries) - shape
    return "\n".join(f"  +{n} × {sql[:300]}" for sql, n in more.most_common(5))


def _grow_public_data(w: World) -> None:
    """More clients for the account manager, more catalogue entries (rolled back)."""
    w.big.client.account_managers.add(
        *w.small.client.account_managers.filter(email="am@routes.test")
    )
    import_catalogue(w.catalogue_folder / "more", CVES[4:])
    connection.set_schema_to_public()


@pytest.mark.parametrize("route", GET_ROUTES, ids=_ids(GET_ROUTES))
def test_query_count_does_not_grow_with_the_data(w, route, query_baseline):
    if route.in_client:
        principal = _holder(route, route.capability("GET"))
        small = _measure(w.small.http(principal), w.small.url(route))
        big = _measure(w.big.http(principal), w.big.url(route))
    else:
        small = _measure(w.small.http("account_manager"), w.small.url(route))
        _grow_public_data(w)
        big = _measure(w.small.http("account_manager"), w.small.url(route))
    assert small.status == big.status == 200, (route.key, small.status, big.status)
    assert big.count <= small.count, (
        f"{route}: {small.count} queries with the small data set, {big.count} with the big one:\n"
        + _grown(small, big)
    )
    count = max(small.count, big.count)
    if route.in_client and holds("owner", route.capability("GET")):
        # The client's own people see other branches of the same pages (sign-off, portal).
        owner_small = _measure(w.small.http("owner"), w.small.url(route))
        owner_big = _measure(w.big.http("owner"), w.big.url(route))
        assert owner_small.status == owner_big.status == 200, route.key
        assert owner_big.count <= owner_small.count, (
            f"{route} (client owner): {owner_small.count} queries with the small data set, "
            f"{owner_big.count} with the big one:\n" + _grown(owner_small, owner_big)
        )
    if UPDATE_BASELINE:
        _measured[route.key] = count
        return
    assert route.key in query_baseline, f"{route}: no baseline; run with UPDATE_QUERY_COUNTS=1"
    assert count <= query_baseline[route.key], (
        f"{route}: {count} queries, the baseline is {query_baseline[route.key]}"
    )


@pytest.fixture(scope="module")
def query_baseline() -> Iterator[dict[str, int]]:
    stored = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    yield stored
    if UPDATE_BASELINE and _measured:
        with open(BASELINE, "a+") as handle, contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            text = handle.read()
            merged = json.loads(text) if text.strip() else {}
            merged.update(_measured)
            keys = {r.key for r in GET_ROUTES}
            merged = {k: v for k, v in sorted(merged.items()) if k in keys}
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(merged, indent=2) + "\n")


def test_the_baseline_names_only_existing_routes():
    if UPDATE_BASELINE:
        pytest.skip("UPDATE_QUERY_COUNTS=1 rewrites the baseline (and drops routes that are gone)")
    stored = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    stale = sorted(set(stored) - {r.key for r in GET_ROUTES})
    assert not stale, f"query_counts.json lists routes that are gone: {stale}"
