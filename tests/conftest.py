"""Tenants, personas and tokens for the whole suite.

Two clients (``tenant_a``, ``tenant_b``) and the personas are created once per session and
committed, so a real Celery worker and the browser's live server see them too. Each test that asks
for ``db`` runs in a transaction that is rolled back, so its own writes never leak.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from tenants.choices import MembershipRole, StaffRole, TokenScope
from tenants.models import ApiToken, Client, User

PASSWORD = "correct-horse-battery-staple"
REALDATA = Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"

# Playwright's sync API keeps an event loop in the test thread; ORM calls there are still sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Test-only speed and transport settings (production settings stay untouched).
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
settings.SECURE_SSL_REDIRECT = False
settings.SESSION_COOKIE_SECURE = False
settings.CSRF_COOKIE_SECURE = False
settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Every test client comes from 127.0.0.1 and the failure counters live in Redis across tests:
# the suite's own bad tokens must not throttle each other (tests of the throttle set their rate).
settings.API_TOKEN_FAILURE_RATE = "100000/minute"
settings.STORAGES["staticfiles"]["BACKEND"] = (
    "django.contrib.staticfiles.storage.StaticFilesStorage"
)
# Parallel runs (pytest -n): each xdist worker has its own test database (pytest-django adds the
# worker id to its name); its cache keys get their own prefix so locks never collide.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER:
    settings.CACHES["default"]["KEY_PREFIX"] += f"-test-{_XDIST_WORKER}"


@dataclass(frozen=True)
class Personas:
    msp_admin: User
    engineer: User
    account_manager: User
    owner_a: User
    viewer_a: User
    owner_b: User
    nobody: User


def _make_user(email: str, staff_role: str = "") -> User:
    return User.objects.create_user(email=email, password=PASSWORD, staff_role=staff_role)


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker, django_db_modify_db_settings):
    """Create the test database for every run (browser-only runs included), then the tenants."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        db_cfg = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        _seed_tenants_and_personas()
    yield
    with django_db_blocker.unblock():
        connection.close()  # a test may have left the session's connection unusable
        connection.set_schema_to_public()
        # Worker processes and server threads of the session may still hold a connection.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        teardown_databases(db_cfg, verbosity=0)


def _seed_tenants_and_personas() -> None:
    from tenants.services import (
        add_membership,
        create_client,
        ensure_public_client,
        ensure_template_schema,
    )

    ensure_public_client()
    ensure_template_schema()
    a = create_client(
        slug="tenant-a", name="Alpha Clinic", timezone_name="America/Chicago", is_hipaa=True
    )
    b = create_client(slug="tenant-b", name="Bravo Logistics", timezone_name="Europe/Berlin")
    _make_user("admin@msp.test", StaffRole.MSP_ADMIN)
    _make_user("engineer@msp.test", StaffRole.ENGINEER)
    am = _make_user("am@msp.test", StaffRole.ACCOUNT_MANAGER)
    a.account_managers.add(am)
    add_membership(user=_make_user("owner@a.test"), client=a, role=MembershipRole.CLIENT_OWNER)
    add_membership(user=_make_user("viewer@a.test"), client=a, role=MembershipRole.CLIENT_VIEWER)
    add_membership(user=_make_user("owner@b.test"), client=b, role=MembershipRole.CLIENT_OWNER)
    _make_user("nobody@nowhere.test")
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _public_schema_after_each_test() -> Iterator[None]:
    yield
    connection.set_schema_to_public()


@pytest.fixture
def tenant_a(db) -> Client:
    return Client.objects.get(slug="tenant-a")


@pytest.fixture
def tenant_b(db) -> Client:
    return Client.objects.get(slug="tenant-b")


@pytest.fixture
def in_tenant_a(tenant_a) -> Iterator[Client]:
    """Run the test body inside tenant A's schema."""
    with tenant_context(tenant_a):
        yield tenant_a


@pytest.fixture
def personas(db) -> Personas:
    get = User.objects.get
    return Personas(
        msp_admin=get(email="admin@msp.test"),
        engineer=get(email="engineer@msp.test"),
        account_manager=get(email="am@msp.test"),
        owner_a=get(email="owner@a.test"),
        viewer_a=get(email="viewer@a.test"),
        owner_b=get(email="owner@b.test"),
        nobody=get(email="nobody@nowhere.test"),
    )


@pytest.fixture
def http() -> HttpClient:
    return HttpClient()


_TEN_YEARS_IN_HOURS = 10 * 365 * 24
# Scenarios travel months back and forth with one signed-in engineer or owner; production's
# idle timeout and lifetime (tested in tests/accounts/test_sessions.py, which sets its own)
# would sign them out between two steps. The session cookie keeps Django's two weeks. Fixtures
# wider than a test (``scope="package"``…) apply these with ``override_settings``.
LONG_SESSIONS = {
    "SESSION_IDLE_TIMEOUT_STAFF_MINUTES": _TEN_YEARS_IN_HOURS * 60,
    "SESSION_IDLE_TIMEOUT_CLIENT_MINUTES": _TEN_YEARS_IN_HOURS * 60,
    "SESSION_ABSOLUTE_LIFETIME_HOURS": _TEN_YEARS_IN_HOURS,
    "SESSION_COOKIE_AGE": 14 * 24 * 3600,
}


@pytest.fixture(autouse=True)
def _sessions_outlive_the_scenario(settings):
    """Every test's sessions get ``LONG_SESSIONS``."""
    for name, value in LONG_SESSIONS.items():
        setattr(settings, name, value)


@pytest.fixture
def login(http):
    """``login(user)`` returns a test client with that user's session, its second factor given
    (a user who needs one gets an authenticator app first; see ``tests.mfa``)."""
    from tests.mfa import sign_in

    def _login(user: User) -> HttpClient:
        return sign_in(http, user)

    return _login


@pytest.fixture
def make_token(db):
    """``make_token(scope, client=None)`` returns (ApiToken, plaintext)."""
    from tenants.services import issue_api_token

    def _make(scope: str = TokenScope.READ, client: Client | None = None, name: str = "test"):
        issued = issue_api_token(name=name, scope=scope, client=client)
        return issued.token, issued.plaintext

    return _make


@pytest.fixture
def api(http):
    """``api(token)`` returns a test client that sends the token as a Bearer header."""

    def _api(plaintext: str) -> HttpClient:
        http.defaults["HTTP_AUTHORIZATION"] = f"Bearer {plaintext}"
        return http

    return _api


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real data folder not found at {REALDATA} (tests read ../shared/realdata)")
    return REALDATA


__all__ = ["ApiToken", "PASSWORD", "Personas"]
