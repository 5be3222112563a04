"""Restore tests of critical systems (an asset whose class is critical): scheduling one,
recording its outcome, the client's rule (how recent a passing one must be, and whether a wave
waits for it) and which critical assets lack a passing one."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from common.limits import TEXT_MAX_LENGTH
from evidence.services import actor_label, record_event
from inventory.models import Asset
from rings.models import RestoreOutcome, RestoreTest, RestoreTestRule

RULE_PK = 1
MAX_AGE_LIMIT = 730


def restore_rule() -> RestoreTestRule:
    """The client's rule (the settings default until someone changes it)."""
    rule = RestoreTestRule.objects.filter(pk=RULE_PK).first()
    return rule or RestoreTestRule(pk=RULE_PK)


def save_restore_rule(*, max_age_days: Any, gate_waves: bool, actor: Any) -> RestoreTestRule:
    try:
        days = int(max_age_days)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= MAX_AGE_LIMIT:
        raise ValidationError(
            {"max_age_days": f"Days are a whole number from 1 to {MAX_AGE_LIMIT}."}
        )
    with transaction.atomic():
        rule, _ = RestoreTestRule.objects.update_or_create(
            pk=RULE_PK,
            defaults={
                "max_age_days": days,
                "gate_waves": bool(gate_waves),
                "updated_by": actor_label(actor),
            },
        )
        record_event(
            kind="restore_test.rule_changed",
            subject_type="restore_test_rule",
            subject_id=str(RULE_PK),
            actor=actor,
            payload={"max_age_days": days, "gate_waves": bool(gate_waves)},
        )
    return rule


def _payload(test: RestoreTest) -> dict[str, Any]:
    return {
        "asset": str(test.asset.uuid),
        "hostname": test.asset.hostname,
        "scheduled_for": test.scheduled_for.isoformat(),
        "what": test.what,
    }


def _text(value: Any, field: str, label: str, *, required: bool) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise ValidationError({field: f"Say {label}."})
    if len(text) > TEXT_MAX_LENGTH:
        raise ValidationError({field: f"At most {TEXT_MAX_LENGTH} characters."})
    return text


def schedule_restore_test(
    *, asset: Asset, scheduled_for: date, what: str, actor: Any
) -> RestoreTest:
    """Schedule a restore test of a critical asset (``restore_test.scheduled``)."""
    if not asset.asset_class.is_critical:
        raise ValidationError(
            {"asset": f"{asset.hostname} is not a critical system ({asset.asset_class.name})."}
        )
    if not isinstance(scheduled_for, date):
        raise ValidationError({"scheduled_for": "Give the date of the test."})
    what = _text(what, "what", "what will be restored", required=True)
    with transaction.atomic():
        test = RestoreTest.objects.create(
            asset=asset, scheduled_for=scheduled_for, what=what, scheduled_by=actor_label(actor)
        )
        record_event(
            kind="restore_test.scheduled",
            subject_type="restore_test",
            subject_id=test.uuid,
            actor=actor,
            payload=_payload(test),
        )
    return test


