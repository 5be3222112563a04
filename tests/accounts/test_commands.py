"""manage.py invite_user: the link goes to the invitee's mailbox only; bad input changes nothing."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient

from accounts.models import AuditEvent, Invitation
from tenants.choices import MembershipRole
from tests.accounts.helpers import invitation_link

pytestmark = pytest.mark.django_db


def test_invite_user_mails_the_link_and_prints_no_token(personas, tenant_a, capsys):
    call_command("invite_user", "first.owner@alpha.test", "--client", "tenant-a", "--role", "owner")
    out = capsys.readouterr().out
    path, token = invitation_link("first.owner@alpha.test")
    assert token not in out and "first.owner@alpha.test" in out
    invitation = Invitation.objects.get(email="first.owner@alpha.test")
    assert invitation.role == MembershipRole.CLIENT_OWNER and invitation.invited_by is None
    assert AuditEvent.objects.get(kind="invitation.sent").actor_label == "manage.py invite_user"
    form = {"password1": "meadow-lantern-copper-5", "password2": "meadow-lantern-copper-5"}
    assert HttpClient().post(path, form).status_code == 302


def test_invite_user_on_behalf_of_an_msp_admin(personas, tenant_a):
    call_command(
        "invite_user",
        "x@alpha.test",
        "--client",
        "tenant-a",
        "--role",
        "viewer",
        "--by",
        "admin@msp.test",
    )
    assert Invitation.objects.get(email="x@alpha.test").invited_by == personas.msp_admin


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x@alpha.test", "--client", "nope", "--role", "owner"], "No client with the slug"),
        (["not-an-address", "--client", "tenant-a", "--role", "owner"], "valid e-mail"),
        (["engineer@msp.test", "--client", "tenant-a", "--role", "owner"], "MSP staff"),
        (
            [
                "x@alpha.test",
                "--client",
                "tenant-a",
                "--role",
                "owner",
                "--by",
                "engineer@msp.test",
            ],
            "--by",
        ),
        (["x@alpha.test", "--client", "tenant-a", "--role", "root"], "invalid choice"),
    ],
)
def test_invite_user_refuses_bad_input(personas, tenant_a, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("invite_user", *args)
    assert not Invitation.objects.exists() and not mail.outbox
