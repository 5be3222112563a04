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
    return raw


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


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_operation_never_answers_500(case, tokens, _in_process_wsgi) -> None:
    path = case.operation.path
    kind = "agent" if any(marker in path for marker in AGENT_PATHS) else "write"
    checks = CHECKS
    if any(marker in path for marker in FILE_DOWNLOADS):
        checks = [not_a_server_error]
    case.call_and_validate(headers={"Authorization": f"Bearer {tokens[kind]}"}, checks=checks)
