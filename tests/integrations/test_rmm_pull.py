"""Pull discovery from Tactical RMM: the scheduled discovery (the Celery task) reads the local
Tactical server's agents, software and Windows updates and records them as an agent's report;
the same pull twice changes nothing; a new version is an upgrade; faults are lines on the run."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from evidence.models import EvidenceEvent
from findings.models import Finding
from integrations.models import RmmConnection
from integrations.rmm_pull import save_connection
from inventory.models import Asset, DiscoveryRun, InstalledSoftware, PendingUpdate, SoftwareChange
from inventory.tasks import run_discovery
from tests.integrations.tactical_server import (
    API_KEY,
    posix_agent,
    program,
    tactical_server,
    windows_agent,
    winupdate,
)

pytestmark = pytest.mark.django_db
PAGE = "/clients/tenant-a/integrations/rmm/"

CHROME = ("Google Chrome", "120.0.6099.109", "Google LLC")
SEVEN_ZIP = ("7-Zip 23.01 (x64)", "23.01", "Igor Pavlov")
INSTALLED_KB = "KB5034123"
MISSING = {"KB5034441": "Critical", "KB5035853": "Important"}


def fleet(server) -> None:
    """Three agents of three OS families, as Tactical lists them."""
    server.agents = [
        windows_agent(
            "hWzQkPbLmXvTtRrSsUuYy1",
            "FRONT-DESK-01",
            software=[program(*CHROME), program(*SEVEN_ZIP)],
            updates=[
                winupdate(1, INSTALLED_KB, "2024-01 Cumulative Update", installed=True),
                *[
                    winupdate(2 + i, kb, f"Security update {kb}", installed=False, severity=sev)
                    for i, (kb, sev) in enumerate(MISSING.items())
                ],
            ],
        ),
        posix_agent(
            "AbCdEfGhIjKlMnOpQrStUv2",
            "pacs-db",
            plat="linux",
            os_line="Ubuntu 22.04 x86_64 5.15.0-91-generic",
            serial="VMW-42-1f-aa-10",
            ip="10.20.0.40",
        ),
        posix_agent(
            "ZyXwVuTsRqPoNmLkJiHgFe3",
            "Dr-Lee-MacBook",
            plat="darwin",
            os_line="Darwin 14.2.1 arm64 23.2.0",
            serial="C02FK1ABCDEF",
            ip="10.20.0.77",
            goarch="arm64",
        ),
    ]


def connect(server, *, key: str = API_KEY, timeout: int = 5) -> RmmConnection:
    return save_connection(
        data={
            "name": "Acme",
            "kind": "tactical",
            "base_url": server.url,
            "api_key": key,
            "timeout_seconds": timeout,
            "is_enabled": True,
        },
        actor="engineer@msp.example",
    )


def state() -> dict:
    """Everything a repeated pull must leave as it was."""
    return {
        "assets": sorted(
            Asset.objects.values_list(
                "pk", "hostname", "os_family", "os_version", "hardware_serial", "last_seen"
            )
        ),
        "software": sorted(InstalledSoftware.objects.values_list("pk", "name", "version")),
        "pending": sorted(PendingUpdate.objects.values_list("pk", "advisory")),
        "changes": SoftwareChange.objects.count(),
        "findings": sorted(Finding.objects.values_list("pk", "patch_identifier", "state")),
        "events": EvidenceEvent.objects.filter(
            kind__in=["asset.discovered", "software.changed"]
        ).count(),
    }


def test_scheduled_pull_records_the_fleet_and_a_second_pull_changes_nothing(in_tenant_a):
    with tactical_server() as server:
        fleet(server)
        connect(server)
        result = run_discovery()
        first = state()
        result_again = run_discovery()
        second = state()

    assert result["status"] == "succeeded" and result_again["status"] == "succeeded"
    assert result["counts"]["pull_sources"] == 1
    assert result["counts"]["rmm_devices_ingested"] == len(server.agents)
    assert result["counts"]["rmm_assets_created"] == len(server.agents)
    assert result_again["counts"]["rmm_assets_created"] == 0
    schedule = DiscoveryRun.objects.get(uuid=result["run"])
    assert schedule.errors == []

    by_host = {a.hostname: a for a in Asset.objects.all()}
    assert set(by_host) == {a["hostname"].lower() for a in server.agents}
    win, linux, mac = (by_host[a["hostname"].lower()] for a in server.agents)
    assert (win.os_family, win.os_build, win.os_version) == (
        "windows",
        "22631.2861",
        "10.0.22631.2861",
    )
    assert win.hardware_serial == "5CG1234XYZ" and win.mac_addresses == ["00:15:5d:01:02:03"]
    assert win.ip_addresses == ["10.20.0.11"] and win.source == "rmm"
    assert (linux.os_family, linux.os_name, linux.os_version) == ("linux", "Ubuntu", "22.04")
    assert linux.ip_addresses == ["10.20.0.40"] and linux.hardware_serial == "VMW-42-1f-aa-10"
    assert (mac.os_family, mac.os_version, mac.os_arch) == ("macos", "14.2.1", "arm64")

    programs = {(s.name, s.version, s.vendor) for s in win.software.filter(kind="program")}
    assert programs == {CHROME, SEVEN_ZIP}
    assert set(win.software.filter(kind="hotfix").values_list("name", flat=True)) == {INSTALLED_KB}
    assert not linux.software.exists() and not mac.software.exists()  # never reported
    assert set(win.pending_updates.values_list("advisory", "severity")) == {
        ("KB5034441", "critical"),
        ("KB5035853", "high"),
    }
    assert set(Finding.objects.filter(asset=win).values_list("patch_identifier", flat=True)) == (
        set(MISSING)
    )

    pulls = DiscoveryRun.objects.filter(source="rmm").order_by("started_at")
    assert [r.source_name for r in pulls] == ["Tactical RMM · Acme"] * 2
    assert pulls[0].counts["devices"] == len(server.agents)
    conn = RmmConnection.objects.get()
    assert conn.last_pull_status == "succeeded" and conn.last_pull_at is not None

    assert second == first  # same rows, no new software changes, events or findings


def test_a_new_version_on_the_server_is_an_upgrade_on_the_next_pull(in_tenant_a):
    with tactical_server() as server:
        fleet(server)
        connect(server)
        run_discovery()
        changes_before = SoftwareChange.objects.count()
        chrome = server.agents[0]["software"][0]
        chrome["version"] = "121.0.6167.85"
        run_discovery()
    upgrades = list(
        SoftwareChange.objects.filter(change="upgraded").values_list(
            "name", "from_version", "to_version"
        )
    )
    assert upgrades == [(CHROME[0], CHROME[1], "121.0.6167.85")]
    assert SoftwareChange.objects.count() == changes_before + 1
    assert InstalledSoftware.objects.get(name=CHROME[0]).version == "121.0.6167.85"


def test_a_refused_key_is_a_line_on_the_run_and_writes_nothing(in_tenant_a):
    with tactical_server() as server:
        fleet(server)
        connect(server, key="not-the-key")
        result = run_discovery()
    run = DiscoveryRun.objects.get(uuid=result["run"])
    assert result["status"] == "failed"
    assert run.errors == [
        "Tactical RMM · Acme: /agents/?detail=true: the API key was refused (HTTP 401)."
    ]
    assert Asset.objects.count() == 0
    assert RmmConnection.objects.get().last_pull_status == "failed"


@pytest.mark.parametrize(
    "fault, expected",
    [
        ((503, b"<html>Bad gateway</html>", 0), "the RMM answered HTTP 503"),
        ((200, b"{not json", 0), "the answer is not JSON"),
        ((200, b'{"agents": []}', 0), "expected a list of agents"),
        ((200, b"[]", 2.5), "no answer within 1 s"),
    ],
)
def test_a_failing_agent_list_changes_nothing(in_tenant_a, fault, expected):
    with tactical_server() as server:
        fleet(server)
        server.faults["/agents/"] = fault
        connect(server, timeout=1)
        result = run_discovery()
    run = DiscoveryRun.objects.get(uuid=result["run"])
    assert result["status"] == "failed" and len(run.errors) == 1 and expected in run.errors[0]
    assert Asset.objects.count() == 0


def test_a_device_that_fails_is_left_out_and_the_others_are_recorded(in_tenant_a):
    with tactical_server() as server:
        fleet(server)
        connect(server)
        run_discovery()
        before = state()
        win, linux, mac = server.agents
        # The Windows agent's software answer breaks while its Chrome moves on: nothing of it
        # may change. The Mac's record loses its host name: left out too. Linux still reports.
        win["software"][0]["version"] = "121.0.6167.85"
        server.faults[f"/software/{win['agent_id']}/"] = (200, b"<html>", 0)
        mac["hostname"] = ""
        linux["operating_system"] = "Ubuntu 22.04 x86_64 5.15.0-94-generic"
        result = run_discovery()
    run = DiscoveryRun.objects.get(uuid=result["run"])
    assert result["status"] == "failed" and len(run.errors) == 2
    assert f"front-desk-01 ({win['agent_id']})".upper() in run.errors[0].upper()
    assert "not JSON" in run.errors[0] and "Left out" in run.errors[0]
    assert mac["agent_id"] in run.errors[1] and "hostname" in run.errors[1]
    assert result["counts"]["rmm_devices_ingested"] == 1
    after = state()
    assert after["software"] == before["software"] and after["changes"] == before["changes"]
    assert after["findings"] == before["findings"]
    pull = DiscoveryRun.objects.filter(source="rmm").latest("started_at")
    assert pull.status == "partial" and pull.counts["devices"] == 1
    assert RmmConnection.objects.get().last_pull_status == "partial"


def test_bad_fields_in_a_software_row_leave_the_device_out(in_tenant_a):
    with tactical_server() as server:
        fleet(server)
        server.agents[0]["software"].append({"name": {"nested": "object"}, "version": "1"})
        connect(server)
        result = run_discovery()
    run = DiscoveryRun.objects.get(uuid=result["run"])
    assert len(run.errors) == 1 and "programs[2].name" in run.errors[0]
    assert set(Asset.objects.values_list("hostname", flat=True)) == {"pacs-db", "dr-lee-macbook"}


# --------------------------------------------------------------------------- the page


def test_rmm_page_adds_tests_edits_and_disables_the_connection(login, personas, tenant_a):
    assert login(personas.viewer_a).get(PAGE).status_code == 403
    engineer = login(personas.engineer)
    assert engineer.get(PAGE).status_code == 200
    with tactical_server() as server:
        fleet(server)
        form = {
            "name": "Acme",
            "kind": "tactical",
            "base_url": server.url,
            "api_key": API_KEY,
            "site_filter": "",
            "timeout_seconds": "5",
            "is_enabled": "on",
        }
        bad = [
            {**form, "api_key": ""},
            {**form, "base_url": "not a url"},
            {**form, "site_filter": "abc"},
            {**form, "timeout_seconds": "0"},
            {**form, "kind": "ninja"},
            {**form, "name": "\x00"},
        ]
        for data in bad:
            assert engineer.post(PAGE, data).status_code == 400
        with tenant_context(tenant_a):
            assert not RmmConnection.objects.exists()
        assert engineer.post(PAGE, form).status_code == 302
        page = engineer.get(PAGE).content.decode()
        assert API_KEY not in page and API_KEY[-4:] in page

        answer = engineer.post(PAGE + "test/", follow=True).content.decode()
        assert f"{len(server.agents)} agent(s) listed" in answer
        with tenant_context(tenant_a):
            assert Asset.objects.count() == 0  # a test writes nothing

        with tenant_context(tenant_a):
            run_discovery()
        page = engineer.get(PAGE).content.decode()
        assert "Tactical RMM · Acme" in page and "Succeeded" in page
        assert f"{len(server.agents)} of {len(server.agents)} device(s) ingested" in page
        assert 'href="/clients/tenant-a/integrations/rmm/"' in (
            engineer.get("/clients/tenant-a/integrations/outbox/").content.decode()
        )

        # An edit with the key left blank keeps it; switched off, the schedule leaves it alone.
        off = {**form, "api_key": "", "name": "Acme RMM"}
        off.pop("is_enabled")
        assert engineer.post(PAGE, off).status_code == 302
        with tenant_context(tenant_a):
            conn = RmmConnection.objects.get()
            assert (conn.name, conn.api_key, conn.is_enabled) == ("Acme RMM", API_KEY, False)
            calls = len(server.calls)
            result = run_discovery()
            assert result["counts"]["pull_sources"] == 0 and len(server.calls) == calls
    # The server is gone: the test says so, nothing else happens.
    answer = engineer.post(PAGE + "test/", follow=True).content.decode()
    assert "could not be reached" in answer
