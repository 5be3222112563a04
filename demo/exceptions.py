"""Demo exceptions for a new demo client (called inside its schema by ``seed_demo``).

Uses the assets and findings the inventory and patch-core demos created earlier; with an empty
fleet it creates nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from evidence.services import record_event
from exceptions_register.choices import (
    ControlKind,
    ExceptionKind,
    ExceptionState,
    SignatureDecision,
    SignatureMethod,
)
from exceptions_register.models import CompensatingControl, RiskException, Signature
from exceptions_register.services import (
    ControlInput,
    ExceptionInput,
    _except_findings,
    _payload,
    request_exception,
)
from findings.models import Finding
from inventory.models import Asset, AssetClass
from tenants.choices import MembershipRole, StaffRole
from tenants.models import Client, User


def _requester() -> User | None:
    return User.objects.filter(staff_role=StaffRole.ENGINEER, is_active=True).order_by("pk").first()


def _historic(
    *,
    client: Client,
    owner: User,
    requester: User | None,
    kind: str,
    ticket: str,
    reason: str,
    created_at: datetime,
    signed_at: datetime,
    expires_at: datetime,
    assets: list[Asset],
    findings: list[Finding],
    controls: list[tuple[str, str]],
    except_findings: bool = True,
) -> RiskException:
    """An exception requested and signed in the past (the register's history), recorded with
    the payloads the register's services write."""
    exception = RiskException.objects.create(
        kind=kind,
        reason=reason,
        ticket_reference=ticket,
        expires_at=expires_at,
        approver=owner,
        requested_by=requester,
        requested_by_label=requester.email if requester else "system",
        created_at=created_at,
        submitted_at=created_at,
        state=ExceptionState.PENDING_SIGNOFF,
    )
    exception.assets.set(assets)
    exception.findings.set(findings)
    for control_kind, description in controls:
        CompensatingControl.objects.create(
            exception=exception, kind=control_kind, description=description
        )
    text, digest = exception.canonical_text(), exception.canonical_sha256()
    RiskException.objects.filter(pk=exception.pk).update(
        state=ExceptionState.ACTIVE, starts_at=signed_at
    )
    Signature.objects.create(
        exception=exception,
        user=owner,
        user_email=owner.email,
        decision=SignatureDecision.SIGNED,
        signed_at=signed_at,
        ip_address="203.0.113.24",
        user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edge/126.0",
        signed_text=text,
        text_sha256=digest,
        # The demo's history: signed with a code from the owner's authenticator app.
        method=SignatureMethod.TOTP,
    )
    exception.refresh_from_db()
    record_event(
        kind="exception.requested",
        subject_type="exception",
        subject_id=exception.uuid,
        actor=requester or "system",
        payload=_payload(exception, supersedes=None, approver=owner.email),
        occurred_at=created_at,
    )
    record_event(
        kind="exception.signed",
        subject_type="exception",
        subject_id=exception.uuid,
        actor=owner,
        payload=_payload(
            exception,
            starts_at=signed_at.isoformat(),
            text_sha256=digest,
            ip_address="203.0.113.24",
            user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edge/126.0",
            method=SignatureMethod.TOTP,
            findings_excepted=_except_findings(exception) if except_findings else [],
        ),
        occurred_at=signed_at,
    )
    return exception


def seed_client(client: Client) -> None:
    owner = (
        User.objects.filter(
            memberships__client=client, memberships__role=MembershipRole.CLIENT_OWNER
        )
        .order_by("pk")
        .first()
    )
    assets = list(Asset.objects.select_related("asset_class").order_by("hostname"))
    if owner is None or not assets:
        return
    requester = _requester()
    now = timezone.now()
    with transaction.atomic():
        findings = list(Finding.objects.filter(asset__in=assets).order_by("due_at")[:6])
        deferral_findings = findings[:2]
        deferral_assets = [] if deferral_findings else assets[:1]
        _historic(
            client=client,
            owner=owner,
            requester=requester,
            kind=ExceptionKind.DEFERRAL,
            ticket="PSA-48213",
            reason=(
                "The line-of-business billing application is certified only up to the current "
                "cumulative update. The vendor's certification of the new update is scheduled; "
                "patching before it would void support."
            ),
            created_at=now - timedelta(days=21),
            signed_at=now - timedelta(days=20),
            expires_at=now - timedelta(days=21) + timedelta(days=60),
            assets=deferral_assets,
            findings=deferral_findings,
            controls=[
                (ControlKind.EXTRA_MONITORING, "EDR in block mode; daily review of alerts."),
                (ControlKind.RESTRICTED_ACCESS, "RDP limited to the MSP jump host."),
            ],
        )

        special = [a for a in assets if a.asset_class.key == AssetClass.DO_NOT_DISRUPT]
        lane_asset = special[0] if special else assets[-1]
        _historic(
            client=client,
            owner=owner,
            requester=requester,
            kind=ExceptionKind.ISOLATED_LANE,
            ticket="PSA-47990",
            reason=(
                f"{lane_asset.hostname} drives a specialised imaging device whose vendor "
                "supports only the installed OS build. Updates break the acquisition software."
            ),
            created_at=now - timedelta(days=40),
            signed_at=now - timedelta(days=39),
            expires_at=now - timedelta(days=40) + timedelta(days=client.max_exception_days),
            assets=[lane_asset],
            findings=[],
            controls=[
                (
                    ControlKind.NETWORK_SEGMENTATION,
                    "Own VLAN; only the PACS server may reach it (firewall rule 112).",
                ),
                (ControlKind.RESTRICTED_ACCESS, "No internet access; USB storage disabled."),
                (ControlKind.EXTRA_MONITORING, "Syslog to the SIEM with alerting on new logins."),
            ],
        )

        expired = _historic(
            client=client,
            owner=owner,
            requester=requester,
            kind=ExceptionKind.DEFERRAL,
            ticket="PSA-45102",
            reason="Quarter-end close: no reboots of the finance workstations until it is done.",
            created_at=now - timedelta(days=75),
            signed_at=now - timedelta(days=74),
            expires_at=now - timedelta(days=45),
            assets=assets[1:2] or assets[:1],
            findings=[],
            controls=[],
            except_findings=False,
        )
        RiskException.objects.filter(pk=expired.pk).update(
            state=ExceptionState.EXPIRED,
            ended_at=expired.expires_at,
            ended_by="system",
            end_reason="Reached its hard expiry.",
        )
        record_event(
            kind="exception.expired",
            subject_type="exception",
            subject_id=expired.uuid,
            actor="system",
            payload=_payload(
                expired,
                previous_state=ExceptionState.ACTIVE,
                reason="Reached its hard expiry.",
                findings_reopened=[],
            ),
            occurred_at=expired.expires_at,
        )

        pending_findings = findings[2:4]
        request_exception(
            client=client,
            actor=requester or "system",
            data=ExceptionInput(
                kind=ExceptionKind.DEFERRAL,
                reason=(
                    "The update requires a firmware upgrade of the RAID controller first; "
                    "that is booked for the next maintenance weekend."
                ),
                ticket_reference="PSA-48877",
                expires_at=now + timedelta(days=30),
                approver=owner,
                assets=[] if pending_findings else assets[:1],
                findings=pending_findings,
                controls=[
                    ControlInput(
                        kind=ControlKind.EXTRA_MONITORING,
                        description="Nightly vulnerability scan of the server until patched.",
                    )
                ],
            ),
            submit=True,
        )
