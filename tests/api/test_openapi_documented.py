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
    client_api = "/clients/{client_slug}/api/v1/"
    restore = SCHEMA["paths"][client_api + "restore-tests/"]
    assert restore["get"]["summary"] == "List restore tests"
    assert restore["post"]["summary"] == "Schedule a restore test"
    record = SCHEMA["paths"][client_api + "restore-tests/{id}/record/"]["post"]
    assert record["summary"] == "Record a restore test"
    rule = SCHEMA["paths"][client_api + "restore-test-rule/"]
    assert (rule["get"]["summary"], rule["put"]["summary"]) == (
        "Get the restore test rule",
        "Replace the restore test rule",
    )
    approve = SCHEMA["paths"][client_api + "assets/{uuid}/approve-reboot/"]["post"]
    assert approve["summary"] == "Approve the restart an asset awaits"


def test_restore_tests_and_restarts_are_documented_with_their_filters_and_fields():
    client_api = "/clients/{client_slug}/api/v1/"

    def parameters(path: str) -> set[str]:
        return {p["name"] for p in SCHEMA["paths"][client_api + path]["get"]["parameters"]}

    assert {"outcome", "asset", "performed_after", "updated_since", "search"} <= parameters(
        "restore-tests/"
    )
    assert {"reboot_pending", "reboot_approval", "updated_since"} <= parameters("assets/")
    asset = SCHEMA["components"]["schemas"]["Asset"]["properties"]
    for name in (
        "reboot_pending",
        "reboot_pending_since",
        "reboot_approval",
        "reboot_approved_by",
        "reboot_approved_at",
    ):
        assert asset[name].get("readOnly") is True, name
    record = SCHEMA["components"]["schemas"]["RestoreTestRecordRequest"]
    assert set(record["required"]) == {"outcome", "performed_at", "performed_by", "evidence_url"}


def test_an_example_fits_its_schema():
    """A list's example is a page (count, results) whose row carries the row's fields."""
    operation = SCHEMA["paths"]["/api/v1/findings/"]["get"]
    media = operation["responses"]["200"]["content"]["application/json"]
    value = next(iter(media["examples"].values()))["value"]
    row = value["results"][0] if "results" in value else value
    assert {"client", "client_name", "id", "tier", "state", "updated_at"} <= set(row)
    assert row["updated_at"] == "2026-01-05T09:30:00Z"
