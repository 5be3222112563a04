"""/accounts/passkeys/: a person registers passkeys through the real endpoints (a software
authenticator answers as a browser would), names and removes them; each change is audited."""

from __future__ import annotations

import hashlib

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django_tenants.utils import tenant_context

from accounts.mfa import services
from accounts.models import AuditEvent, Passkey
from accounts.second_factor import SESSION_METHOD
from evidence.models import EvidenceEvent
from tests.authenticator import SoftwareAuthenticator, register_over_http
from tests.authenticator import post_json as _post_json
from tests.conftest import PASSWORD
from tests.mfa import fresh_code

pytestmark = pytest.mark.django_db
PAGE = "/accounts/passkeys/"


def test_owner_registers_a_passkey_and_it_is_listed_and_audited(personas, login):
    http = login(personas.owner_a)
    assert 'class="empty"' in http.get(PAGE).content.decode()
    options = _post_json(http, f"{PAGE}register/options/").json()
    assert options["rp"]["id"] == settings.WEBAUTHN_RP_ID
    assert options["user"]["name"] == "owner@a.test"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    device = SoftwareAuthenticator(
        rp_id=settings.WEBAUTHN_RP_ID, origin=settings.WEBAUTHN_ORIGIN[0]
    )
    response = _post_json(
        http, f"{PAGE}register/", {"name": "Office key", "credential": device.create(options)}
    )
    assert response.status_code == 201
    passkey = Passkey.objects.get(user=personas.owner_a)
    assert passkey.name == "Office key" and passkey.credential_id == device.credential_id_b64
    assert bytes(passkey.public_key) == device.cose_key()
    page = http.get(PAGE).content.decode()
    assert "Office key" in page and 'data-testid="passkey-row"' in page
    event = AuditEvent.objects.get(
        kind="mfa.enrolled", actor=personas.owner_a, detail__method="passkey"
    )
    assert event.client.slug == "tenant-a"
    # The key is in the client's evidence chain too, by its SHA-256.
    with tenant_context(event.client):
        chained = EvidenceEvent.objects.get(kind="passkey.registered")
    assert chained.payload["credential_id"] == device.credential_id_b64
    assert chained.payload["public_key_sha256"] == hashlib.sha256(device.cose_key()).hexdigest()
    # The next registration excludes the passkey already there.
    again = _post_json(http, f"{PAGE}register/options/").json()
    assert [c["id"] for c in again["excludeCredentials"]] == [device.credential_id_b64]


def test_registration_is_refused_without_its_challenge_or_with_another_origin(personas, login):
    http = login(personas.owner_a)
    device = SoftwareAuthenticator(
        rp_id=settings.WEBAUTHN_RP_ID, origin=settings.WEBAUTHN_ORIGIN[0]
    )
    options = _post_json(http, f"{PAGE}register/options/").json()
    credential = device.create(options)
    assert (
        _post_json(http, f"{PAGE}register/", {"name": "", "credential": credential}).status_code
        == 400
    )
    # The name error consumed the challenge: the same response cannot be sent again.
    replay = _post_json(http, f"{PAGE}register/", {"name": "Key", "credential": credential})
    assert replay.status_code == 400 and "Start again" in replay.json()["detail"]
    elsewhere = SoftwareAuthenticator(rp_id=settings.WEBAUTHN_RP_ID, origin="https://evil.test")
    options = _post_json(http, f"{PAGE}register/options/").json()
    response = _post_json(
        http, f"{PAGE}register/", {"name": "Key", "credential": elsewhere.create(options)}
    )
    assert response.status_code == 400 and "origin" in response.json()["detail"]
    bad = http.post(f"{PAGE}register/", "not json", content_type="application/json")
    assert bad.status_code == 400 and "JSON" in bad.json()["detail"]
    assert not Passkey.objects.filter(user=personas.owner_a).exists()
    assert not AuditEvent.objects.filter(kind="mfa.enrolled", detail__method="passkey").exists()


def test_rename_and_remove_only_ones_own_passkeys(personas, login):
    http = login(personas.owner_a)
    register_over_http(http, name="Phone")
    mine = Passkey.objects.get(user=personas.owner_a)
    response = http.post(PAGE, {"action": "rename", "passkey": mine.uuid, "name": "Old phone"})
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.name == "Old phone"
    assert (
        http.post(PAGE, {"action": "rename", "passkey": mine.uuid, "name": " "}).status_code == 400
    )
    other = login(personas.owner_b)
    assert other.post(PAGE, {"action": "remove", "passkey": mine.uuid}).status_code == 400
    assert Passkey.objects.filter(pk=mine.pk).exists()
    http = login(personas.owner_a)
    assert http.post(PAGE, {"action": "remove", "passkey": mine.uuid}).status_code == 302
    assert not Passkey.objects.filter(pk=mine.pk).exists()
    removed = AuditEvent.objects.get(kind="mfa.removed")
    assert removed.actor == personas.owner_a and removed.detail["name"] == "Old phone"
    with tenant_context(removed.client):
        assert EvidenceEvent.objects.get(kind="passkey.removed").payload["name"] == "Old phone"


def test_anonymous_is_sent_to_login(http):
    for url in (PAGE, f"{PAGE}register/options/", f"{PAGE}register/", f"{PAGE}verify/"):
        response = http.post(url) if url != PAGE else http.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_passkey_only_user_signs_in_with_the_passkey(personas, login):
    engineer = personas.engineer
    setup = login(
        engineer
    )  # enrols an authenticator app: a passkey is added from a verified session
    device = register_over_http(setup)
    services.remove_factor(user=engineer, code=fresh_code(engineer))  # now only the passkey
    http = HttpClient()
    assert (
        http.post("/accounts/login/", {"username": engineer.email, "password": PASSWORD})[
            "Location"
        ]
        == "/"
    )
    asked = http.get("/")
    assert asked.status_code == 302 and asked["Location"].startswith("/accounts/mfa/verify/")
    page = http.get(asked["Location"]).content.decode()
    # The verify page offers the passkey (its script from static/js/, no inline script) and no
    # code field, since there is no authenticator app.
    assert 'id="passkey-verify"' in page and 'data-verify-url="/accounts/passkeys/verify/"' in page
    assert 'src="/static/js/passkeys.js"' in page and "<script>" not in page
    assert 'name="code"' not in page
    options = _post_json(http, f"{PAGE}verify/options/").json()
    assert [c["id"] for c in options["allowCredentials"]] == [device.credential_id_b64]
    # An assertion over another challenge is refused and audited.
    wrong = _post_json(
        http, f"{PAGE}verify/", {"credential": device.get(options, challenge="AAAA")}
    )
    assert wrong.status_code == 400
    assert SESSION_METHOD not in http.session
    assert http.get("/").status_code == 302
    assert AuditEvent.objects.filter(kind="mfa.failed", actor=engineer).count() == 1
    options = _post_json(http, f"{PAGE}verify/options/").json()
    response = _post_json(http, f"{PAGE}verify/", {"credential": device.get(options)})
    assert response.status_code == 200 and response.json()["method"] == "passkey"
    assert http.session[SESSION_METHOD] == "passkey"
    assert Passkey.objects.get(user=engineer).sign_count == device.sign_count
    assert http.get("/").status_code == 200  # signed in
