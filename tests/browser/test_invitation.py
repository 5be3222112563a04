"""An MSP admin invites a client owner from the People page; the owner opens the mailed link,
chooses a password, adds an authenticator app and lands in their client, signed in."""

import pytest
from django.core import mail

from tests.accounts.helpers import invitation_link
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.mfa import totp

pytestmark = pytest.mark.browser


def test_an_msp_admin_invites_an_owner_who_accepts(page, chromium, live_url, fresh_client):
    from tenants.models import Membership, User

    client, _owner = fresh_client
    invitee = f"second.owner@{client.slug}.test"
    try:
        sign_in(page, "admin@msp.test", PASSWORD)
        page.goto(f"/clients/{client.slug}/people/")
        page.fill("#id_email", invitee)
        page.select_option("#id_role", "client_owner")
        page.click("[data-testid=invite-form] button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert f"Invitation sent to {invitee}" in page.locator(".messages").inner_text()
        assert invitee in page.locator("[data-testid=invitations]").inner_text()

        path, _token = invitation_link(invitee)
        assert any(invitee in m.to for m in mail.outbox)
        context = chromium.new_context(base_url=live_url)
        try:
            other = context.new_page()
            other.set_default_timeout(15_000)
            other.goto(path)
            assert "Join Cedar Valley Clinic" in other.locator("h1").inner_text()
            other.fill("#id_full_name", "Second Owner")
            other.fill("#id_password1", "short")
            other.fill("#id_password2", "short")
            other.click("[data-testid=accept-form] button[type=submit]")
            assert "too short" in other.locator("[role=alert]").first.inner_text()
            other.fill("#id_password1", "cedar-valley-lantern-2026")
            other.fill("#id_password2", "cedar-valley-lantern-2026")
            other.click("[data-testid=accept-form] button[type=submit]")
            other.wait_for_load_state("networkidle")
            # A new owner adds an authenticator app before reaching the client.
            assert other.url.endswith(f"/accounts/mfa/enrol/?next=%2Fclients%2F{client.slug}%2F")
            secret = other.locator("[data-testid=totp-secret]").inner_text()
            other.fill("#id_code", totp(secret))
            other.click("[data-testid=mfa-submit]")
            other.wait_for_load_state("networkidle")
            other.click("[data-testid=mfa-continue]")
            other.wait_for_load_state("networkidle")
            assert other.url.endswith(f"/clients/{client.slug}/")
            assert other.locator("[data-testid=client-title]").inner_text() == "Cedar Valley Clinic"
            assert invitee in other.locator("[data-testid=who]").inner_text()
            # The link is spent.
            assert other.goto(path).status == 410
        finally:
            context.close()

        page.reload()
        assert invitee in page.locator("[data-testid=members]").inner_text()
        membership = Membership.objects.get(user__email=invitee, client=client)
        assert membership.role == "client_owner"
    finally:
        User.objects.filter(email=invitee).update(is_active=False)


def test_an_msp_admin_invites_an_engineer_who_joins_the_staff(page, chromium, live_url, committed):
    from django.db.models import Q

    from accounts.models import AuditEvent, Invitation
    from tenants.models import User

    invitee = "browser.engineer@msp.test"
    mail.outbox.clear()
    try:
        sign_in(page, "admin@msp.test", PASSWORD)
        page.goto("/accounts/users/")
        page.fill("#id_email", invitee)
        page.select_option("#id_role", "engineer")
        page.click("[data-testid=staff-invite-form] button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert f"Invitation sent to {invitee}" in page.locator(".messages").inner_text()
        assert invitee in page.locator("[data-testid=staff-invitations]").inner_text()

        path, _token = invitation_link(invitee)
        context = chromium.new_context(base_url=live_url)
        try:
            other = context.new_page()
            other.set_default_timeout(15_000)
            other.goto(path)
            assert other.locator("h1").inner_text() == "Join the MSP's staff"
            other.fill("#id_full_name", "New Engineer")
            other.fill("#id_password1", "harbour-lantern-copper-77")
            other.fill("#id_password2", "harbour-lantern-copper-77")
            other.click("[data-testid=accept-form] button[type=submit]")
            other.wait_for_load_state("networkidle")
            # Staff always add an authenticator app before the first page.
            assert "/accounts/mfa/enrol/" in other.url
            secret = other.locator("[data-testid=totp-secret]").inner_text()
            other.fill("#id_code", totp(secret))
            other.click("[data-testid=mfa-submit]")
            other.wait_for_load_state("networkidle")
            other.click("[data-testid=mfa-continue]")
            other.wait_for_load_state("networkidle")
            assert invitee in other.locator("[data-testid=who]").inner_text()
            assert other.goto(path).status == 410
        finally:
            context.close()

        page.reload()
        row = page.locator(f"[data-testid=users] tr[data-email='{invitee}']")
        assert row.locator("select[name=role]").input_value() == "engineer"
        assert not Invitation.objects.filter(email=invitee, accepted_at__isnull=True).exists()
        user = User.objects.get(email=invitee)
        assert user.staff_role == "engineer" and user.full_name == "New Engineer"
    finally:
        # A staff invitation belongs to no client: nothing drops it with a client, so the rows
        # this scenario committed go here (the suite's other tests count audit rows).
        Invitation.objects.filter(email=invitee).delete()
        AuditEvent.objects.filter(Q(target=invitee) | Q(actor_label=invitee)).delete()
        User.objects.filter(email=invitee).update(is_active=False)
