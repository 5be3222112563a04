"""The finding API's ``match`` object checked against the OpenAPI document the API publishes."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema (``type`` or ``null``)."""
    if isinstance(node, dict):
        node = {k: _nullable(v) for k, v in node.items()}
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


@cache
def _match_schema() -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    generated = SchemaGenerator(urlconf="patchops.urls_schema").get_schema(
        request=None, public=True
    )
    raw = json.loads(OpenApiJsonRenderer().render(generated))
    return {"$ref": "#/components/schemas/FindingMatch", "components": _nullable(raw["components"])}


def conforms(match: dict[str, Any]) -> dict[str, Any]:
    """The match as the OpenAPI document declares it (every key declared, every type right)."""
    schema = _match_schema()
    declared = set(schema["components"]["schemas"]["FindingMatch"]["properties"])
    assert set(match) <= declared, set(match) - declared
    jsonschema.validate(match, schema)
    return match
