"""The rollout form previews how many devices each ring will patch before it starts; bad input
gets a clear error and creates nothing."""

from datetime import timedelta

import pytest
import time_machine
from django_tenants.utils import tenant_context

from rings.models import Rollout
from tests.rings.conftest import MONDAY
from tests.rings.producers import person

pytestmark = pytest.mark.django_db

KB = "KB5039212"
PAGE = "/clients/tenant-a/rollouts/"


def test_the_form_previews_devices_per_ring_and_creates_nothing(office, engineer, tenant_a):
    fleet = office["fleet"]
    windows = [n for n, d in fleet.devices.items() if d.os.startswith("windows")]
    expected = {
        ring: sum(1 for n in windows if office["rings"][n.lower()] == ring)
        for ring in ("canary", "pilot", "production")
    }
    with time_machine.travel(MONDAY + timedelta(hours=1), tick=False):
        fleet.missing(KB, *windows)
        fleet.push(*windows)
        response = engineer.post(
            PAGE + "preview/",
            {"name": "June", "selection": "patch_identifiers", "patch_identifiers": KB},
        )
    assert response.status_code == 200
    page = response.content.decode()
    for ring, count in expected.items():
        assert f'data-testid="preview-devices-{ring}">{count}<' in page
    assert f"{len(windows)} open findings on {len(windows)} devices" in page
    assert 'value="June"' in page  # the form keeps what was typed
    with tenant_context(tenant_a):
        assert not Rollout.objects.exists()


def test_preview_and_create_with_bad_input_answer_clearly(office, engineer, tenant_a, personas):
    response = engineer.post(PAGE + "preview/", {"name": "", "selection": "nonsense"})
    assert response.status_code == 400 and "Check the form" in response.content.decode()
    response = engineer.post(
        PAGE + "preview/",
        {"name": "x", "selection": "patch_identifiers", "patch_identifiers": "KB0000000"},
    )
    assert response.status_code == 400
    assert "No open finding matches this selection." in response.content.decode()
    response = engineer.post(
        PAGE + "new/",
        {
            "name": "x",
            "selection": "patch_identifiers",
            "patch_identifiers": "KB0000000",
            "expedite": "on",
        },
        follow=True,
    )
    assert "Say why this rollout is expedited." in response.content.decode()
    assert person(personas.viewer_a).post(PAGE + "preview/", {}).status_code == 403
    with tenant_context(tenant_a):
        assert not Rollout.objects.exists()
