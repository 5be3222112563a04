"""Helpers that build exceptions through the real services (inside a tenant schema)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.utils import timezone

from exceptions_register import services, signing
from exceptions_register.choices import ControlKind, ExceptionKind
from exceptions_register.models import RiskException
from tenants.models import Client, User
from tests.authenticator import SoftwareAuthenticator
from tests.conftest import PASSWORD
from tests.producers import reported_asset


def exception_input(*, approver: User | None, **overrides: Any) -> services.ExceptionInput:
    values: dict[str, Any] = {
        "kind": ExceptionKind.DEFERRAL,
        "reason": "Vendor certifies the update next month.",
        "ticket_reference": "PSA-1001",
        "expires_at": timezone.now() + timedelta(days=30),
        "approver": approver,
        "assets": [],
        "findings": [],
        "controls": [
            services.ControlInput(
                kind=ControlKind.EXTRA_MONITORING, description="EDR alerts reviewed daily."
            )
        ],
    }
    values.update(overrides)
    if not values["assets"] and not values["findings"] and "assets" not in overrides:
        values["assets"] = [reported_asset()]
    return services.ExceptionInput(**values)


def make_exception(
    *, client: Client, approver: User, actor: Any = None, submit: bool = True, **overrides: Any
) -> RiskException:
    return services.request_exception(
        client=client,
        actor=actor or approver,
        data=exception_input(approver=approver, **overrides),
        submit=submit,
    )


_AUTHENTICATORS: dict[int, SoftwareAuthenticator] = {}


def authenticator_for(user: User) -> SoftwareAuthenticator:
    """The user's software passkey, registered through the passkey service (once per test)."""
    from django.conf import settings

    from accounts.models import Passkey
    from accounts.passkeys import services as passkeys

    device = _AUTHENTICATORS.get(user.pk)
    if (
        device is None
        or not Passkey.objects.filter(user=user, credential_id=device.credential_id_b64).exists()
    ):
        device = SoftwareAuthenticator(
            rp_id=settings.WEBAUTHN_RP_ID, origin=settings.WEBAUTHN_ORIGIN[0]
        )
        options, challenge = passkeys.registration_options(user=user)
        passkeys.complete_registration(
            user=user, credential=device.create(options), challenge=challenge, name="test key"
        )
        _AUTHENTICATORS[user.pk] = device
    return device


def passkey_factor(exception: RiskException, *, user: User) -> signing.SigningFactor:
    """What the owner's browser sends: an assertion over SHA-256 of the text shown."""
    device = authenticator_for(user)
    options = signing.passkey_options(user=user, text=exception.canonical_text())
    return signing.SigningFactor(method="passkey", assertion=device.get(options))


def sign(exception: RiskException, *, client: Client, user: User) -> RiskException:
    return services.sign_exception(
        client=client,
        exception=exception,
        user=user,
        password=PASSWORD,
        text_sha256=exception.canonical_sha256(),
        factor=passkey_factor(exception, user=user),
        ip_address="198.51.100.7",
        user_agent="pytest",
    )


def make_active(*, client: Client, approver: User, **overrides: Any) -> RiskException:
    return sign(
        make_exception(client=client, approver=approver, **overrides), client=client, user=approver
    )


def page_options(http: Any, url: str) -> dict | None:
    """The passkey options a sign-off page hands to navigator.credentials.get(), read from the
    page as the browser's script reads them (None when the page offers no passkey)."""
    import html
    import re

    body = http.get(url).content.decode()
    match = re.search(r'<script id="passkey-options" type="application/json">(.*?)</script>', body)
    if match is None:
        return None
    return json.loads(html.unescape(match.group(1)))
