"""The privileged account register's rules. Views, the API, the task and the subscriber call
these; every change is recorded in the client's evidence chain in the same transaction.

Call inside the client's schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from evidence.services import actor_label, record_event
from inventory.models import Asset
from tenants.models import Client, Membership, User

from .choices import (
    KIND_DEFAULTS,
    SHARED_KINDS,
    AccountKind,
    ChecklistSource,
    ChecklistState,
    Holder,
    IssueKind,
    IssueState,
    ItemAction,
    MfaState,
)
from .models import (
    OffboardingChecklist,
    OffboardingItem,
    PrivilegedAccount,
    PrivilegedAccountIssue,
    RegisterSettings,
)

__all__ = [
    "SECRET_REFUSED",
    "AccountInput",
    "reject_secrets",
    "validate_account_input",
    "create_account",
    "update_account",
    "record_rotation",
    "record_review",
    "record_use",
    "disable_account",
    "enable_account",
    "register_settings",
    "set_grace_days",
    "detect_overdue",
    "start_offboarding",
    "tick_item",
    "on_person_deactivated",
]

SECRET_REFUSED = (
    "The register never stores secrets: remove “{name}”. Keep the credential in the password "
    "vault and record only who owns it and when it was rotated."
)
# Field names that carry a secret, whatever the spelling (compared without case, "-" or "_").
_SECRET_WORDS = ("password", "passwd", "passphrase", "secret", "privatekey", "apikey", "pin")
MAX_INTERVAL_DAYS = 3650
MAX_GRACE_DAYS = 90


def _is_secret_name(name: str) -> bool:
    flat = name.lower().replace("_", "").replace("-", "")
    return flat == "pin" or any(word in flat for word in _SECRET_WORDS if word != "pin")


def reject_secrets(names: Any) -> None:
    """Raise a ValidationError when any input field name looks like a secret."""
    found = sorted({str(n) for n in names if _is_secret_name(str(n))})
    if found:
        raise ValidationError({found[0]: SECRET_REFUSED.format(name=found[0])})


@dataclass
class AccountInput:
    """What a person enters for an account (no secret anywhere)."""

    kind: str = ""
    name: str = ""
    identifier: str = ""
    held_by: str = Holder.CLIENT
    owner_user: User | None = None
    owner_name: str = ""
    owner_email: str = ""
    known_by: list[str] = field(default_factory=list)
    systems: list[Asset] = field(default_factory=list)
    mfa_state: str = ""
    mfa_reason: str = ""
    last_rotated_on: date | None = None
    last_reviewed_on: date | None = None
    rotation_interval_days: int | None = None
    review_interval_days: int | None = None
    rotate_after_use: bool | None = None
    notes: str = ""


def client_users(client: Client) -> Any:
    """The client's own users (who may own an account)."""
    return User.objects.filter(memberships__client=client).distinct().order_by("email")


def _client_tz() -> Any:
    """The time zone of the client whose schema is active: the register's days are its days.
    The connection already holds that client (django-tenants sets it with the schema); only a
    schema set by name alone costs a lookup."""
    client = getattr(connection, "tenant", None)
    if not isinstance(client, Client) or client.schema_name != connection.schema_name:
        client = Client.objects.filter(schema_name=connection.schema_name).first()
    return client.tz if client is not None else timezone.get_current_timezone()


def client_today() -> date:
    """Today in the active client's time zone (a UTC date runs ahead of Chicago every evening)."""
    return timezone.localdate(timezone=_client_tz())


