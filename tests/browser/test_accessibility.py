"""axe-core (the engine the browsers' own accessibility tools use) finds no serious or critical
violation on the main pages of each role's work: the engineer's console, the MSP admin's pages
(people, users, tokens, security, audit log, policies, register, integrations), the owner's
portal (home, exceptions and the signing page, people, audit log, reports) and the sign-in
page."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.db import connection
from django_tenants.utils import tenant_context

from tenants.models import User
from tests.browser.conftest import sign_in
from tests.conftest import PASSWORD
from tests.exceptions_register.factories import make_exception
from tests.privileged.helpers import register
from tests.producers import Device, reported_finding

pytestmark = pytest.mark.browser
SERIOUS = {"serious", "critical"}


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:3])
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


def check(page, path: str) -> list[str]:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(path.split("?")[0]) or "?" in path, f"{path} redirected: {page.url}"
    return [f"{path}: {problem}" for problem in serious_violations(page)]


@pytest.fixture
def scenario(fresh_client):
    client, owner = fresh_client
    with tenant_context(client):
        finding = reported_finding(
            Device("srv-a11y-01", os="windows_server", role="server", ephi=True),
            kb="KB5068791",
            severity="critical",
        )
        exception = make_exception(
            client=client,
            approver=owner,
            actor=User.objects.get(email="engineer@msp.test"),
            findings=[finding],
            assets=[],
            ticket_reference="PSA-A11Y-1",
        )
        account = register(
            client,
            User.objects.get(email="engineer@msp.test"),
            name="Front desk admin",
            owner_email=owner.email,
        )
    connection.set_schema_to_public()
    client.privileged_account = account
    return client, owner, finding, exception


def test_the_sign_in_page_has_no_serious_violation(page):
    assert check(page, "/accounts/login/") == []


def test_the_engineers_main_pages_have_no_serious_violation(page, scenario):
    client, _, finding, exception = scenario
    base = f"/clients/{client.slug}/"
    sign_in(page, "engineer@msp.test", PASSWORD)
    problems = []
    for path in [
        "/",
        base,
        f"{base}findings/",
        f"{base}findings/{finding.uuid}/",
        f"{base}assets/",
        f"{base}assets/{finding.asset.uuid}/",
        f"{base}rollouts/",
        f"{base}exceptions/",
        f"{base}exceptions/{exception.uuid}/",
        f"{base}compliance/",
        f"{base}reports/",
        f"{base}integrations/outbox/",
        f"{base}findings/?group=patch",
        f"{base}privileged-accounts/",
        f"{base}privileged-accounts/{client.privileged_account.uuid}/",
        f"{base}software/",
        f"{base}scope/",
        f"{base}evidence/",
        "/scorecards/",
        "/critical-queue/",
    ]:
        problems += check(page, path)
    assert problems == [], "\n".join(problems)


def test_the_owners_portal_has_no_serious_violation(page, scenario):
    client, owner, _, exception = scenario
    base = f"/clients/{client.slug}/"
    sign_in(page, owner.email, PASSWORD)
    problems = []
    for path in [
        base,
        f"{base}portal/exceptions/",
        f"{base}portal/exceptions/{exception.uuid}/",
        f"{base}people/",
        f"{base}audit-log/",
        f"{base}reports/",
        f"{base}findings/",
        f"{base}privileged-accounts/",
        "/accounts/mfa/",
        "/accounts/sessions/",
    ]:
        problems += check(page, path)
    assert problems == [], "\n".join(problems)


def test_the_msp_admins_pages_have_no_serious_violation(page, scenario):
    client, _, _, _ = scenario
    base = f"/clients/{client.slug}/"
    sign_in(page, "admin@msp.test", PASSWORD)
    problems = []
    for path in [
        "/",
        "/accounts/users/",
        "/audit-log/",
        "/catalogues/",
        "/catalogue-uploads/",
        "/patch-policy-templates/",
        "/msp-webhooks/",
        "/accounts/notifications/",
        f"{base}people/",
        f"{base}tokens/",
        "/accounts/tokens/",
        f"{base}security/",
        f"{base}audit-log/",
        f"{base}sla-policy/",
        f"{base}rings/",
        f"{base}patch-policies/",
        f"{base}reports/recipients/",
        f"{base}integrations/psa/",
        f"{base}webhooks/",
        "/notifications/chat-webhooks/",
        f"{base}no-such-page/",  # the 404 page
        f"{base}uploads/",
        f"{base}unknown-devices/",
        f"{base}exceptions/new/",
    ]:
        problems += check(page, path)
    assert problems == [], "\n".join(problems)


def test_the_report_settings_pages_have_no_serious_violation(page, fresh_client):
    client, _owner = fresh_client
    sign_in(page, "admin@msp.test", PASSWORD)
    problems = []
    for path in ["/report-branding/", f"/clients/{client.slug}/reports/settings/"]:
        problems += check(page, path)
    assert problems == [], "\n".join(problems)
