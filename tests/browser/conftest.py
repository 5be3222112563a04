"""Headless Chromium (Debian's /usr/bin/chromium) driving the real portal on a live server.

The live server runs in a thread against the same test database. Browser tests do not use the
``db`` fixture: data they need must be committed (``committed`` fixture) so the server sees it.
It serves ``/static/`` from the apps' and the project's static folders (as ``runserver`` does),
so pages load their real scripts and stylesheets under the real Content-Security-Policy: a test
never injects a page script. Every page of every browser test is watched for violations of the
Content-Security-Policy and errors in the Permissions-Policy header (Chromium reports both in
the console); the test fails at its end when there was one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.test.testcases import LiveServerThread

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def live_url(django_db_setup, django_db_blocker) -> Iterator[str]:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM} (install Debian's chromium)")
    with django_db_blocker.unblock():
        server = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        yield f"http://127.0.0.1:{server.port}"
        server.terminate()


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    # A plain launch gives Chromium a fresh temporary profile (user-data dir) every run.
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


POLICY_MESSAGES = ("Content Security Policy", "Content-Security-Policy", "Permissions-Policy")


def policy_problems(messages: list[object]) -> list[str]:
    """Console messages of ``messages`` that report a policy violation or a header error."""
    return [
        f"{m.type}: {m.text} ({m.location.get('url', '')})"
        for m in messages
        if any(marker in m.text for marker in POLICY_MESSAGES)
    ]


@pytest.fixture
def page(chromium, live_url) -> Iterator[object]:
    context = chromium.new_context(base_url=live_url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    console: list[object] = []
    page.on("console", lambda message: console.append(message))
    page.console_messages_seen = console
    yield page
    context.close()
    problems = policy_problems(console)
    assert not problems, "the page broke its security policies:\n" + "\n".join(problems)


@pytest.fixture
def committed(django_db_blocker):
    """Run ORM work outside the test transaction (committed, visible to the live server)."""
    with django_db_blocker.unblock():
        yield


def sign_in(page, email: str, password: str) -> None:
    """Sign in through the form, then give the second factor as a person would: at the first
    sign-in add the authenticator (the key read from the page), later type its current code
    (computed by ``tests.mfa``, RFC 6238)."""
    from tenants.models import User
    from tests.mfa import fresh_code, totp

    page.goto("/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    if "/accounts/mfa/enrol/" in page.url:
        secret = page.locator("[data-testid=totp-secret]").inner_text()
        page.fill("#id_code", totp(secret))
        page.click("[data-testid=mfa-submit]")
        page.wait_for_load_state("networkidle")
        page.click("[data-testid=mfa-continue]")
        page.wait_for_load_state("networkidle")
    elif "/accounts/mfa/verify/" in page.url:
        page.fill("#id_code", fresh_code(User.objects.get(email=email)))
        page.click("[data-testid=mfa-submit]")
        page.wait_for_load_state("networkidle")


@pytest.fixture
def fresh_client(committed):
    """A committed client of its own with an owner, dropped (schema and all) afterwards.

    Browser tests write through the live server, and append-only tables (the evidence log)
    cannot be cleaned row by row; dropping the whole schema leaves the shared tenants untouched.
    """
    import uuid

    from django.db import connection

    from tenants.choices import MembershipRole
    from tenants.models import User
    from tenants.services import add_membership, create_client
    from tests.conftest import PASSWORD

    slug = f"browser-{uuid.uuid4().hex[:8]}"
    client = create_client(
        slug=slug, name="Cedar Valley Clinic", timezone_name="America/Chicago", is_hipaa=True
    )
    owner = User.objects.create_user(email=f"owner@{slug}.test", password=PASSWORD)
    add_membership(user=owner, client=client, role=MembershipRole.CLIENT_OWNER)
    yield client, owner
    connection.set_schema_to_public()
    client.delete(force_drop=True)
    # Users are deactivated, never deleted: signatures and approvals in client schemas name them.
    User.objects.filter(pk=owner.pk).update(is_active=False)
    # Leave no idle session behind: the session-end teardown cannot drop a database in use.
    connection.close()
