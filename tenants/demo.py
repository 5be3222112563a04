"""The demo MSP that ``make run`` seeds on first start.

Other apps extend the demo by providing ``<app>.demo.seed_client(client)``; it is called inside the
client's schema after the client exists (see ``seed_demo``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from django.conf import settings
from django_tenants.utils import tenant_context

from tenants.choices import MembershipRole, StaffRole
from tenants.models import Client, User
from tenants.services import add_membership, create_client

DEMO_CLIENTS = [
    ("riverside-clinic", "Riverside Family Clinic", "America/Chicago", True),
    ("harbor-dental", "Harbor Dental Group", "America/New_York", True),
    ("alpine-logistics", "Alpine Logistics GmbH", "Europe/Berlin", False),
    ("northwind-legal", "Northwind Legal LLP", "Europe/London", False),
    ("sunrise-pediatrics", "Sunrise Pediatrics", "America/Los_Angeles", True),
    ("kiwi-accounting", "Kiwi Accounting Ltd", "Pacific/Auckland", False),
]
DEMO_STAFF = [
    ("admin@patchops.test", "Maya Admin", StaffRole.MSP_ADMIN),
    ("engineer@patchops.test", "Eli Engineer", StaffRole.ENGINEER),
    ("am@patchops.test", "Ava Account-Manager", StaffRole.ACCOUNT_MANAGER),
]
DEMO_EXTENSION_APPS = [
    "inventory",
    "patchops",
    "rings",
    "exceptions_register",
    "evidence",
    "integrations",
]


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    client: str = ""


def _user(email: str, full_name: str, staff_role: str = "") -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(
            email=email,
            password=settings.PATCHOPS_DEMO_PASSWORD,
            full_name=full_name,
            staff_role=staff_role,
            is_staff=staff_role == StaffRole.MSP_ADMIN,
            is_superuser=staff_role == StaffRole.MSP_ADMIN,
        )
    return user


def seed_client_data(client: Client) -> None:
    """The demo data of one client: every app's ``seed_client`` in the client's schema."""
    with tenant_context(client):
        for app in DEMO_EXTENSION_APPS:
            try:
                module = importlib.import_module(f"{app}.demo")
            except ModuleNotFoundError:
                continue
            module.seed_client(client)


def seed(*, with_data: bool = True) -> list[DemoLogin]:
    """Create the demo MSP (idempotent) and return its logins."""
    logins = [DemoLogin(email, role.label) for email, _, role in DEMO_STAFF]
    staff = {role: _user(email, name, role) for email, name, role in DEMO_STAFF}
    for index, (slug, name, tz, hipaa) in enumerate(DEMO_CLIENTS):
        client = Client.objects.filter(slug=slug).first()
        created = client is None
        if created:
            client = create_client(slug=slug, name=name, timezone_name=tz, is_hipaa=hipaa)
        if index < 3:
            client.account_managers.add(staff[StaffRole.ACCOUNT_MANAGER])
        owner = _user(f"owner@{slug}.test", f"{name.split()[0]} Owner")
        viewer = _user(f"viewer@{slug}.test", f"{name.split()[0]} Viewer")
        add_membership(user=owner, client=client, role=MembershipRole.CLIENT_OWNER)
        add_membership(user=viewer, client=client, role=MembershipRole.CLIENT_VIEWER)
        logins.append(DemoLogin(owner.email, "Client owner", name))
        if created and with_data:
            seed_client_data(client)
            # Today's scorecard row again, now that rollouts and exceptions exist too, so the
            # cross-client pages agree with the client's own pages from the first minute.
            from django.utils import timezone

            from scorecards.services import record_scorecard

            record_scorecard(client=client, at=timezone.now())
    return logins
