"""Every class of bad input against every API write operation: a 4xx JSON answer, nothing written.

The operations come from the OpenAPI document the API serves (so a new endpoint is covered the
day it is added). Objects the operations name are built through the real producers: devices
report through ingest, a rollout runs through the rings services, an exception through the
register's services, a window through the API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django_tenants.utils import tenant_context
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenants.choices import TokenScope
from tests import producers
from tests.exceptions_register.factories import make_exception
from tests.mfa import sign_in

pytestmark = pytest.mark.django_db

SLUG = "tenant-a"
WRITE_METHODS = ("post", "put", "patch")
AGENT_PATHS = ("/discovery/", "/agent-jobs/")
# Path parameter → the seeded object's resource (the path segment before it).
ID_PARAMETERS = ("id", "uuid", "pk")


def _schema() -> dict[str, Any]:
    generated = SchemaGenerator(urlconf="patchops.urls_schema").get_schema(
        request=None, public=True
    )
    return json.loads(OpenApiJsonRenderer().render(generated))


SCHEMA = _schema()


def _write_operations() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in SCHEMA["paths"].items():
        for method in WRITE_METHODS:
            if method in item:
                found.append((method, path, item[method]))
    return found


OPERATIONS = _write_operations()


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        node = SCHEMA["components"]["schemas"][name]
    if "allOf" in node and len(node["allOf"]) == 1:
        return _resolve(node["allOf"][0])
    return node


def _request_properties(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    content = (operation.get("requestBody") or {}).get("content", {})
    body = content.get("application/json", {}).get("schema")
    if not body:
        return {}
    return {k: _resolve(v) for k, v in _resolve(body).get("properties", {}).items()}


def _table_rows() -> dict[str, int]:
    """Rows of every table in the public schema and tenant A's schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('public', %s) AND table_type = 'BASE TABLE'",
            [connection.schema_name],
        )
        tables = cursor.fetchall()
        counts = ", ".join(f'(SELECT count(*) FROM "{s}"."{t}")' for s, t in tables)
        cursor.execute(f"SELECT {counts}")
        return dict(zip((f"{s}.{t}" for s, t in tables), cursor.fetchone(), strict=True))


def _finding_model() -> Any:
    from findings.models import Finding

    return Finding


