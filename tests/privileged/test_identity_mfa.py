"""The identity baseline's MFA on the register and the client overview: the PatchOps accounts
that may sign in to the client (MSP staff and the client's own people), from the second
factors they enrolled through the real flows, and the client's own staff accounts of the
register, from their recorded MFA state: counts, per cent and who is without."""

from __future__ import annotations

import re

import pytest
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from accounts.mfa import services as mfa_services
from privileged import services
from privileged.choices import Holder, MfaState
from privileged.selectors import identity_mfa
from tenants.models import User
from tenants.services import add_membership
from tests.authenticator import register_over_http
from tests.mfa import enrol, fresh_code, sign_in
from tests.privileged.helpers import BASE, register

pytestmark = pytest.mark.django_db


def _row(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">(.*?)</tr>', html, re.S)
    assert match, testid
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


@pytest.fixture
def scenario(tenant_a, tenant_b, personas):
    # The engineer adds an authenticator app (enrolment service, code from tests.mfa); the
    # account manager started one and never confirmed it: no factor.
    enrol(personas.engineer)
    mfa_services.pending_device(personas.account_manager)
    # The viewer (no factor required of viewers here) registers a passkey on the passkeys page.
    viewer = sign_in(HttpClient(), personas.viewer_a)
    register_over_http(viewer, name="Front desk laptop")
    # Not counted: a deactivated member, and another client's owner.
    gone = User.objects.create_user(email="left@a.test", is_active=False)
    add_membership(user=gone, client=tenant_a, role="client_viewer")
    enrol(personas.owner_b)
    with tenant_context(tenant_a):
        register(tenant_a, personas.engineer, name="Domain admin", mfa_state=MfaState.ENFORCED)
        register(tenant_a, personas.engineer, name="Backup admin", mfa_state=MfaState.NOT_ENFORCED)
        register(
            tenant_a,
            personas.engineer,
            name="Scanner service",
            kind="service",
            mfa_state=MfaState.NOT_POSSIBLE,
            mfa_reason="The scanner's SMB account cannot take a second factor.",
        )
        register(
            tenant_a,
            personas.engineer,
            name="MSP RMM admin",
            held_by=Holder.MSP,
            mfa_state=MfaState.NOT_ENFORCED,
        )
        old = register(
            tenant_a, personas.engineer, name="Old admin", mfa_state=MfaState.NOT_ENFORCED
        )
        services.disable_account(account=old, actor=personas.engineer, reason="Left in May.")
    return tenant_a


def test_the_register_shows_both_sides_of_the_baseline(scenario, personas):
    # The MSP admin signs in (and so adds an authenticator, as every member of staff must).
    admin = sign_in(HttpClient(), personas.msp_admin)
    html = admin.get(BASE).content.decode()
    # Staff with access: admin and engineer enrolled, the account manager not.
    assert _row(html, "mfa-msp-staff") == ("PatchOps: MSP staff with access 2 of 3 66% am@msp.test")
    # The client's people: the viewer's passkey counts, the owner has no factor yet.
    assert _row(html, "mfa-client-people") == (
        "PatchOps: Alpha Clinic's own users 1 of 2 50% owner@a.test"
    )
    # The register's client-held active accounts: one of three enforced.
    row = _row(html, "mfa-client-staff-accounts")
    assert row.startswith("Register: the client's own staff accounts 1 of 3 33%")
    assert "Backup admin (MFA not enforced)" in row
    assert "Scanner service (MFA not possible)" in row
    assert "Domain admin" not in row and "MSP RMM" not in row and "Old admin" not in row

    overview = admin.get("/clients/tenant-a/").content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", overview))
    assert "MSP staff 2 of 3 (66%)" in text
    assert "Alpha Clinic's users 1 of 2 (50%)" in text
    assert "the client's own staff accounts 1 of 3 (33%)" in text


def test_the_owner_enrols_and_the_coverage_follows(scenario, personas, tenant_a):
    owner = sign_in(HttpClient(), personas.owner_a)  # an owner must add a factor: enrolled
    with tenant_context(tenant_a):
        coverage = identity_mfa(tenant_a)
    assert (coverage.client_people.covered, coverage.client_people.total) == (2, 2)
    assert coverage.client_people.percent == 100 and coverage.client_people.without == []
    # Everyone who sees the client reads the same figures; the names of MSP staff without a
    # factor only MSP staff read, those of the client's people its owners (and the MSP).
    page = owner.get(BASE).content.decode()
    assert _row(page, "mfa-client-people").endswith("2 of 2 100% none")
    assert _row(page, "mfa-msp-staff").endswith("1 of 3 33% 2")
    viewer = sign_in(HttpClient(), personas.viewer_a)
    page = viewer.get(BASE).content.decode()
    assert _row(page, "mfa-client-people").endswith("2 of 2 100% 0")
    assert "am@msp.test" not in page
    # Removing the factor (the sign-in security page's service, confirmed with a fresh code)
    # uncovers the owner again.
    mfa_services.remove_factor(user=personas.owner_a, code=fresh_code(personas.owner_a))
    with tenant_context(tenant_a):
        assert [u.email for u in identity_mfa(tenant_a).client_people.without] == ["owner@a.test"]
    # A new account manager of the client counts among the staff, without a factor.
    am2 = User.objects.create_user(email="am2@msp.test", staff_role="account_manager")
    tenant_a.account_managers.add(am2)
    with tenant_context(tenant_a):
        staff = identity_mfa(tenant_a).msp_staff
    assert staff.total == 4 and "am2@msp.test" in [u.email for u in staff.without]


def test_an_empty_group_has_no_percentage(tenant_b):
    with tenant_context(tenant_b):
        coverage = identity_mfa(tenant_b)
    assert coverage.client_staff_accounts.total == 0
    assert coverage.client_staff_accounts.percent is None