def validate_account_input(
    data: AccountInput, *, client: Client, today: date | None = None
) -> AccountInput:
    """Raise one ValidationError naming every wrong field; fill defaults; write nothing."""
    today = today or client_today()
    errors: dict[str, list[str]] = {}

    def bad(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if data.kind not in AccountKind.values:
        bad("kind", "Choose a kind: privileged, shared admin, service or break-glass.")
    if not data.name.strip():
        bad("name", "Give the account a name.")
    if not data.identifier.strip():
        bad("identifier", "Give the account's identifier (user name, UPN, SID…).")
    if data.held_by not in Holder.values:
        bad("held_by", "Say whose staff use the account: the client's or the MSP's.")
    if data.owner_user is not None:
        if not client_users(client).filter(pk=data.owner_user.pk).exists():
            bad("owner_user", "The owner must be a user of this client.")
        else:
            data.owner_email = data.owner_user.email
            data.owner_name = data.owner_name.strip() or data.owner_user.get_full_name()
    if not data.owner_name.strip():
        bad("owner_name", "Name the person who owns the account.")
    try:
        validate_email(data.owner_email)
    except ValidationError:
        bad("owner_email", "Give the owner's e-mail address.")
    known: list[str] = []
    for email in data.known_by:
        email = email.strip().lower()
        if not email:
            continue
        try:
            validate_email(email)
        except ValidationError:
            bad("known_by", f"“{email}” is no e-mail address.")
            continue
        if email not in known:
            known.append(email)
    data.known_by = known
    if data.mfa_state not in MfaState.values:
        bad("mfa_state", "Choose the MFA state: enforced, not enforced or not possible.")
    elif data.mfa_state == MfaState.NOT_POSSIBLE and not data.mfa_reason.strip():
        bad("mfa_reason", "Say why a second factor is not possible on this account.")
    for name in ("last_rotated_on", "last_reviewed_on"):
        value = getattr(data, name)
        if value is not None and value > today:
            bad(name, "This date is in the future.")
    defaults = KIND_DEFAULTS.get(data.kind)
    for name, default in (
        ("rotation_interval_days", defaults.rotation_days if defaults else None),
        ("review_interval_days", defaults.review_days if defaults else None),
    ):
        value = getattr(data, name)
        if value is None:
            setattr(data, name, default)
        elif not 1 <= value <= MAX_INTERVAL_DAYS:
            bad(name, f"An interval is between 1 and {MAX_INTERVAL_DAYS} days.")
    if data.rotate_after_use is None:
        data.rotate_after_use = defaults.rotate_after_use if defaults else False
    if errors:
        raise ValidationError(errors)
    data.name = data.name.strip()
    data.identifier = data.identifier.strip()
    data.owner_name = data.owner_name.strip()
    data.owner_email = data.owner_email.strip().lower()
    return data


def _identity(account: PrivilegedAccount) -> dict[str, Any]:
    return {
        "uuid": str(account.uuid),
        "kind": account.kind,
        "name": account.name,
        "identifier": account.identifier,
    }


def _event(kind: str, subject: Any, actor: Any, payload: dict[str, Any], subject_type: str) -> None:
    record_event(
        kind=kind, subject_type=subject_type, subject_id=subject.uuid, actor=actor, payload=payload
    )


def _account_event(kind: str, account: PrivilegedAccount, actor: Any, **payload: Any) -> None:
    _event(kind, account, actor, {**_identity(account), **payload}, "privileged_account")


_COPIED = (
    "kind",
    "name",
    "identifier",
    "held_by",
    "owner_user",
    "owner_name",
    "owner_email",
    "known_by",
    "mfa_state",
    "mfa_reason",
    "last_rotated_on",
    "last_reviewed_on",
    "rotation_interval_days",
    "review_interval_days",
    "rotate_after_use",
    "notes",
)


def _shown(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, User):
        return value.email
    return value


@transaction.atomic
def create_account(*, client: Client, actor: Any, data: AccountInput) -> PrivilegedAccount:
    data = validate_account_input(data, client=client)
    account = PrivilegedAccount(**{name: getattr(data, name) for name in _COPIED})
    account.save()
    account.systems.set(data.systems)
    _account_event(
        "privileged_account.created",
        account,
        actor,
        owner=account.owner_email,
        mfa_state=account.mfa_state,
        systems=sorted(str(a.uuid) for a in data.systems),
        rotation_interval_days=account.rotation_interval_days,
        review_interval_days=account.review_interval_days,
    )
    return account


@transaction.atomic
def update_account(
    *, client: Client, account: PrivilegedAccount, actor: Any, data: AccountInput
) -> PrivilegedAccount:
    """Save the edited account; one ``privileged_account.changed`` event naming what changed."""
    data = validate_account_input(data, client=client)
    account = PrivilegedAccount.objects.select_for_update().get(pk=account.pk)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name in _COPIED:
        old, new = getattr(account, name), getattr(data, name)
        if _shown(old) != _shown(new):
            before[name], after[name] = _shown(old), _shown(new)
            setattr(account, name, new)
    old_systems = sorted(str(u) for u in account.systems.values_list("uuid", flat=True))
    new_systems = sorted(str(a.uuid) for a in data.systems)
    if old_systems != new_systems:
        before["systems"], after["systems"] = old_systems, new_systems
        account.systems.set(data.systems)
    if not before:
        return account
    account.save()
    _account_event(
        "privileged_account.changed",
        account,
        actor,
        changed=sorted(before),
        before=before,
        after=after,
    )
    if {"last_rotated_on", "rotation_interval_days", "rotate_after_use"} & set(before):
        _resolve_if_current(account, IssueKind.ROTATION_OVERDUE, actor, "rotation date corrected")
    if {"last_reviewed_on", "review_interval_days"} & set(before):
        _resolve_if_current(account, IssueKind.REVIEW_OVERDUE, actor, "review date corrected")
    return account


def _check_day(on: date, today: date | None = None) -> None:
    if on > (today or client_today()):
        raise ValidationError({"on": "This date is in the future."})


def _restart_clock(
    account: PrivilegedAccount,
    *,
    field: str,
    kind: str,
    day_key: str,
    issue: str,
    resolution: str,
    actor: Any,
    on: date | None,
    note: str,
) -> PrivilegedAccount:
    """Record that ``field`` (last rotation or review) happened ``on``: an evented change that
    resolves the open issue of that clock."""
    on = on or client_today()
    _check_day(on)
    account = PrivilegedAccount.objects.select_for_update().get(pk=account.pk)
    previous = getattr(account, field)
    setattr(account, field, on)
    account.save(update_fields=[field, "updated_at"])
    _account_event(
        kind,
        account,
        actor,
        **{day_key: on.isoformat()},
        previous=previous.isoformat() if previous else None,
        note=note,
    )
    _resolve_if_current(account, issue, actor, resolution)
    return account


@transaction.atomic
def record_rotation(
    *, account: PrivilegedAccount, actor: Any, on: date | None = None, note: str = ""
) -> PrivilegedAccount:
    """The credential was rotated (in the vault): the rotation clock restarts and open rotation
    issues are resolved."""
    return _restart_clock(
        account,
        field="last_rotated_on",
        kind="privileged_account.rotated",
        day_key="rotated_on",
        issue=IssueKind.ROTATION_OVERDUE,
        resolution="credential rotated",
        actor=actor,
        on=on,
        note=note,
    )


@transaction.atomic
def record_review(
    *, account: PrivilegedAccount, actor: Any, on: date | None = None, note: str = ""
) -> PrivilegedAccount:
    """The account's access was reviewed: the review clock restarts and open review issues are
    resolved."""
    return _restart_clock(
        account,
        field="last_reviewed_on",
        kind="privileged_account.reviewed",
        day_key="reviewed_on",
        issue=IssueKind.REVIEW_OVERDUE,
        resolution="access reviewed",
        actor=actor,
        on=on,
        note=note,
    )


@transaction.atomic
def record_use(
    *, account: PrivilegedAccount, actor: Any, on: date | None = None, note: str = ""
) -> PrivilegedAccount:
    """A break-glass account was used: with ``rotate_after_use`` a rotation is due at once."""
    on = on or client_today()
    _check_day(on)
    if not note.strip():
        raise ValidationError({"note": "Say why the account was used (incident, ticket)."})
    account = PrivilegedAccount.objects.select_for_update().get(pk=account.pk)
    account.last_used_on = on
    account.save(update_fields=["last_used_on", "updated_at"])
    _account_event("privileged_account.used", account, actor, used_on=on.isoformat(), note=note)
    return account


@transaction.atomic
def disable_account(*, account: PrivilegedAccount, actor: Any, reason: str) -> PrivilegedAccount:
    """Disabled accounts need no rotation or review: their open issues are resolved."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the account is disabled."})
    account = PrivilegedAccount.objects.select_for_update().get(pk=account.pk)
    if not account.is_active:
        raise ValidationError("This account is disabled already.")
    account.is_active = False
    account.save(update_fields=["is_active", "updated_at"])
    _account_event("privileged_account.disabled", account, actor, reason=reason.strip())
    for issue in account.issues.filter(state=IssueState.OPEN):
        _resolve(issue, actor, "account disabled")
    return account


@transaction.atomic
def enable_account(*, account: PrivilegedAccount, actor: Any, reason: str) -> PrivilegedAccount:
    if not reason.strip():
        raise ValidationError({"reason": "Say why the account is enabled again."})
    account = PrivilegedAccount.objects.select_for_update().get(pk=account.pk)
    if account.is_active:
        raise ValidationError("This account is active already.")
    account.is_active = True
    account.save(update_fields=["is_active", "updated_at"])
    _account_event("privileged_account.enabled", account, actor, reason=reason.strip())
    return account


# --- overdue rotations and reviews ----------------------------------------------------------


def register_settings() -> RegisterSettings:
    """This client's settings (the defaults, unsaved, until an admin changes them)."""
    return RegisterSettings.objects.order_by("pk").first() or RegisterSettings()


@transaction.atomic
def set_grace_days(*, client: Client, actor: Any, grace_days: int) -> RegisterSettings:
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise ValidationError({"grace_days": f"Grace is between 0 and {MAX_GRACE_DAYS} days."})
    current = register_settings()
    was = current.grace_days
    if was != grace_days:
        current.grace_days = grace_days
        current.save()
        record_event(
            kind="privileged.grace_changed",
            subject_type="client",
            subject_id=client.uuid,
            actor=actor,
            payload={"grace_days": grace_days, "was": was},
        )
    return current


def _due_on(account: PrivilegedAccount, kind: str) -> date:
    """The date the rotation or review was due (``created_at``'s day when it never happened)."""
    if kind == IssueKind.ROTATION_OVERDUE:
        due = account.rotation_due_on()
    else:
        due = account.review_due_on()
    return due if due is not None else timezone.localdate(account.created_at, timezone=_client_tz())


def _issue_payload(issue: PrivilegedAccountIssue) -> dict[str, Any]:
    return {
        "uuid": str(issue.uuid),
        "account": str(issue.account.uuid),
        "account_name": issue.account.name,
        "issue": issue.kind,
        "due_on": issue.due_on.isoformat(),
        "resolve_by": issue.resolve_by.isoformat(),
    }


def _resolve(issue: PrivilegedAccountIssue, actor: Any, resolution: str) -> None:
    now = timezone.now()
    issue.state = IssueState.RESOLVED
    issue.resolved_at = now
    issue.resolution = resolution
    issue.save(update_fields=["state", "resolved_at", "resolution"])
    _event(
        "privileged_issue.resolved",
        issue,
        actor,
        {
            **_issue_payload(issue),
            "resolution": resolution,
            "within_sla": timezone.localdate(now, timezone=_client_tz()) <= issue.resolve_by,
        },
        "privileged_issue",
    )


def _resolve_if_current(
    account: PrivilegedAccount, kind: str, actor: Any, resolution: str, today: date | None = None
) -> None:
    """Resolve the open issues of ``kind`` that the account's dates no longer support (an issue
    of the current due date stays open while that date is past)."""
    today = today or client_today()
    due = _due_on(account, kind)
    for issue in account.issues.filter(state=IssueState.OPEN, kind=kind):
        if due < today and issue.due_on == due:
            continue
        _resolve(issue, actor, resolution)


def detect_overdue(*, today: date | None = None) -> int:
    """Open one issue per active account, kind and past due date. Idempotent: a second run (or
    a concurrent one: the unique constraint) opens nothing. Returns how many were opened."""
    today = today or client_today()
    grace = register_settings().grace_days
    opened = 0
    for account in PrivilegedAccount.objects.filter(is_active=True).order_by("pk"):
        for kind in (IssueKind.ROTATION_OVERDUE, IssueKind.REVIEW_OVERDUE):
            due = _due_on(account, kind)
            if due >= today:
                continue
            if PrivilegedAccountIssue.objects.filter(
                account=account, kind=kind, due_on=due
            ).exists():
                continue
            try:
                with transaction.atomic():
                    issue = PrivilegedAccountIssue.objects.create(
                        account=account,
                        kind=kind,
                        due_on=due,
                        resolve_by=due + timedelta(days=grace),
                    )
                    _event(
                        "privileged_issue.opened",
                        issue,
                        "system",
                        {**_issue_payload(issue), "grace_days": grace},
                        "privileged_issue",
                    )
            except IntegrityError:  # a concurrent run opened it first
                continue
            opened += 1
    return opened


# --- offboarding ------------------------------------------------------------------------------


def _planned_items(email: str) -> list[tuple[PrivilegedAccount | None, str]]:
    """What a leaver's checklist holds: their own accounts disabled (service accounts: their
    keys revoked), every shared credential they owned or knew rotated, their own tokens revoked."""
    planned: list[tuple[PrivilegedAccount | None, str]] = []
    accounts = PrivilegedAccount.objects.filter(is_active=True).order_by("name", "pk")
    for account in accounts:
        owns = account.owner_email.lower() == email
        knows = email in account.known_by
        if account.kind in SHARED_KINDS:
            if owns or knows:
                planned.append((account, ItemAction.ROTATE_CREDENTIAL))
        elif owns and account.kind == AccountKind.SERVICE:
            planned.append((account, ItemAction.REVOKE_TOKENS))
        elif owns or knows:
            planned.append((account, ItemAction.DISABLE_ACCOUNT))
    planned.append((None, ItemAction.REVOKE_TOKENS))
    return planned


def _checklist_payload(checklist: OffboardingChecklist) -> dict[str, Any]:
    return {
        "uuid": str(checklist.uuid),
        "person_email": checklist.person_email,
        "person_name": checklist.person_name,
    }


@transaction.atomic
def start_offboarding(
    *,
    actor: Any,
    email: str,
    name: str = "",
    user: User | None = None,
    source: str = ChecklistSource.REGISTER,
    left_on: date | None = None,
) -> OffboardingChecklist:
    """The leaver's checklist; the open one when they already have one (nothing new then)."""
    email = (user.email if user is not None else email).strip().lower()
    try:
        validate_email(email)
    except ValidationError as error:
        raise ValidationError({"email": "Give the leaver's e-mail address."}) from error
    left_on = left_on or client_today()
    if left_on > client_today() + timedelta(days=90):
        raise ValidationError({"left_on": "The leaving date is more than 90 days away."})
    existing = OffboardingChecklist.objects.filter(
        person_email=email, state=ChecklistState.OPEN
    ).first()
    if existing is not None:
        return existing
    if user is None:
        user = User.objects.filter(email__iexact=email).first()
    checklist = OffboardingChecklist.objects.create(
        person_email=email,
        person_name=(name.strip() or (user.get_full_name() if user else ""))[:150],
        person_user=user,
        source=source,
        left_on=left_on,
        started_by=actor_label(actor),
    )
    planned = _planned_items(email)
    OffboardingItem.objects.bulk_create(
        OffboardingItem(checklist=checklist, account=account, action=action, order=i)
        for i, (account, action) in enumerate(planned)
    )
    _event(
        "offboarding.started",
        checklist,
        actor,
        {
            **_checklist_payload(checklist),
            "source": source,
            "left_on": left_on.isoformat(),
            "items": len(planned),
        },
        "offboarding",
    )
    return checklist


@transaction.atomic
def tick_item(*, item: OffboardingItem, actor: User, note: str) -> OffboardingItem:
    """A named engineer did the item (with a note); the last item completes the checklist.

    Ticking a "disable" item disables the account in the register and a "rotate" item records
    the rotation, so the register and the checklist tell the same story.
    """
    if not getattr(actor, "email", ""):
        raise ValidationError("An offboarding item is ticked by a named person.")
    if not note.strip():
        raise ValidationError({"note": "Say what was done (ticket, tool, how it was checked)."})
    checklist = OffboardingChecklist.objects.select_for_update().get(pk=item.checklist_id)
    item = OffboardingItem.objects.select_for_update().get(pk=item.pk)
    if item.done_at is not None:
        raise ValidationError("This item is done already.")
    item.done_at = timezone.now()
    item.done_by = actor
    item.done_by_label = actor.email
    item.note = note.strip()
    item.save(update_fields=["done_at", "done_by", "done_by_label", "note"])
    account = item.account
    _event(
        "offboarding.item_done",
        checklist,
        actor,
        {
            **_checklist_payload(checklist),
            "action": item.action,
            "account": str(account.uuid) if account else None,
            "account_name": account.name if account else "personal tokens",
            "done_by": actor.email,
            "note": item.note,
        },
        "offboarding",
    )
    reason = f"offboarding of {checklist.person_email}"
    if account is not None and item.action == ItemAction.DISABLE_ACCOUNT and account.is_active:
        disable_account(account=account, actor=actor, reason=reason)
    elif account is not None and item.action == ItemAction.ROTATE_CREDENTIAL:
        record_rotation(account=account, actor=actor, note=reason)
    if not checklist.items.filter(done_at__isnull=True).exists():
        checklist.state = ChecklistState.COMPLETED
        checklist.completed_at = item.done_at
        checklist.save(update_fields=["state", "completed_at"])
        _event(
            "offboarding.completed",
            checklist,
            actor,
            {**_checklist_payload(checklist), "items": checklist.items.count()},
            "offboarding",
        )
    return item


def on_person_deactivated(event: Any) -> None:
    """Subscriber of ``person.deactivated``: a client user deactivated is a leaver of this
    client (runs in the appending transaction, in the client's schema)."""
    email = event.payload.get("email", "")
    if not email or connection.schema_name == "public":
        return
    user = User.objects.filter(email__iexact=email).first()
    is_member = (
        user is not None
        and Membership.objects.filter(
            user=user, client__schema_name=connection.schema_name
        ).exists()
    )
    if user is not None and not is_member and user.staff_role:
        return
    start_offboarding(
        actor=event.actor or "system",
        email=email,
        user=user,
        source=ChecklistSource.DEACTIVATION,
        left_on=timezone.localdate(event.occurred_at, timezone=_client_tz()),
    )
