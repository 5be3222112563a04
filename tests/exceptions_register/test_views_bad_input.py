"""Register actions: a revoke reason the database cannot hold is refused, never a 500."""

import pytest

from exceptions_register.choices import ExceptionState
from tests.exceptions_register.factories import make_active

pytestmark = pytest.mark.django_db

BASE = "/clients/tenant-a/exceptions/"


def test_revoke_reason_with_nul_is_refused_and_changes_nothing(in_tenant_a, personas, login):
    exception = make_active(client=in_tenant_a, approver=personas.owner_a)
    http = login(personas.engineer)
    response = http.post(f"{BASE}{exception.uuid}/revoke/", {"reason": "Patched\x00 early."})
    assert response.status_code == 302
    exception.refresh_from_db()
    assert exception.state == ExceptionState.ACTIVE
    page = http.get(f"{BASE}{exception.uuid}/").content.decode()
    assert "Null characters are not allowed" in page
