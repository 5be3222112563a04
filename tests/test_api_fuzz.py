"""Property-based calls against every API operation: bad input is a 4xx, never a 500.

The OpenAPI document is generated in-process from ``patchops.urls_schema`` and schemathesis calls
the real WSGI application in the test thread (no network), so every write rolls back with the
test's transaction. Tenant A's paths are called with a write-scope token for tenant A; the agent
endpoints (discovery push, agent jobs) with an agent token.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from patchops.wsgi import application
from tenants.choices import TokenScope

SLUG = "tenant-a"
MAX_EXAMPLES = 10
# Operations answered with an agent token; the rest with a write-scope token.
AGENT_PATHS = ("/discovery/", "/agent-jobs/")
# Responses that are files, not JSON.
FILE_DOWNLOADS = ("/download/", "/rings/export/")
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def _raw_schema() -> dict[str, Any]:
    generated = SchemaGenerator(urlconf="patchops.urls_schema").get_schema(
        request=None, public=True
    )
    # A JSON round-trip through the renderer turns lazy strings and UUIDs into plain values.

    raw = json.loads(OpenApiJsonRenderer().render(generated))
    # Pin the tenant: every per-client path is called for tenant A.
    paths = {}
    for path, item in raw["paths"].items():
        item = copy.deepcopy(item)
        for operation in item.values():
            if isinstance(operation, dict) and "parameters" in operation:
                operation["parameters"] = [
                    p for p in operation["parameters"] if p.get("name") != "client_slug"
                ]
        paths[path.replace("{client_slug}", SLUG)] = item
    raw["paths"] = paths
    _relax_time_format(raw)
    return raw


def _relax_time_format(node: Any) -> None:
    """DRF writes times of day as ``HH:MM:SS``; JSON Schema's ``time`` format also demands an
    RFC 3339 offset, which a wall-clock time in the client's zone never has."""
    if isinstance(node, dict):
        if node.get("format") == "time":
            del node["format"]
            node["pattern"] = r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"
        for value in node.values():
            _relax_time_format(value)
    elif isinstance(node, list):
        for value in node:
            _relax_time_format(value)


schema = schemathesis.openapi.from_dict(_raw_schema())
schema.app = application


@pytest.fixture
def _in_process_wsgi() -> Iterator[None]:
    """Keep the test's connection (and its rolled-back transaction) across WSGI requests."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(db, tenant_a, make_token) -> dict[str, str]:
    _, write = make_token(TokenScope.WRITE, tenant_a, name="fuzz-write")
    _, agent = make_token(TokenScope.AGENT, tenant_a, name="fuzz-agent")
    return {"write": write, "agent": agent}


def _seed(tenant, personas) -> dict[str, str]:
    """A small fleet with one of each resource, so operations on one object reach the object."""
    from django_tenants.utils import tenant_context

    from evidence.models import EvidenceEvent
    from findings.models import Finding
    from inventory.models import InstalledSoftware
    from rings.models import Ring, RunbookCheck
    from rings.services import assign_rings, create_rollout, evaluate_rollout
    from tests.exceptions_register.factories import make_exception
    from tests.producers import Device, maintenance_window, push

    with tenant_context(tenant):
        devices = [
            Device(f"fuzz-{i}").missing_kb("KB5030001", severity="critical") for i in (1, 2, 3)
        ]
        linux = Device("fuzz-lnx", os="ubuntu", packages={"openssl": "3.0.2-0ubuntu1.15"})
        linux.missing_package("openssl", "3.0.2-0ubuntu1.16", advisory="USN-6854-1")
        push([*devices, linux])
        assign_rings()
        rollout = create_rollout(
            name="Fuzz KB",
            actor=personas.engineer,
            selection="patch_identifiers",
            patch_identifiers=["KB5030001"],
        )
        evaluate_rollout(rollout=rollout)
        exception = make_exception(client=tenant, approver=personas.owner_a)
        found = {
            "assets": devices[0].asset.uuid,
            "findings": Finding.objects.values_list("uuid", flat=True).first(),
            "rings": Ring.objects.values_list("uuid", flat=True).first(),
            "rollouts": rollout.uuid,
            "exceptions": exception.uuid,
            "maintenance-windows": maintenance_window().uuid,
            "runbook-checks": RunbookCheck.objects.values_list("uuid", flat=True).first(),
            "evidence": EvidenceEvent.objects.values_list("uuid", flat=True).first(),
            "software": InstalledSoftware.objects.values_list("uuid", flat=True).first(),
        }
    # The test client that added the window connects Django's connection closers again.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    return {key: str(value) for key, value in found.items() if value}


@pytest.fixture
def known_ids(tenant_a, personas) -> dict[str, Any]:
    """Seeded lazily: only operations on one object need the fleet."""
    return {"tenant": tenant_a, "personas": personas, "ids": None, "calls": 0}


def _use_known_id(case, known: dict[str, Any]) -> None:
    """Every other example of an operation on one object names a seeded object."""
    names = [n for n in ("id", "uuid") if n in (case.path_parameters or {})]
    resource = case.operation.path.split("/api/v1/", 1)[1].split("/", 1)[0]
    if not names or resource not in RESOURCES_WITH_SEEDS:
        return
    known["calls"] += 1
    if known["calls"] % 2:
        return
    if known["ids"] is None:
        known["ids"] = _seed(known["tenant"], known["personas"])
    if resource in known["ids"]:
        case.path_parameters[names[0]] = known["ids"][resource]


RESOURCES_WITH_SEEDS = {
    "assets",
    "findings",
    "rings",
    "rollouts",
    "exceptions",
    "maintenance-windows",
    "runbook-checks",
    "evidence",
    "software",
}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_operation_never_answers_500(case, tokens, known_ids, _in_process_wsgi) -> None:
    _use_known_id(case, known_ids)
    path = case.operation.path
    kind = "agent" if any(marker in path for marker in AGENT_PATHS) else "write"
    checks = CHECKS
    if any(marker in path for marker in FILE_DOWNLOADS):
        checks = [not_a_server_error]
    case.call_and_validate(headers={"Authorization": f"Bearer {tokens[kind]}"}, checks=checks)