def _seed_ids(tenant: Any, personas: Any, http: Any) -> dict[str, str]:
    """One of each object an operation can name, built by the producers."""
    from evidence.models import EvidenceEvent
    from integrations.models import AgentJob
    from inventory.models import InstalledSoftware, UnknownDevice
    from rings.models import MaintenanceWindow, Ring, RunbookCheck
    from rings.services import schedule_restore_test

    producers.all_day_window(http)
    policy = http.post(
        f"/clients/{SLUG}/api/v1/software-policies/",
        json.dumps({"name_pattern": "Adobe Flash*", "is_supported": False}),
        content_type="application/json",
    )
    assert policy.status_code == 201, policy.content
    patch_policy = http.post(
        f"/clients/{SLUG}/api/v1/patch-policies/",
        json.dumps({"name": "Critical", "tiers": ["critical"]}),
        content_type="application/json",
    )
    assert patch_policy.status_code == 201, patch_policy.content
    template = http.post(
        "/api/v1/patch-policy-templates/",
        json.dumps({"name": "Critical", "tiers": ["critical"]}),
        content_type="application/json",
    )
    assert template.status_code == 201, template.content
    recipient = http.post(
        f"/clients/{SLUG}/api/v1/report-recipients/",
        json.dumps({"name": "Dana", "email": "dana@a.test", "kinds": ["monthly"]}),
        content_type="application/json",
    )
    assert recipient.status_code == 201, recipient.content
    # Exposure monitoring comes with its plan.
    from tenants.services import set_plan

    set_plan(client=tenant, plan="compliance_exposure")
    created = {}
    for resource, url, body in [
        (
            "exposure-feeds",
            f"/clients/{SLUG}/api/v1/exposure-feeds/",
            {"name": "Breach watch", "secret": "feed-signing-secret-0123456789"},
        ),
        (
            "exposure-alerts",
            f"/clients/{SLUG}/api/v1/exposure-alerts/",
            {
                "email": "robin@a.test",
                "source": "Have I Been Pwned",
                "exposed": "password",
                "breach": "Example breach",
            },
        ),
        (
            "webhooks",
            f"/clients/{SLUG}/api/v1/webhooks/",
            {"url": "https://hooks.example.com/a", "events": ["rollout.halted"]},
        ),
        (
            "msp-webhooks",
            "/api/v1/msp-webhooks/",
            {"url": "https://hooks.example.com/msp", "events": ["report.ready"]},
        ),
        (
            "privileged-accounts",
            f"/clients/{SLUG}/api/v1/privileged-accounts/",
            {
                "kind": "shared_admin",
                "name": "Domain admin",
                "identifier": "CORP\\admin",
                "owner_name": "Robin Ops",
                "owner_email": "robin@a.test",
                "known_by": ["alex@a.test"],
                "systems": [],
                "mfa_state": "enforced",
            },
        ),
        (
            "offboarding-checklists",
            f"/clients/{SLUG}/api/v1/offboarding-checklists/",
            {"person_email": "robin@a.test"},
        ),
        (
            "psa-connections",
            f"/clients/{SLUG}/api/v1/psa-connections/",
            {
                "name": "ConnectWise",
                "kind": "connectwise",
                "base_url": "https://na.myconnectwise.net/v4_6_release/apis/3.0",
                "login_company": "acme",
                "api_user": "public-key",
                "api_secret": "private-key-0123456789",
                "app_id": "client-id",
                "company_ref": "19298",
                "closed_status_ref": "562",
                "webhook_secret": "signing-key-abcdef",
                "is_active": False,
            },
        ),
    ]:
        response = http.post(url, json.dumps(body), content_type="application/json")
        assert response.status_code == 201, (resource, response.content)
        created[resource] = response.json()["id"]
    with tenant_context(tenant):
        devices = [
            producers.Device(f"ws-{n:02d}").missing_kb("KB5030001", cves=["CVE-2024-30001"])
            for n in range(3)
        ]
        producers.push(devices)
        producers.scan([{"status": "up", "ip": "10.9.9.40", "mac": "AA:BB:CC:09:09:40"}])
        findings = list(_finding_model().objects.order_by("id"))
        rollout = producers.roll_out(findings[:1], engineer=personas.engineer)
        exception = make_exception(client=tenant, approver=personas.owner_a)
        server = producers.Device("fs-00", os="windows_server")
        producers.push(server)
        restore_test = schedule_restore_test(
            asset=server.asset,
            scheduled_for=date.today(),
            what="File share VM",
            actor=personas.engineer,
        )
        found = {
            "assets": devices[0].asset.uuid,
            "findings": findings[-1].uuid,
            "rings": Ring.objects.values_list("uuid", flat=True).first(),
            "rollouts": rollout.uuid,
            "exceptions": exception.uuid,
            "maintenance-windows": MaintenanceWindow.objects.values_list("uuid", flat=True).first(),
            "runbook-checks": RunbookCheck.objects.values_list("uuid", flat=True).first(),
            "restore-tests": restore_test.uuid,
            "evidence": EvidenceEvent.objects.values_list("uuid", flat=True).first(),
            "software": InstalledSoftware.objects.values_list("uuid", flat=True).first(),
            "agent-jobs": AgentJob.objects.values_list("uuid", flat=True).first(),
            "software-policies": policy.json()["id"],
            "patch-policies": patch_policy.json()["id"],
            "patch-policy-templates": template.json()["id"],
            "report-recipients": recipient.json()["id"],
            "unknown-devices": UnknownDevice.objects.values_list("uuid", flat=True).first(),
            **created,
        }
    return {key: str(value) for key, value in found.items() if value}


def _url(path: str, ids: dict[str, str]) -> str:
    url = path.replace("{client_slug}", SLUG)
    for name in ID_PARAMETERS:
        marker = "{" + name + "}"
        if marker in url:
            resource = url.split("/api/v1/", 1)[1].split("/", 1)[0]
            url = url.replace(marker, ids.get(resource, "00000000-0000-4000-8000-000000000000"))
    return url


