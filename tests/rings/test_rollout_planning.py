"""Planning a rollout on the board: patches chosen from a searchable per-patch list, the
devices each ring would patch with the maintenance windows they fall in, and the rollout
page's per-device job status (JSON the page polls)."""

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.db.models import Count
from django_tenants.utils import tenant_context

from findings.models import Finding
from integrations.models import AgentJob
from rings.choices import DeploymentStatus, WaveState
from rings.models import RingMembership, Rollout, Wave
from rings.services import ROLLABLE_STATES, approve_wave, assign_rings, evaluate_rollout
from tests.producers import maintenance_window, office
from tests.rings.helpers import report_jobs

pytestmark = pytest.mark.django_db

PAGE = "/clients/tenant-a/"
# Monday 2026-03-02 10:00 in Chicago (CST, UTC-6).
MONDAY = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


@pytest.fixture
def fleet(tenant_a):
    with time_machine.travel(MONDAY, tick=False), tenant_context(tenant_a):
        built = office(patch="KB5030001")
        assign_rings()
        return built


def _devices_per_patch() -> dict[str, int]:
    rows = (
        Finding.objects.filter(state__in=ROLLABLE_STATES)
        .values("patch_identifier")
        .annotate(n=Count("asset", distinct=True))
    )
    return {r["patch_identifier"]: r["n"] for r in rows}


def test_board_lists_one_row_per_patch_and_searches(login, personas, tenant_a, fleet):
    with tenant_context(tenant_a):
        expected = _devices_per_patch()
    http = login(personas.engineer)
    page = http.get(PAGE + "rollouts/").content.decode()
    for patch, devices in expected.items():
        row = page[page.index(f'data-testid="patch-{patch}"') :]
        row = row[: row.index("</tr>")]
        assert f'value="{patch}"' in row
        assert f'data-testid="patch-devices">{devices}<' in row
        assert f'href="{PAGE}findings/?patch={patch}"' in row  # drills down to the devices
    assert "js/checklist_filter.js" in page and 'data-filter-for="patch-list"' in page
    narrowed = http.get(PAGE + "rollouts/", {"patch_q": "usn"}).content.decode()
    assert 'data-testid="patch-USN-6854-1"' in narrowed
    assert 'data-testid="patch-KB5030001"' not in narrowed
    nothing = http.get(PAGE + "rollouts/", {"patch_q": "no-such"}).content.decode()
    assert "No patch with open findings matches" in nothing
    # People who only read see no form and no list.
    viewer = login(personas.viewer_a).get(PAGE + "rollouts/").content.decode()
    assert 'data-testid="patch-list"' not in viewer


def test_preview_shows_each_rings_devices_and_their_windows(login, personas, tenant_a, fleet):
    ticked = ["USN-6854-1", "macOS-14.7.1"]
    with tenant_context(tenant_a):
        maintenance_window(name="Nightly", start_time="22:00", duration_minutes=240)
        needing = {
            f.asset.hostname: f.patch_identifier
            for f in Finding.objects.filter(patch_identifier__in=ticked).select_related("asset")
        }
        ring_of = dict(
            RingMembership.objects.filter(asset__hostname__in=needing).values_list(
                "asset__hostname", "ring__key"
            )
        )
    http = login(personas.engineer)
    with time_machine.travel(MONDAY, tick=False):
        response = http.post(
            PAGE + "rollouts/preview/",
            {"name": "Servers and Macs", "selection": "patch_identifiers", "patches": ticked},
        )
    assert response.status_code == 200
    page = response.content.decode()
    for ring in ("canary", "pilot", "production"):
        count = sum(1 for r in ring_of.values() if r == ring)
        assert f'data-testid="preview-devices-{ring}">{count}<' in page
    for hostname, patch in needing.items():
        row = page[page.index(f'data-testid="preview-device-{hostname}"') :]
        row = row[: row.index("</tr>")]
        # Monday 10:00 CST: the nightly window opens at 22:00 that evening.
        assert patch in row and "Nightly" in row
        assert 'data-testid="preview-window">Mon 2 Mar 2026 22:00 CST<' in row
    assert "KB5030001" not in page[page.index('data-testid="preview"') :]
    # The ticked patches stay ticked for the next click.
    boxes = dict(re.findall(r'name="patches" value="([^"]+)" id="patch-\d+"( checked)?', page))
    assert {p for p, mark in boxes.items() if mark} == set(ticked)
    assert "KB5030001" in boxes


