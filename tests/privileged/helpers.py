"""Scenario helpers of the privileged register tests: accounts created through the service."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.test import Client as HttpClient

from privileged import services
from privileged.choices import AccountKind, MfaState
from tests.mfa import sign_in

BASE = "/clients/tenant-a/privileged-accounts/"
API = "/clients/tenant-a/api/v1/privileged-accounts/"


def session(user: Any) -> HttpClient:
    return sign_in(HttpClient(), user)


def register(
    client: Any,
    actor: Any,
    *,
    name: str = "Domain admin",
    kind: str = AccountKind.PRIVILEGED,
    owner_email: str = "pat@client.test",
    known_by: list[str] | None = None,
    last_rotated_on: date | None = None,
    last_reviewed_on: date | None = None,
    mfa_state: str = MfaState.ENFORCED,
    **extra: Any,
) -> Any:
    return services.create_account(
        client=client,
        actor=actor,
        data=services.AccountInput(
            kind=kind,
            name=name,
            identifier=f"CLIENT\\{name.lower().replace(' ', '.')}",
            owner_name="Pat Owner",
            owner_email=owner_email,
            known_by=known_by or [],
            mfa_state=mfa_state,
            last_rotated_on=last_rotated_on,
            last_reviewed_on=last_reviewed_on,
            **extra,
        ),
    )
