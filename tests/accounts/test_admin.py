"""The Django admin cannot create or change client memberships, nor set or change a client
user's password or address: tested through the admin's own pages."""

from __future__ import annotations

import pytest

from tenants.choices import MembershipRole
from tenants.models import Membership, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_admin_cannot_add_a_membership(login, personas, tenant_a):
    admin = login(personas.msp_admin)
    assert admin.get("/admin/tenants/membership/add/").status_code == 403
    response = admin.post(
        "/admin/tenants/membership/add/",
        {"user": personas.nobody.pk, "client": tenant_a.pk, "role": MembershipRole.CLIENT_OWNER},
    )
    assert response.status_code == 403
    assert not Membership.objects.filter(user=personas.nobody).exists()
    # The list reads, with no "add" link.
    listing = admin.get("/admin/tenants/membership/")
    assert listing.status_code == 200 and b"/admin/tenants/membership/add/" not in listing.content


def test_the_admin_cannot_change_or_delete_a_membership(login, personas, tenant_a):
    admin = login(personas.msp_admin)
    membership = Membership.objects.get(user=personas.viewer_a, client=tenant_a)
    change = f"/admin/tenants/membership/{membership.pk}/change/"
    assert admin.get(change).status_code == 200  # view only
    response = admin.post(
        change,
        {"user": personas.viewer_a.pk, "client": tenant_a.pk, "role": MembershipRole.CLIENT_OWNER},
    )
    assert response.status_code == 403
    delete = admin.post(f"/admin/tenants/membership/{membership.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403
    assert Membership.objects.get(pk=membership.pk).role == MembershipRole.CLIENT_VIEWER


def test_the_admin_has_no_password_form_for_a_client_user(login, personas):
    admin = login(personas.msp_admin)
    url = f"/admin/tenants/user/{personas.owner_a.pk}/password/"
    assert admin.get(url).status_code == 403
    response = admin.post(
        url, {"password1": "chosen-by-the-msp-1", "password2": "chosen-by-the-msp-1"}
    )
    assert response.status_code == 403
    assert User.objects.get(pk=personas.owner_a.pk).check_password(PASSWORD)
    page = admin.get(f"/admin/tenants/user/{personas.owner_a.pk}/change/")
    assert page.status_code == 200 and b"/password/" not in page.content


def test_the_admin_cannot_change_a_client_users_address_or_role(login, personas):
    admin = login(personas.msp_admin)
    admin.post(
        f"/admin/tenants/user/{personas.owner_a.pk}/change/",
        {
            "email": "msp-controlled@msp.test",
            "full_name": "x",
            "staff_role": "msp_admin",
            "is_active": "on",
            "is_superuser": "on",
        },
    )
    owner = User.objects.get(pk=personas.owner_a.pk)
    assert owner.email == "owner@a.test" and owner.staff_role == "" and not owner.is_superuser


def test_the_admin_creates_only_staff(login, personas):
    admin = login(personas.msp_admin)
    form = {
        "email": "client.user@alpha.test",
        "password1": "a-strong-one-2026",
        "password2": "a-strong-one-2026",
    }
    response = admin.post("/admin/tenants/user/add/", {**form, "staff_role": ""})
    assert response.status_code == 200 and b"This field is required" in response.content
    assert not User.objects.filter(email="client.user@alpha.test").exists()
    response = admin.post("/admin/tenants/user/add/", {**form, "staff_role": "engineer"})
    assert response.status_code == 302
    assert User.objects.get(email="client.user@alpha.test").staff_role == "engineer"


def test_the_admin_still_sets_a_staff_members_password(login, personas):
    admin = login(personas.msp_admin)
    url = f"/admin/tenants/user/{personas.engineer.pk}/password/"
    assert admin.get(url).status_code == 200


def test_changepassword_refuses_a_client_user(personas):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="client user"):
        call_command("changepassword", personas.owner_a.email)
    assert User.objects.get(pk=personas.owner_a.pk).check_password(PASSWORD)
