"""SLA policy page: digits that are not ASCII are a field error (400), never a 500."""

import pytest

from findings.models import SlaPolicyChange

pytestmark = pytest.mark.django_db

RULE = "core_server.critical."


@pytest.mark.parametrize("value", ["²", "١٢", "٣"])
def test_non_ascii_digits_are_a_400_and_change_nothing(login, personas, in_tenant_a, value):
    before = SlaPolicyChange.objects.count()
    response = login(personas.msp_admin).post(
        "/clients/tenant-a/sla-policy/",
        {
            RULE + "window_hours": value,
            RULE + "reboot_policy": "scheduled",
            RULE + "reboot_weekday": value,
            RULE + "reboot_time": "02:00",
        },
    )
    assert response.status_code == 400
    assert SlaPolicyChange.objects.count() == before
