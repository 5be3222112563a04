"""The client's SLA policy: its rules (asset class × tier → window, reboot policy and schedule),
the window of an asset, and changes by an MSP admin, which re-date the outstanding findings they
concern and are kept with their history and an evidence event."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from evidence.services import actor_label, record_event
from findings import risk, sla
from findings.choices import RebootPolicy, SeverityTier
from findings.models import Finding, SlaPolicy, SlaPolicyChange, SlaRule
from findings.verification import CLOSED_STATES
from inventory.models import AssetClass


def get_policy() -> SlaPolicy:
    """The client's SLA policy (seeded by migration; created with defaults if ever missing)."""
    policy = SlaPolicy.objects.order_by("pk").first()
    if policy is None:
        with transaction.atomic():
            policy = SlaPolicy.objects.create()
            classes = {c.key: c for c in AssetClass.objects.all()}
            SlaRule.objects.bulk_create(
                SlaRule(
                    policy=policy,
                    asset_class=classes[key],
                    tier=tier,
                    window_hours=hours,
                    reboot_policy=reboot,
                    reboot_weekday=weekday,
                    reboot_time=at,
                )
                for (key, tier), (hours, reboot, weekday, at) in sla.DEFAULT_RULES.items()
                if key in classes
            )
    return policy


def _windows_for_class(asset_class_id: int) -> dict[str, int]:
    rules = SlaRule.objects.filter(asset_class_id=asset_class_id).values_list(
        "tier", "window_hours"
    )
    return dict(sla.FALLBACK_WINDOW_HOURS) | dict(rules)


def _windows_by_class(class_ids: set[int]) -> dict[int, dict[str, int]]:
    out = {pk: dict(sla.FALLBACK_WINDOW_HOURS) for pk in class_ids}
    for class_id, tier, hours in SlaRule.objects.filter(asset_class_id__in=class_ids).values_list(
        "asset_class_id", "tier", "window_hours"
    ):
        out[class_id][tier] = hours
    return out


_RULE_KEYS = {
    "asset_class",
    "tier",
    "window_hours",
    "reboot_policy",
    "reboot_weekday",
    "reboot_time",
}


def _parse_rule(raw: Any, classes: dict[str, AssetClass], index: int) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if not isinstance(raw, dict):
        raise ValidationError({f"rules[{index}]": "Each rule is an object."})
    key = raw.get("asset_class")
    if key not in classes:
        errors["asset_class"] = f"Unknown asset class {key!r}."
    tier = raw.get("tier")
    if tier not in SeverityTier.values:
        errors["tier"] = f"Tier is one of {', '.join(SeverityTier.values)}."
    hours = raw.get("window_hours")
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 24 * 366:
        errors["window_hours"] = "A whole number of hours from 1 to 8784."
    reboot = raw.get("reboot_policy")
    if reboot not in RebootPolicy.values:
        errors["reboot_policy"] = f"Reboot policy is one of {', '.join(RebootPolicy.values)}."
    weekday = raw.get("reboot_weekday")
    at: time | None = None
    if reboot == RebootPolicy.SCHEDULED:
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            errors["reboot_weekday"] = (
                "A scheduled reboot needs a weekday 0 (Monday) to 6 (Sunday)."
            )
        try:
            at = time.fromisoformat(str(raw.get("reboot_time")))
        except ValueError:
            errors["reboot_time"] = "A scheduled reboot needs a time HH:MM (client time zone)."
    else:
        weekday = None
    if errors:
        raise ValidationError({f"rules[{index}].{k}": v for k, v in errors.items()})
    return {
        "asset_class": classes[key],
        "tier": tier,
        "window_hours": hours,
        "reboot_policy": reboot,
        "reboot_weekday": weekday,
        "reboot_time": at,
    }


