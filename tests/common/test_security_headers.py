"""Content-Security-Policy and Permissions-Policy on every kind of answer (every route of the
URLconfs is walked in tests/test_every_route.py), and no page that needs an inline script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def features(response) -> dict[str, str]:
    return dict(item.strip().split("=", 1) for item in response["Permissions-Policy"].split(","))


def assert_secured(response, *, admin: bool = False) -> None:
    csp = directives(response)
    assert csp["script-src"] == ["'self'"], csp
    if admin:  # Django's admin writes inline styles; its scripts are files like ours
        assert csp.pop("style-src") == ["'self'", "'unsafe-inline'"]
    assert not any("unsafe" in v for values in csp.values() for v in values), csp
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    policy = features(response)
    for off in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert policy[off] == "()", policy
    assert policy["publickey-credentials-get"] == "(self)"
    assert policy["publickey-credentials-create"] == "(self)"


@pytest.mark.django_db
def test_pages_errors_api_admin_and_docs_carry_both_policies(
    http, login, personas, api, make_token, tenant_a, monkeypatch
):
    from tenants.choices import TokenScope

    answers = {
        "sign-in page": http.get("/accounts/login/"),
        "redirect to sign-in": http.get("/"),
        "unknown page": http.get("/no-such-page/"),
        "unknown client": http.get("/clients/no-such-client/"),
        "API without credentials": http.get("/api/v1/clients/"),
        "admin sign-in": http.get("/admin/login/"),
        "API docs": http.get("/api/docs/"),
        "health": http.get("/health/"),
        "body too large": http.post(
            "/accounts/login/", b"x", content_type="text/plain", CONTENT_LENGTH="999999999"
        ),
    }
    signed_in = login(personas.msp_admin)
    answers["home"] = signed_in.get("/")
    answers["client page"] = signed_in.get("/clients/tenant-a/findings/")
    answers["admin index"] = signed_in.get("/admin/")
    answers["refused page"] = login(personas.engineer).get("/audit-log/")
    http.logout()
    _, token = make_token(TokenScope.READ, tenant_a)
    client_api = api(token)
    answers["client API"] = client_api.get("/clients/tenant-a/api/v1/findings/")
    from reports.api import views

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.StoredReportViewSet, "list", broken)
    client_api.raise_request_exception = False
    answers["API 500"] = client_api.get("/clients/tenant-a/api/v1/reports/")
    assert answers["API 500"].status_code == 500
    assert answers["body too large"].status_code == 413
    assert answers["unknown page"].status_code == 404
    assert answers["refused page"].status_code == 403
    for name, response in answers.items():
        assert "Content-Security-Policy" in response, name
        assert_secured(response, admin=name.startswith("admin"))


@pytest.mark.django_db
def test_the_api_docs_load_their_init_script_as_a_file(http):
    page = http.get("/api/docs/").content.decode()
    assert "<style" not in page
    inline = [s for s in re.findall(r"<script([^>]*)>", page) if "src=" not in s]
    assert inline == [], inline
    script_url = re.search(r'<script src="([^"]*script=[^"]*)"', page).group(1)
    script = http.get(script_url.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_no_template_has_an_inline_script_handler_or_style_attribute():
    """Every script is a file under static/js (loaded with src=); no on* handler, no
    javascript: URL, no style attribute (the policy allows none of them)."""
    found = []
    folders = [ROOT / "templates"] + sorted(ROOT.glob("*/templates"))
    for path in (p for folder in folders for p in folder.rglob("*.html")):
        if "/pdf/" in str(path):  # rendered to PDF by WeasyPrint, never served to a browser
            continue
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag:
                found.append(f"{path}: inline script {tag}")
        for pattern in (r"\son[a-z]+\s*=", r"javascript:", r"\sstyle\s*=", r"<style\b"):
            if re.search(pattern, text, re.IGNORECASE):
                found.append(f"{path}: {pattern}")
    assert found == []
