"""``?search=`` does what the schema says on every list that documents it, and a list that
does not document it answers 400 instead of ignoring it.

The client's data comes from its producers: devices report through ingest (assets, software,
findings, discovery runs, evidence events), an engineer adds a window and a recipient through
the API, an exception through the register's services.
"""

from __future__ import annotations

import json
import re

import pytest
from django_tenants.utils import tenant_context

from tests import producers
from tests.api.schema import SCHEMA
from tests.exceptions_register.factories import make_exception
from tests.producers import Device, push

pytestmark = pytest.mark.django_db
NOTHING = "zz-no-such-text-qq"


def _searchable() -> list[tuple[str, str]]:
    """(path, description of the search parameter) of every list that documents search."""
    found = []
    for path, item in SCHEMA["paths"].items():
        operation = item.get("get", {})
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "search":
                found.append((path, parameter.get("description", "")))
    return found


def _fields(description: str) -> list[str]:
    match = re.search(r"in (.+?) \(case-insensitive", description)
    assert match, description
    return [f.strip() for f in match.group(1).split(",")]


@pytest.fixture
def world(tenant_a, login, personas):
    http = login(personas.msp_admin)
    with tenant_context(tenant_a):
        push(
            [
                Device("search-pc-1").missing_kb("KB5400001", severity="critical"),
                Device("search-srv-2", os="ubuntu", role="server"),
            ]
        )
        from findings.models import Finding

        make_exception(
            client=tenant_a,
            approver=personas.owner_a,
            actor=personas.engineer,
            findings=list(Finding.objects.all()),
            ticket_reference="CHG-5151",
        )
    producers.all_day_window(http)
    created = http.post(
        "/clients/tenant-a/api/v1/report-recipients/",
        json.dumps({"name": "Dana Search", "email": "dana@a.test", "kinds": ["monthly"]}),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    return http


def _key(row: dict) -> str:
    return str(row.get("id", row))


def test_every_documented_search_narrows_its_list(world):
    searchable = _searchable()
    assert len(searchable) > 20
    matched = []
    for path, description in searchable:
        url = path.replace("{client_slug}", "tenant-a")
        if "{" in url:
            continue
        fields = [f for f in _fields(description) if "." not in f]
        assert world.get(url, {"search": NOTHING}).json()["count"] == 0, url
        rows = world.get(url, {"limit": 5}).json()["results"]
        probe = next(
            (
                (row, row[f])
                for row in rows
                for f in fields
                if isinstance(row.get(f), str) and len(row[f]) >= 3
            ),
            None,
        )
        if probe is None:
            continue
        row, value = probe
        hits = world.get(url, {"search": value, "limit": 500}).json()["results"]
        assert _key(row) in {_key(r) for r in hits}, (url, value)
        matched.append(url)
    # Lists with a row of their own in this world: each found its row by its own text.
    for expected in ("/assets/", "/software/", "/exceptions/", "/report-recipients/"):
        assert any(u.endswith(expected) for u in matched), (expected, matched)


def test_findings_search_by_hostname_patch_or_package(world):
    url = "/clients/tenant-a/api/v1/findings/"
    assert [
        f["patch_identifier"] for f in world.get(url, {"search": "KB5400001"}).json()["results"]
    ] == ["KB5400001"]
    assert world.get(url, {"search": "search-pc-1"}).json()["count"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/clients/tenant-a/api/v1/privileged-issues/",
        "/clients/tenant-a/api/v1/report-requests/",
        "/clients/tenant-a/api/v1/psa-connections/",
    ],
)
def test_a_list_without_search_refuses_it(world, path):
    documented = SCHEMA["paths"][path.replace("tenant-a", "{client_slug}")]["get"]
    assert "search" not in {p["name"] for p in documented.get("parameters", [])}
    response = world.get(path, {"search": "anything"})
    assert response.status_code == 400
    assert response.json()["search"] == ["This list takes no search; use its filters."]