def test_preview_without_a_window_says_the_wave_waits(login, personas, tenant_a, fleet):
    http = login(personas.engineer)
    page = http.post(
        PAGE + "rollouts/preview/",
        {"name": "Macs", "selection": "patch_identifiers", "patches": ["macOS-14.7.1"]},
    ).content.decode()
    assert "No maintenance window applies: the wave waits until one does." in page


def test_create_from_ticked_and_typed_patches_opens_the_rollout(login, personas, tenant_a, fleet):
    http = login(personas.engineer)
    response = http.post(
        PAGE + "rollouts/new/",
        {
            "name": "March servers",
            "selection": "patch_identifiers",
            "patches": ["USN-6854-1"],
            "patch_identifiers": "macOS-14.7.1, USN-6854-1",
        },
    )
    with tenant_context(tenant_a):
        rollout = Rollout.objects.get(name="March servers")
        expected = set(
            Finding.objects.filter(
                patch_identifier__in=["USN-6854-1", "macOS-14.7.1"], state__in=ROLLABLE_STATES
            ).values_list("pk", flat=True)
        )
        assert set(rollout.findings.values_list("pk", flat=True)) == expected
    assert response.status_code == 302
    assert response["Location"] == f"{PAGE}rollouts/{rollout.uuid}/"
    assert rollout.patch_identifiers == ["USN-6854-1", "macOS-14.7.1"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"selection": "patch_identifiers", "patches": ["KB0000000"]},
            "“KB0000000” is not a patch with open findings.",
        ),
        (
            {"selection": "critical_for_os", "os_family": "windows", "patches": ["KB5030001"]},
            "Ticked patches go with the selection “Chosen patch identifiers”",
        ),
    ],
)
def test_bad_patch_choices_are_refused_and_create_nothing(
    login, personas, tenant_a, fleet, body, message
):
    http = login(personas.engineer)
    preview = http.post(PAGE + "rollouts/preview/", {"name": "x", **body})
    assert preview.status_code == 400 and message in preview.content.decode()
    created = http.post(PAGE + "rollouts/new/", {"name": "x", **body}, follow=True)
    assert message in created.content.decode()
    with tenant_context(tenant_a):
        assert not Rollout.objects.exists()