def record_restore_test(
    *,
    test: RestoreTest,
    outcome: str,
    performed_at: datetime,
    performed_by: str,
    evidence_url: str,
    actor: Any,
    note: str = "",
    at: datetime | None = None,
) -> RestoreTest:
    """Record how a scheduled restore test went (``restore_test.recorded``), once."""
    at = at or timezone.now()
    errors: dict[str, str] = {}
    if outcome not in (RestoreOutcome.PASSED, RestoreOutcome.FAILED):
        errors["outcome"] = "The outcome is passed or failed."
    if not isinstance(performed_at, datetime):
        errors["performed_at"] = "Give when the restore was done."
    elif performed_at > at:
        errors["performed_at"] = "A restore test is recorded after it was done, not before."
    url = str(evidence_url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        errors["evidence_url"] = "Link the evidence (an http or https address)."
    if errors:
        raise ValidationError(errors)
    who = _text(performed_by, "performed_by", "who did the restore", required=True)
    note = _text(note, "note", "a note", required=False)
    with transaction.atomic():
        updated = RestoreTest.objects.filter(pk=test.pk, outcome=RestoreOutcome.SCHEDULED).update(
            outcome=outcome,
            performed_at=performed_at,
            performed_by=who[:200],
            evidence_url=url[:500],
            note=note,
            recorded_by=actor_label(actor),
        )
        if not updated:
            raise ValidationError({"test": "This restore test is already recorded."})
        test.refresh_from_db()
        record_event(
            kind="restore_test.recorded",
            subject_type="restore_test",
            subject_id=test.uuid,
            actor=actor,
            payload={
                **_payload(test),
                "outcome": test.outcome,
                "performed_at": test.performed_at.isoformat(),
                "performed_by": test.performed_by,
                "evidence_url": test.evidence_url,
                "note": test.note,
            },
        )
    return test


def last_passed(asset_ids: Iterable[int]) -> dict[int, datetime]:
    """Each asset's latest passing restore test."""
    rows = (
        RestoreTest.objects.filter(asset_id__in=list(asset_ids), outcome=RestoreOutcome.PASSED)
        .order_by("asset_id", "-performed_at")
        .distinct("asset_id")
        .values_list("asset_id", "performed_at")
    )
    return dict(rows)


def lacking_restore_test(
    assets: Iterable[Asset], at: datetime, rule: RestoreTestRule | None = None
) -> list[Asset]:
    """The critical assets among ``assets`` without a passing restore test in the rule's last
    ``max_age_days`` before ``at``."""
    rule = rule or restore_rule()
    critical = [a for a in assets if a.asset_class.is_critical]
    latest = last_passed(a.pk for a in critical)
    since = at - timedelta(days=rule.max_age_days)
    return [a for a in critical if not (since <= latest.get(a.pk, since - timedelta(1)) <= at)]


DUE_SOON_DAYS = 14


def restore_overview(at: datetime | None = None) -> dict[str, Any]:
    """The Restore tests page: every managed critical system with its latest passing test,
    when that stops counting and its state (``ok``, ``due`` within two weeks, ``overdue`` or
    ``never``), its next scheduled test; and the tests, newest first, a scheduled one whose
    date passed unrecorded marked overdue."""
    at = at or timezone.now()
    rule = restore_rule()
    assets = list(
        Asset.objects.filter(asset_class__is_critical=True, is_managed=True)
        .select_related("asset_class")
        .order_by("hostname", "pk")
    )
    latest = last_passed(a.pk for a in assets)
    scheduled: dict[int, date] = {}
    for asset_id, day in (
        RestoreTest.objects.filter(asset__in=assets, outcome=RestoreOutcome.SCHEDULED)
        .order_by("asset_id", "scheduled_for")
        .values_list("asset_id", "scheduled_for")
    ):
        scheduled.setdefault(asset_id, day)
    today = timezone.localdate(at)
    systems = []
    for asset in assets:
        passed = latest.get(asset.pk)
        good_until = passed + timedelta(days=rule.max_age_days) if passed else None
        if good_until is None:
            state = "never"
        elif good_until <= at:
            state = "overdue"
        elif good_until <= at + timedelta(days=DUE_SOON_DAYS):
            state = "due"
        else:
            state = "ok"
        systems.append(
            {
                "asset": asset,
                "last_passed": passed,
                "good_until": good_until,
                "state": state,
                "next_scheduled": scheduled.get(asset.pk),
            }
        )
    tests = list(RestoreTest.objects.select_related("asset")[:200])
    for test in tests:
        test.is_overdue = test.outcome == RestoreOutcome.SCHEDULED and test.scheduled_for < today
    return {
        "rule": rule,
        "systems": systems,
        "tests": tests,
        "flagged": sum(1 for s in systems if s["state"] in ("overdue", "never")),
    }
