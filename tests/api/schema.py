"""The OpenAPI document the API serves, and its list operations."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer


def _schema() -> dict[str, Any]:
    generated = SchemaGenerator(urlconf="patchops.urls_schema").get_schema(
        request=None, public=True
    )
    return json.loads(OpenApiJsonRenderer().render(generated))


SCHEMA = _schema()
# Lists that are not resources a client syncs: computed rankings and an agent's job poll.
NOT_SYNCED = (
    "/prioritization-log/",
    "/agent-jobs/",
)


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = SCHEMA["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def list_paths() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(path, GET operation, row schema) of every paginated list in the schema."""
    found = []
    for path, item in SCHEMA["paths"].items():
        operation = item.get("get")
        if not operation or any(path.endswith(n) for n in NOT_SYNCED):
            continue
        content = operation["responses"].get("200", {}).get("content", {})
        body = content.get("application/json", {}).get("schema")
        if not body:
            continue
        body = resolve(body)
        if body.get("type") == "object" and "results" in body.get("properties", {}):
            found.append((path, operation, resolve(body["properties"]["results"]["items"])))
    return found