class Caller:
    """Sends one raw body to one operation as someone allowed to call it (an MSP admin's
    session; the agent token on agent routes) and records every answer that is not a 4xx JSON
    error or that wrote anything."""

    def __init__(self, http: Any, agent_token: str, tenant: Any) -> None:
        self.http = http
        self.http.raise_request_exception = False
        self.agent_token = agent_token
        self.tenant = tenant
        self.failures: list[str] = []

    def send(
        self, method: str, path: str, url: str, body: bytes, label: str, *, status: int = 0
    ) -> Any:
        headers = {}
        if any(marker in path for marker in AGENT_PATHS):
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.agent_token}"
        with tenant_context(self.tenant):
            before = _table_rows()
        response = getattr(self.http, method)(url, body, content_type="application/json", **headers)
        with tenant_context(self.tenant):
            after = _table_rows()
        where = f"{method.upper()} {path} [{label}]"
        if status and response.status_code != status:
            self.failures.append(f"{where}: {response.status_code}, not {status}")
        elif not 400 <= response.status_code < 500 or response.status_code in (401, 403):
            self.failures.append(f"{where}: {response.status_code}")
        elif not response["Content-Type"].startswith("application/json"):
            self.failures.append(f"{where}: {response['Content-Type']}")
        elif not isinstance(response.json(), dict):
            self.failures.append(f"{where}: no message")
        changed = {k: (before[k], after[k]) for k in before if before[k] != after.get(k)}
        if changed:
            self.failures.append(f"{where}: wrote {changed}")
        return response


@pytest.fixture
def caller(tenant_a, personas, http, make_token) -> Iterator[Caller]:
    _, agent = make_token(TokenScope.AGENT, tenant_a, name="bad-input-agent")
    sign_in(http, personas.msp_admin)
    yield Caller(http, agent, tenant_a)


def _takes_body(operation: dict[str, Any]) -> bool:
    return "application/json" in (operation.get("requestBody") or {}).get("content", {})


def _nested(depth: int) -> bytes:
    return b'{"name": ' + b"[" * depth + b"1" + b"]" * depth + b"}"


# Each class of malformed document, whatever the operation expects.
MALFORMED: dict[str, bytes] = {
    "nested 40 deep": _nested(40),
    "nested 100,000 deep": _nested(100_000),
    "lone surrogate": b'{"name": "ok\\ud800", "reason": "\\udfff"}',
    "NUL in a string": b'{"name": "a\\u0000b", "reason": "a\\u0000b"}',
    "NUL in a key": b'{"na\\u0000me": "x"}',
    "5000-digit number": b'{"name": "x", "soak_hours": ' + b"9" * 5000 + b"}",
    "number past 64 bits": b'{"name": "x", "soak_hours": 9223372036854775808}',
    "1e999": b'{"name": "x", "soak_hours": 1e999}',
    "NaN": b'{"name": "x", "soak_hours": NaN}',
    "-Infinity": b'{"name": "x", "soak_hours": -Infinity}',
    "not UTF-8": b'{"name": "\xff\xfe"}',
}


# Operations whose caller is proven by the sender's signature, not by a session or token: an
# unsigned document is refused (403) before it is read, whatever is in it.
SIGNED_BY_SENDER = {
    "/clients/{client_slug}/api/v1/psa-connections/{id}/inbound/": (
        "the PSA's webhook (tests/integrations/test_psa_connectors.py checks its refusals)"
    ),
    "/clients/{client_slug}/api/v1/exposure-feeds/{id}/inbound/": (
        "an exposure feed's webhook (tests/exposure/test_exposure_triage.py checks its refusals)"
    ),
}


def test_malformed_documents_are_refused_by_every_write_operation(
    caller, tenant_a, personas, http
) -> None:
    ids = _seed_ids(tenant_a, personas, http)
    for method, path, operation in OPERATIONS:
        if not _takes_body(operation) or path in SIGNED_BY_SENDER:
            continue
        for label, body in MALFORMED.items():
            caller.send(method, path, _url(path, ids), body, label)
    assert caller.failures == [], "\n".join(caller.failures)


@override_settings(
    API_MAX_BODY_BYTES=4096,
    DISCOVERY_MAX_BYTES=4096,
    REQUEST_MAX_BODY_BYTES=8192,
    UPLOAD_MAX_BYTES=8192,
)
def test_bodies_over_the_limit_answer_413_json(caller, tenant_a, personas, http) -> None:
    ids = _seed_ids(tenant_a, personas, http)
    just_over = b'{"name": "' + b"x" * 4200 + b'"}'
    far_over = b'{"name": "' + b"x" * 9000 + b'"}'
    for method, path, operation in OPERATIONS:
        if _takes_body(operation):
            caller.send(method, path, _url(path, ids), just_over, "over the API limit", status=413)
        caller.send(method, path, _url(path, ids), far_over, "over every limit", status=413)
    assert caller.failures == [], "\\n".join(caller.failures)