def update_sla_policy(*, rules: list[dict[str, Any]], actor: Any, at: datetime) -> SlaPolicyChange:
    """Replace the windows and reboot policies of the given (asset class, tier) rules.

    Rules not mentioned stay as they are. Writes a ``SlaPolicyChange`` (before/after), an
    ``sla_policy.changed`` evidence event, and re-dates open findings by the module's rule.
    Raises ``ValidationError`` (nothing written) on any bad rule.
    """
    if not isinstance(rules, list) or not rules:
        raise ValidationError({"rules": "Give at least one rule."})
    classes = {c.key: c for c in AssetClass.objects.all()}
    parsed = [_parse_rule(raw, classes, i) for i, raw in enumerate(rules)]
    pairs = [(p["asset_class"].key, p["tier"]) for p in parsed]
    if len(set(pairs)) != len(pairs):
        raise ValidationError({"rules": "Each asset class and tier appears at most once."})
    with transaction.atomic():
        policy = SlaPolicy.objects.select_for_update().get(pk=get_policy().pk)
        current = {
            (r.asset_class.key, r.tier): r
            for r in policy.rules.select_related("asset_class").select_for_update(of=("self",))
        }
        before = sla.rules_snapshot(sorted(current.values(), key=_rule_key))
        redated = 0
        for p in parsed:
            key = (p["asset_class"].key, p["tier"])
            rule = current.get(key)
            old_hours = rule.window_hours if rule else sla.FALLBACK_WINDOW_HOURS[p["tier"]]
            if rule is None:
                rule = SlaRule(policy=policy, **p)
                current[key] = rule
            else:
                for name, value in p.items():
                    setattr(rule, name, value)
            rule.full_clean()
            rule.save()
            if p["window_hours"] != old_hours:
                redated += (
                    Finding.objects.filter(
                        asset__asset_class=p["asset_class"], tier=p["tier"], due_at__gte=at
                    )
                    .exclude(state__in=CLOSED_STATES)
                    .update(due_at=F("detected_at") + timedelta(hours=p["window_hours"]))
                )
        after = sla.rules_snapshot(sorted(current.values(), key=_rule_key))
        if before == after:
            raise ValidationError({"rules": "Nothing changed."})
        SlaPolicy.objects.filter(pk=policy.pk).update(updated_at=at)
        change = SlaPolicyChange.objects.create(
            policy=policy,
            actor=actor_label(actor),
            at=at,
            before=before,
            after=after,
            redated_findings=redated,
        )
        changed = [a for a in after if a not in before]
        record_event(
            kind="sla_policy.changed",
            subject_type="sla_policy",
            subject_id=policy.pk,
            actor=actor,
            occurred_at=at,
            payload={"changed_rules": changed, "redated_findings": redated, "change": change.pk},
        )
    return change


def _rule_key(rule: SlaRule) -> tuple[str, int]:
    return (rule.asset_class.key, risk.TIER_RANK.get(rule.tier, 9))


def set_failure_rate_threshold(*, value: Any, actor: Any, at: datetime) -> SlaPolicy:
    """Set (or clear, with ``None`` or "") the client-level failure-rate threshold (%) of the SLA
    policy. Raises ``ValidationError`` (nothing written) unless it is a number from 0 to 100."""
    if value is None or (isinstance(value, str) and not value.strip()):
        threshold = None
    else:
        try:
            threshold = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise ValidationError(
                {"failure_rate_threshold_pct": "Give a percentage from 0 to 100."}
            ) from None
        if not threshold.is_finite() or not (0 <= threshold <= 100):
            raise ValidationError(
                {"failure_rate_threshold_pct": "Give a percentage from 0 to 100."}
            )
        threshold = threshold.quantize(Decimal("0.01"))
    with transaction.atomic():
        policy = SlaPolicy.objects.select_for_update().get(pk=get_policy().pk)
        before = policy.failure_rate_threshold_pct
        if before == threshold:
            raise ValidationError({"failure_rate_threshold_pct": "Nothing changed."})
        SlaPolicy.objects.filter(pk=policy.pk).update(
            failure_rate_threshold_pct=threshold, updated_at=at
        )
        record_event(
            kind="sla_policy.threshold_changed",
            subject_type="sla_policy",
            subject_id=policy.pk,
            actor=actor,
            occurred_at=at,
            payload={
                "failure_rate_threshold_pct": str(threshold) if threshold is not None else "",
                "previous": str(before) if before is not None else "",
            },
        )
        policy.refresh_from_db()
    return policy
