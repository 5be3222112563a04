"""Every operation of the OpenAPI document has a summary and at least one example."""

from __future__ import annotations

from typing import Any

from tests.api.schema import SCHEMA

METHODS = ("get", "post", "put", "patch", "delete")


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, item[method])
        for path, item in SCHEMA["paths"].items()
        for method in METHODS
        if method in item
    ]


def _examples(operation: dict[str, Any]) -> list[Any]:
    found = []
    bodies = [operation.get("requestBody", {})] + list(operation.get("responses", {}).values())
    for body in bodies:
        for media in body.get("content", {}).values():
            found += list(media.get("examples", {}).values())
            if "example" in media:
                found.append(media["example"])
    found += [p["example"] for p in operation.get("parameters", []) if "example" in p]
    return found


def test_every_operation_has_a_summary_and_an_example():
    operations = _operations()
    assert len(operations) > 100
    missing_summary = [f"{m.upper()} {p}" for m, p, op in operations if not op.get("summary")]
    missing_example = [f"{m.upper()} {p}" for m, p, op in operations if not _examples(op)]
    assert missing_summary == []
    assert missing_example == []


def test_summaries_are_distinct_within_a_path_and_name_the_resource():
    for path, item in SCHEMA["paths"].items():
        summaries = [item[m]["summary"] for m in METHODS if m in item]
        assert len(summaries) == len(set(summaries)), path
    findings = SCHEMA["paths"]["/clients/{client_slug}/api/v1/findings/"]["get"]
    assert findings["summary"] == "List findings"
    chain = SCHEMA["paths"]["/clients/{client_slug}/api/v1/findings/{id}/chain/"]["get"]
    assert chain["summary"] == "Chain of a finding"


def test_an_example_fits_its_schema():
    """A list's example is a page (count, results) whose row carries the row's fields."""
    operation = SCHEMA["paths"]["/api/v1/findings/"]["get"]
    media = operation["responses"]["200"]["content"]["application/json"]
    value = next(iter(media["examples"].values()))["value"]
    row = value["results"][0] if "results" in value else value
    assert {"client", "client_name", "id", "tier", "state", "updated_at"} <= set(row)
    assert row["updated_at"] == "2026-01-05T09:30:00Z"
