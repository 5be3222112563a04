"""Ring and maintenance-window editors: malformed identifiers are a 404, never a 500."""

import pytest

pytestmark = pytest.mark.django_db

PAGE = "/clients/tenant-a/"


@pytest.mark.parametrize("value", ["not-a-uuid", " ", "-1", "\x00"])
def test_deleting_a_window_with_a_malformed_id_is_a_404(login, personas, value):
    response = login(personas.engineer).post(PAGE + "maintenance-windows/", {"delete": value})
    assert response.status_code == 404


def test_saving_a_ring_whose_key_holds_nul_is_a_404(login, personas):
    response = login(personas.msp_admin).post(PAGE + "rings/", {"ring": "can\x00ary"})
    assert response.status_code == 404
