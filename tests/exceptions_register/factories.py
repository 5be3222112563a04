"""Helpers that build exceptions through the real services (inside a tenant schema)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from exceptions_register import services
from exceptions_register.choices import ControlKind, ExceptionKind
from exceptions_register.models import RiskException
from tenants.models import Client, User
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


def sign(exception: RiskException, *, client: Client, user: User) -> RiskException:
    return services.sign_exception(
        client=client,
        exception=exception,
        user=user,
        password=PASSWORD,
        text_sha256=exception.canonical_sha256(),
        ip_address="198.51.100.7",
        user_agent="pytest",
    )


def make_active(*, client: Client, approver: User, **overrides: Any) -> RiskException:
    return sign(
        make_exception(client=client, approver=approver, **overrides), client=client, user=approver
    )
