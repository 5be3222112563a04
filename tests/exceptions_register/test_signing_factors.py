"""Signing an exception needs the owner's second factor at that moment, through the portal.

With a passkey (registered on /accounts/passkeys/ by a software authenticator answering as a
browser would), the signature is the authenticator's assertion over SHA-256 of the exact text;
the test checks it with the authenticator's own key, and the evidence bundle's offline verifier
checks it from the bundle alone and refuses a changed text or signature. With a TOTP code
(computed here by RFC 6238, independently of django-otp) the signature is the weaker "totp".
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import subprocess
import sys
import zipfile

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEvent
from evidence.models import EvidenceEvent
from exceptions_register.choices import ExceptionState
from exceptions_register.models import RiskException
from reports import verify_bundle
from reports.models import ReportKind
from reports.services import generate_report, render_report
from tests.authenticator import SoftwareAuthenticator, b64url, register_over_http, unb64url
from tests.conftest import PASSWORD
from tests.evidence.pdftext import pdf_pages
from tests.exceptions_register.factories import make_exception, page_options
from tests.mfa import fresh_code

pytestmark = pytest.mark.django_db
PORTAL = "/clients/tenant-a/portal/exceptions/"


def _post(http, exception, **data):
    payload = {
        "decision": "sign",
        "password": PASSWORD,
        "text_sha256": exception.canonical_sha256(),
    }
    payload.update(data)
    return http.post(f"{PORTAL}{exception.uuid}/", payload, REMOTE_ADDR="192.0.2.9")


def _register(http, tenant, **kwargs):
    """Register a passkey on /accounts/passkeys/ (a public page), then back to the client."""
    device = register_over_http(http, **kwargs)
    connection.set_tenant(tenant)
    return device


def _sign_with_passkey(http, device, exception):
    options = page_options(http, f"{PORTAL}{exception.uuid}/")
    return _post(http, exception, passkey_assertion=json.dumps(device.get(options)))


def _bundle(client) -> bytes:
    period = timezone.now().astimezone(client.tz).date().replace(day=1)
    report = generate_report(client=client, kind=ReportKind.BUNDLE, period=period)
    with report.file.open("rb") as fh:
        return fh.read()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rezip(members: dict[str, bytes], path):
    """The bundle with changed members, its manifest's hashes made to match again (so only
    the signature checks can notice)."""
    manifest = json.loads(members["manifest.json"])
    for entry in manifest["files"]:
        data = members[entry["path"]]
        entry["sha256"] = hashlib.sha256(data).hexdigest()
        entry["size"] = len(data)
    members = {**members, "manifest.json": json.dumps(manifest).encode()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _run_verifier(path) -> subprocess.CompletedProcess:
    # Isolated mode, from an empty folder: the verifier alone, without the portal's code.
    return subprocess.run(
        [sys.executable, "-I", str(verify_bundle.__file__), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(path.parent),
    )


def test_passkey_signature_is_over_the_text_and_verifies_offline(
    in_tenant_a, personas, login, tmp_path
):
    http = login(personas.owner_a)
    device = _register(http, in_tenant_a, name="Office key")
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a)
    text = exception.canonical_text()

    response = _sign_with_passkey(http, device, exception)
    assert response.status_code == 302, response.content.decode()[-2000:]
    exception.refresh_from_db()
    signature = exception.signature
    assert exception.state == ExceptionState.ACTIVE
    assert signature.method == "passkey" and signature.signed_text == text
    assert signature.credential_id == device.credential_id_b64
    assert bytes(signature.credential_public_key) == device.cose_key()
    # Independently of the portal: the owner's key signed these bytes, over this text's hash.
    client_data = json.loads(bytes(signature.client_data_json))
    assert client_data["type"] == "webauthn.get"
    assert unb64url(client_data["challenge"]) == hashlib.sha256(text.encode()).digest()
    device.verify(
        authenticator_data=bytes(signature.authenticator_data),
        client_data_json=bytes(signature.client_data_json),
        signature=bytes(signature.assertion_signature),
    )
    event = EvidenceEvent.objects.get(kind="exception.signed", subject_id=str(exception.uuid))
    assert event.payload["method"] == "passkey"
    assert event.payload["credential_id"] == device.credential_id_b64

    # The engineer's exception page says how it was signed.
    page = login(personas.engineer).get(f"/clients/tenant-a/exceptions/{exception.uuid}/")
    assert 'data-testid="signature-method"' in page.content.decode()
    assert "Passkey (WebAuthn assertion over the text)" in page.content.decode()
    api = login(personas.engineer).get(f"/clients/tenant-a/api/v1/exceptions/{exception.uuid}/")
    assert api.json()["signature_method"] == "passkey"
    export = login(personas.engineer).get("/clients/tenant-a/exceptions/export.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert [r["signature_method"] for r in rows if r["id"] == str(exception.uuid)] == ["passkey"]

    data = _bundle(in_tenant_a)
    members = _members(data)
    lines = [json.loads(x) for x in members["evidence/signatures.jsonl"].decode().splitlines()]
    assert [(x["exception"], x["method"]) for x in lines] == [(str(exception.uuid), "passkey")]
    assert lines[0]["signed_text"] == text
    assert lines[0]["text_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert base64.urlsafe_b64decode(lines[0]["credential_public_key"] + "==") == device.cose_key()
    (tmp_path / "bundle.zip").write_bytes(data)
    result = _run_verifier(tmp_path / "bundle.zip")
    assert result.returncode == 0, result.stdout + result.stderr

    # A changed text: its hash and the assertion's challenge no longer match.
    forged = dict(lines[0], signed_text=text.replace("Vendor certifies", "Vendor refuses"))
    forged["text_sha256"] = hashlib.sha256(forged["signed_text"].encode()).hexdigest()
    changed = {**members, "evidence/signatures.jsonl": (json.dumps(forged) + "\n").encode()}
    result = _run_verifier(_rezip(changed, tmp_path / "text.zip"))
    assert result.returncode == 1
    assert "challenge is not the SHA-256 of the signed text" in result.stdout
    assert "names another text" in result.stdout  # the chain's event disagrees too

    # One bit of the signature flipped: it no longer verifies with the public key.
    raw = bytearray(unb64url(lines[0]["signature"]))
    raw[-1] ^= 0x01
    flipped = dict(lines[0], signature=base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="))
    changed = {**members, "evidence/signatures.jsonl": (json.dumps(flipped) + "\n").encode()}
    result = _run_verifier(_rezip(changed, tmp_path / "sig.zip"))
    assert result.returncode == 1
    assert "does not verify with the credential's public key" in result.stdout

    # Another key (one the forger holds) in place of the owner's: the chain recorded the owner's.
    forger = SoftwareAuthenticator(rp_id=lines[0]["rp_id"], origin=settings.WEBAUTHN_ORIGIN[0])
    forged_assertion = forger.get(
        {"challenge": json.loads(bytes(signature.client_data_json))["challenge"]}
    )
    swapped = dict(
        lines[0],
        credential_public_key=b64url(forger.cose_key()),
        authenticator_data=forged_assertion["response"]["authenticatorData"],
        client_data_json=forged_assertion["response"]["clientDataJSON"],
        signature=forged_assertion["response"]["signature"],
    )
    changed = {**members, "evidence/signatures.jsonl": (json.dumps(swapped) + "\n").encode()}
    result = _run_verifier(_rezip(changed, tmp_path / "key.zip"))
    assert result.returncode == 1
    assert "the public key differs from the one the chain recorded" in result.stdout
    assert "the public key differs from the passkey's registration" in result.stdout

    # Dropping the signature is noticed from the chain.
    changed = {**members, "evidence/signatures.jsonl": b""}
    manifest = json.loads(members["manifest.json"])
    manifest["signatures"]["count"] = 0
    changed["manifest.json"] = json.dumps(manifest).encode()
    result = _run_verifier(_rezip(changed, tmp_path / "gone.zip"))
    assert result.returncode == 1 and "evidence/signatures.jsonl lacks" in result.stdout


def test_totp_signature_is_recorded_as_the_weaker_method(in_tenant_a, personas, login):
    http = login(personas.owner_a)  # adds the owner's authenticator app (tests.mfa.enrol)
    first = make_exception(client=in_tenant_a, approver=personas.owner_a)
    second = make_exception(client=in_tenant_a, approver=personas.owner_a, ticket_reference="PSA-2")
    body = http.get(f"{PORTAL}{first.uuid}/").content.decode()
    assert 'id="id_totp_code"' in body and 'data-testid="sign-passkey"' not in body
    code = fresh_code(personas.owner_a)  # computed from the key enrolment showed
    wrong = f"{(int(code) + 500_000) % 1_000_000:06d}"
    assert _post(http, first, totp_code=wrong).status_code == 400
    response = _post(http, first, totp_code=code)
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.state == ExceptionState.ACTIVE and first.signature.method == "totp"
    assert bytes(first.signature.assertion_signature) == b"" and first.signature.credential_id == ""
    # The same code cannot sign a second time.
    replay = _post(http, second, totp_code=code)
    assert replay.status_code == 400 and "already used" in replay.content.decode()
    assert RiskException.objects.get(pk=second.pk).state == ExceptionState.PENDING_SIGNOFF
    page = login(personas.engineer).get(f"/clients/tenant-a/exceptions/{first.uuid}/")
    assert "Authenticator app code (TOTP)" in page.content.decode()
    assert AuditEvent.objects.filter(kind="mfa.failed", actor=personas.owner_a).count() == 2


def test_signing_is_refused_without_a_fresh_factor(in_tenant_a, personas, login):
    http = login(personas.owner_a)
    device = _register(http, in_tenant_a)
    exception = make_exception(client=in_tenant_a, approver=personas.owner_a)
    other = make_exception(client=in_tenant_a, approver=personas.owner_a, ticket_reference="PSA-9")

    # The password alone no longer signs.
    response = _post(http, exception)
    assert response.status_code == 400
    assert "Signing needs your second factor now" in response.content.decode()
    # An assertion over another exception's text does not sign this one.
    other_options = page_options(http, f"{PORTAL}{other.uuid}/")
    response = _post(http, exception, passkey_assertion=json.dumps(device.get(other_options)))
    assert response.status_code == 400 and "challenge" in response.content.decode()
    # Nor does an authenticator that did not verify the person (no PIN, no biometric).
    device.user_verified = False
    options = page_options(http, f"{PORTAL}{exception.uuid}/")
    response = _post(http, exception, passkey_assertion=json.dumps(device.get(options)))
    assert response.status_code == 400 and "verif" in response.content.decode()
    device.user_verified = True
    # Nor a replayed assertion (its counter is not ahead of the last one seen)...
    good = device.get(options)
    assert _post(http, exception, passkey_assertion=json.dumps(good)).status_code == 302
    assert _post(http, other, passkey_assertion=json.dumps(good)).status_code == 400
    # ...nor another person's passkey.
    intruder = _register(login(personas.owner_b), in_tenant_a)
    http = login(personas.owner_a)
    options = page_options(http, f"{PORTAL}{other.uuid}/")
    options["allowCredentials"] = []
    response = _post(http, other, passkey_assertion=json.dumps(intruder.get(options)))
    assert (
        response.status_code == 400
        and "not registered to your account" in response.content.decode()
    )
    assert RiskException.objects.get(pk=other.pk).state == ExceptionState.PENDING_SIGNOFF
    assert AuditEvent.objects.filter(kind="mfa.failed", actor=personas.owner_a).count() == 4


def test_hipaa_pack_names_each_signatures_method(in_tenant_a, personas, login):
    http = login(personas.owner_a)
    device = _register(http, in_tenant_a)
    by_passkey = make_exception(
        client=in_tenant_a, approver=personas.owner_a, ticket_reference="PSA-PK"
    )
    assert _sign_with_passkey(http, device, by_passkey).status_code == 302
    by_code = make_exception(
        client=in_tenant_a, approver=personas.owner_a, ticket_reference="PSA-TOTP"
    )
    code = fresh_code(personas.owner_a)  # the authenticator app login() enrolled
    assert _post(http, by_code, totp_code=code).status_code == 302
    period = timezone.now().astimezone(in_tenant_a.tz).date().replace(day=1)
    text = " ".join(pdf_pages(render_report(in_tenant_a, ReportKind.HIPAA, period)))
    register = text.split("Compensating controls register")[-1]
    entries = {
        ticket: register.split(f"{ticket} ·")[1].split("In force")[0]
        for ticket in ("PSA-PK", "PSA-TOTP")
    }
    assert "Signing method Passkey (WebAuthn signature over the text's SHA-256" in entries["PSA-PK"]
    assert "Signing method TOTP code (weaker: not verifiable afterwards)" in entries["PSA-TOTP"]