def test_job_status_follows_the_agents_reports(login, personas, tenant_a, fleet):
    http = login(personas.engineer)
    with time_machine.travel(MONDAY, tick=False):
        with tenant_context(tenant_a):
            maintenance_window(name="Office hours", start_time="09:00", duration_minutes=240)
        http.post(
            PAGE + "rollouts/new/",
            {"name": "KB", "selection": "patch_identifiers", "patches": ["KB5030001"]},
        )
        with tenant_context(tenant_a):
            rollout = Rollout.objects.get(name="KB")
            canary = Wave.objects.select_related("ring", "rollout").get(
                rollout=rollout, ring__key="canary"
            )
            evaluate_rollout(rollout=rollout)
            approve_wave(wave=canary, user=personas.engineer)
            evaluate_rollout(rollout=rollout)
            if report_jobs(canary, action="snapshot"):
                evaluate_rollout(rollout=rollout)
            canary.refresh_from_db()
            assert canary.state == WaveState.DEPLOYING
            hosts = sorted(canary.results.values_list("asset__hostname", flat=True))
            jobs = AgentJob.objects.filter(wave=canary, action="install").count()
        url = f"{PAGE}rollouts/{rollout.uuid}/status/"
        body = http.get(url).json()
        wave = next(w for w in body["waves"] if w["ring"] == "canary")
        assert wave["state"] == "deploying" and jobs == len(hosts) >= 1
        assert sorted(d["hostname"] for d in wave["devices"]) == hosts
        assert {d["status"] for d in wave["devices"]} == {DeploymentStatus.PENDING}
        assert all(d["window"].startswith("Mon 02 Mar 09:00") for d in wave["devices"])
        with tenant_context(tenant_a):
            report_jobs(canary, fail=1)
        body = http.get(url).json()
    wave = next(w for w in body["waves"] if w["ring"] == "canary")
    statuses = {d["hostname"]: d["status"] for d in wave["devices"]}
    assert statuses[hosts[0]] == DeploymentStatus.FAILED
    assert {statuses[h] for h in hosts[1:]} <= {DeploymentStatus.DEPLOYED}
    assert wave["counts"]["failed"] == 1
    assert wave["counts"]["deployed"] == len(hosts) - 1
    failed = next(d for d in wave["devices"] if d["hostname"] == hosts[0])
    assert failed["failed_at"] and failed["updated"].endswith("CST")
    # The page renders the same list and polls the URL.
    page = http.get(f"{PAGE}rollouts/{rollout.uuid}/").content.decode()
    assert f'data-status-url="{url}"' in page and "js/rollout_status.js" in page
    assert f'data-testid="device-{hosts[0]}" data-status="failed"' in page


def test_job_status_is_read_with_the_view_capability_only(login, personas, tenant_a, fleet):
    http = login(personas.engineer)
    http.post(
        PAGE + "rollouts/new/",
        {"name": "KB", "selection": "patch_identifiers", "patches": ["KB5030001"]},
    )
    with tenant_context(tenant_a):
        rollout = Rollout.objects.get(name="KB")
    url = f"{PAGE}rollouts/{rollout.uuid}/status/"
    viewer = login(personas.viewer_a).get(url)
    assert viewer.status_code == 200 and viewer.json()["id"] == str(rollout.uuid)
    assert viewer["Cache-Control"] == "no-store"
    assert login(personas.owner_b).get(url).status_code in (403, 404)
    assert (
        login(personas.engineer)
        .get(f"{PAGE}rollouts/00000000-0000-0000-0000-000000000000/status/")
        .status_code
        == 404
    )


def test_preview_gives_each_device_its_most_specific_window(login, personas, tenant_a, fleet):
    """Core servers wait for their own Sunday window; the other devices for the nightly one."""
    ticked = ["USN-6854-1", "macOS-14.7.1"]
    with tenant_context(tenant_a):
        maintenance_window(name="Nightly", start_time="22:00", duration_minutes=240)
        maintenance_window(
            name="Servers on Sunday",
            scope="asset_class",
            asset_class="core_server",
            weekdays=[6],
            start_time="02:00",
            duration_minutes=180,
        )
        classes = dict(
            Finding.objects.filter(patch_identifier__in=ticked).values_list(
                "asset__hostname", "asset__asset_class__key"
            )
        )
    assert "core_server" in classes.values() and set(classes.values()) != {"core_server"}
    with time_machine.travel(MONDAY, tick=False):
        page = (
            login(personas.engineer)
            .post(
                PAGE + "rollouts/preview/",
                {"name": "Mixed", "selection": "patch_identifiers", "patches": ticked},
            )
            .content.decode()
        )
    for hostname, key in classes.items():
        row = page[page.index(f'data-testid="preview-device-{hostname}"') :]
        row = row[: row.index("</tr>")]
        if key == "core_server":  # Monday 2 March: the next Sunday is 8 March (CDT by then)
            assert "Servers on Sunday" in row and "Nightly" not in row
            assert 'data-testid="preview-window">Sun 8 Mar 2026 03:00 CDT<' in row
        else:
            assert "Nightly" in row and "Servers on Sunday" not in row
            assert 'data-testid="preview-window">Mon 2 Mar 2026 22:00 CST<' in row