def _bounded(prop: dict[str, Any]) -> bool:
    kind = prop.get("type")
    if "enum" in prop or kind not in ("string", "integer"):
        return True
    if kind == "string":
        return (
            "maxLength" in prop
            or prop.get("format")
            in {
                "uuid",
                "date-time",
                "date",
                "time",
                "email",
                "uri",
                "ipv4",
                "ipv6",
                "binary",
            }
            or (prop.get("format") == "decimal" and "pattern" in prop)
        )
    return "maximum" in prop and "minimum" in prop


def test_every_string_and_integer_a_client_writes_has_a_bound() -> None:
    """By construction: the schema names a maximum length for every free string and a range for
    every integer in every request body, so nothing reaches a column it does not fit."""
    unbounded = []
    for method, path, operation in OPERATIONS:
        for name, prop in _request_properties(operation).items():
            items = _resolve(prop.get("items", {})) if prop.get("type") == "array" else None
            for field_name, field in ((name, prop), (f"{name}[]", items)):
                if field and not _bounded(field):
                    unbounded.append(f"{method.upper()} {path}: {field_name} {field}")
    assert unbounded == [], "\n".join(unbounded)


def test_values_past_their_bound_are_refused_by_name(caller, tenant_a, personas, http) -> None:
    """One past each declared bound (length or range): 400 naming the field, nothing written."""
    ids = _seed_ids(tenant_a, personas, http)
    for method, path, operation in OPERATIONS:
        for name, prop in _request_properties(operation).items():
            if prop.get("readOnly"):
                continue
            if prop.get("type") == "string" and "maxLength" in prop:
                values = ["x" * (prop["maxLength"] + 1)]
            elif prop.get("type") == "integer" and "maximum" in prop:
                values = [prop["maximum"] + 1, prop.get("minimum", 0) - 1]
            else:
                continue
            for value in values:
                label = f"{name}={str(value)[:12]}"
                body = json.dumps({name: value}).encode()
                answer = caller.send(method, path, _url(path, ids), body, label)
                if answer.status_code == 400 and name not in json.dumps(answer.json()):
                    caller.failures.append(f"{method.upper()} {path} [{label}]: {answer.json()}")
    assert caller.failures == [], "\n".join(caller.failures)


# --- the same, generated: any document with one bad value anywhere ---------------------------

_BAD_VALUES = st.sampled_from(
    ['"\\ud83d"', '"x\\u0000"', "NaN", "Infinity", "1e400", "9" * 30, "-" + "9" * 25]
)
_KEYS = st.sampled_from(["name", "reason", "hostname", "packages", "soak_hours", "notes", "x"])


@st.composite
def _documents_with_one_bad_value(draw: Any) -> bytes:
    """A random JSON object with one malformed value placed at a random depth."""
    text = draw(_BAD_VALUES)
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        if draw(st.booleans()):
            text = "[" + text + "]"
        else:
            text = "{" + json.dumps(draw(_KEYS)) + ": " + text + "}"
    fine = draw(st.dictionaries(_KEYS, st.text(max_size=5) | st.integers(0, 9), max_size=3))
    key = draw(_KEYS)
    rest = json.dumps(fine)[1:-1]
    return ("{" + json.dumps(key) + ": " + text + (", " + rest if rest else "") + "}").encode()


BODY_OPERATIONS = [op for op in OPERATIONS if _takes_body(op[2])]


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    BODY_OPERATIONS,
    ids=[f"{m.upper()} {p}" for m, p, _ in BODY_OPERATIONS],
)
def test_generated_bad_documents_are_refused(caller, method, path, operation) -> None:
    @given(body=_documents_with_one_bad_value())
    @settings(
        max_examples=12,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(body: bytes) -> None:
        caller.send(method, path, _url(path, {}), body, body[:40].decode("utf-8", "replace"))

    check()
    assert caller.failures == [], "\n".join(caller.failures)
