"""The real pages run under the real Content-Security-Policy and Permissions-Policy without a
single violation in Chromium's console: their scripts are files, Swagger UI included."""

from __future__ import annotations

import pytest

from tests.browser.conftest import policy_problems, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

PAGES = [
    "/",
    "/scorecards/",
    "/catalogues/",
    "/catalogue-uploads/",
    "/audit-log/",
    "/clients/tenant-a/",
    "/clients/tenant-a/assets/",
    "/clients/tenant-a/findings/",
    "/clients/tenant-a/exceptions/",
    "/clients/tenant-a/exceptions/new/",
    "/clients/tenant-a/rollouts/",
    "/clients/tenant-a/uploads/",
    "/clients/tenant-a/evidence/",
    "/clients/tenant-a/audit-log/",
    "/clients/no-such-client/",
    "/admin/",
]


def test_an_inline_script_is_refused_and_reported(page):
    """The watch itself: an inline script is blocked and shows in the console."""
    page.goto("/accounts/login/")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ranInline = true'; document.body.appendChild(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.ranInline === undefined")
    assert any("script-src" in p for p in policy_problems(page.console_messages_seen))
    page.console_messages_seen.clear()


def test_the_real_pages_raise_no_policy_violation(page):
    sign_in(page, "admin@msp.test", PASSWORD)
    for path in PAGES:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert policy_problems(page.console_messages_seen) == [], path
    # The asset list's script ran (a file under the policy): its select-all box works.
    page.goto("/clients/tenant-a/assets/")
    assert page.evaluate("() => [...document.scripts].every(s => s.src)")


def test_swagger_ui_renders_under_the_policy(page):
    page.goto("/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "PatchOps API" in page.locator(".swagger-ui .info .title").inner_text()
    page.locator(".opblock").first.wait_for()
    assert policy_problems(page.console_messages_seen) == []
