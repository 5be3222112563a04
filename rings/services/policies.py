"""Automatic patch policies: which open findings a policy takes, its validated writes, the
exactly-once run of each occurrence, and MSP-wide templates applied to many clients.

A policy run claims its occurrence by inserting the ``PolicyRun`` row (unique per policy and
occurrence) in the transaction that creates the rollout: a second task for the same occurrence,
sequential or concurrent, finds the row (or waits for the first transaction and then hits the
unique constraint) and creates nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django_tenants.utils import tenant_context

from catalogue.choices import AdvisorySource
from evidence.services import actor_label, record_event
from findings.choices import FindingOrigin
from findings.models import Finding
from inventory.choices import UpdateSource
from inventory.models import AssetClass, PendingUpdate
from policytemplates.choices import PolicyApprover, ProductClass
from policytemplates.models import PolicyTemplate
from policytemplates.rules import RULE_FIELDS, latest_occurrence, next_occurrence
from rings.choices import PolicyRunOutcome, RolloutSelection, RolloutState
from rings.models import PatchPolicy, PolicyRun, Ring
from rings.services.rollouts import ROLLABLE_STATES, create_rollout
from tenants.models import Client

__all__ = [
    "POLICY_FIELDS",
    "TemplateApplication",
    "TemplateNotApplied",
    "apply_template",
    "delete_policy",
    "due_occurrence",
    "due_policies",
    "next_policy_occurrence",
    "policy_findings",
    "run_due_policies",
    "run_policy",
    "save_policy",
]

# Advisory sources that publish operating-system updates (Windows, distributions); GHSA and
# NVD CPE ranges are about applications and libraries.
OS_ADVISORY_SOURCES = (
    AdvisorySource.MSRC,
    AdvisorySource.UBUNTU,
    AdvisorySource.DEBIAN,
    AdvisorySource.REDHAT,
    AdvisorySource.OSV,
)
# The update tools that offer the operating system's own updates when a device reports them.
OS_UPDATE_SOURCES = (
    UpdateSource.APT,
    UpdateSource.DNF,
    UpdateSource.WINDOWS_UPDATE,
    UpdateSource.SOFTWAREUPDATE,
)
# Rollouts still carrying their findings: a policy does not roll those out again.
UNFINISHED_ROLLOUTS = (RolloutState.ACTIVE, RolloutState.HALTED)

POLICY_FIELDS = ("name", "is_active", *RULE_FIELDS, "asset_classes", "rings")
# Changing these (or re-activating) starts the policy afresh: earlier occurrences are not run.
_SCHEDULE_FIELDS = ("schedule", "offset_days", "weekday", "run_at")


def _tz() -> ZoneInfo:
    tenant = getattr(connection, "tenant", None)
    return getattr(tenant, "tz", None) or ZoneInfo("UTC")


def _os_update_q() -> Q:
    reported = PendingUpdate.objects.filter(
        asset=OuterRef("asset"), name=OuterRef("package_name"), source__in=OS_UPDATE_SOURCES
    )
    advisory = Q(origin=FindingOrigin.ADVISORY_MATCH, advisory__source__in=OS_ADVISORY_SOURCES)
    return advisory | Q(Q(origin=FindingOrigin.PENDING_UPDATE) & Exists(reported))


def policy_findings(policy: PatchPolicy) -> QuerySet[Finding]:
    """The open findings the policy would roll out now: its tiers (and KEV ones when it says
    so), its kind of update, OS families, asset classes and rings, on managed assets; findings
    an unfinished rollout already carries are left to it."""
    findings = Finding.objects.filter(state__in=ROLLABLE_STATES, asset__is_managed=True)
    which = Q(tier__in=list(policy.tiers or []))
    if policy.include_kev:
        which |= Q(is_kev=True)
    findings = findings.filter(which)
    if policy.product_class == ProductClass.OS:
        findings = findings.filter(_os_update_q())
    elif policy.product_class == ProductClass.APPLICATIONS:
        findings = findings.exclude(_os_update_q())
    if policy.os_families:
        findings = findings.filter(asset__os_family__in=list(policy.os_families))
    if policy.pk:
        classes = list(policy.asset_classes.values_list("pk", flat=True))
        rings = list(policy.rings.values_list("pk", flat=True))
        if classes:
            findings = findings.filter(asset__asset_class_id__in=classes)
        if rings:
            findings = findings.filter(asset__ring_membership__ring_id__in=rings)
    findings = findings.exclude(rollouts__state__in=UNFINISHED_ROLLOUTS)
    return findings.select_related("asset").order_by("due_at", "pk").distinct()


# --- writes ---------------------------------------------------------------------------------


def _policy_payload(policy: PatchPolicy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "active": policy.is_active,
        "updates": policy.updates_text,
        "when": policy.when_text,
        "asset_classes": sorted(policy.asset_classes.values_list("key", flat=True)),
        "rings": sorted(policy.rings.values_list("key", flat=True)),
        "approver": policy.approver_role,
        "template": str(policy.template) if policy.template else None,
    }


def save_policy(
    *,
    data: dict[str, Any],
    actor: Any,
    policy: PatchPolicy | None = None,
    template: PolicyTemplate | None = None,
    at: datetime | None = None,
) -> PatchPolicy:
    """Create or update a client's policy from ``data`` (keys of ``POLICY_FIELDS``;
    ``asset_classes`` and ``rings`` as objects of this client). The model's checks answer with
    field errors and nothing changes. Recorded in the client's evidence chain."""
    at = at or timezone.now()
    unknown = sorted(set(data) - set(POLICY_FIELDS))
    if unknown:
        raise ValidationError({k: "Not a policy field." for k in unknown})
    creating = policy is None
    policy = policy or PatchPolicy(created_by=actor_label(actor), created_at=at, active_since=at)
    before = {k: getattr(policy, k) for k in (*_SCHEDULE_FIELDS, "is_active")}
    classes = data.get("asset_classes")
    rings = data.get("rings")
    for key, value in data.items():
        if key not in ("asset_classes", "rings"):
            setattr(policy, key, value)
    if isinstance(policy.name, str):
        policy.name = policy.name.strip()
    if template is not None:
        policy.template = template.uuid
        policy.template_name = template.name
    after = {k: getattr(policy, k) for k in before}
    reactivated = not before["is_active"] and after["is_active"]
    rescheduled = any(before[k] != after[k] for k in _SCHEDULE_FIELDS)
    if not creating and (reactivated or rescheduled):
        policy.active_since = at
    policy.updated_at = at
    policy.full_clean()
    with transaction.atomic():
        try:
            with transaction.atomic():
                policy.save()
        except IntegrityError as exc:
            raise ValidationError(
                {"name": "This client already has a policy from this template."}
            ) from exc
        if classes is not None:
            policy.asset_classes.set(classes)
        if rings is not None:
            policy.rings.set(rings)
        record_event(
            kind="policy.created" if creating else "policy.updated",
            subject_type="patch_policy",
            subject_id=policy.uuid,
            actor=actor,
            payload=_policy_payload(policy),
            occurred_at=at,
        )
    return policy


def delete_policy(*, policy: PatchPolicy, actor: Any) -> None:
    """Remove a policy and its runs (the rollouts it created stay, and so do the events)."""
    with transaction.atomic():
        record_event(
            kind="policy.deleted",
            subject_type="patch_policy",
            subject_id=policy.uuid,
            actor=actor,
            payload={"name": policy.name},
        )
        policy.delete()


# --- occurrences and runs ---------------------------------------------------------------------


def next_policy_occurrence(policy: PatchPolicy, at: datetime | None = None) -> datetime | None:
    """The policy's next scheduled run after ``at`` in the client's time zone (None when
    inactive)."""
    if not policy.is_active:
        return None
    return next_occurrence(policy, at or timezone.now(), _tz())


def due_occurrence(policy: PatchPolicy, at: datetime) -> datetime | None:
    """The latest occurrence at or before ``at`` that the policy has not run yet (and that is
    not older than the policy's ``active_since``)."""
    if not policy.is_active:
        return None
    moment = latest_occurrence(policy, at, _tz())
    if moment is None or moment < policy.active_since:
        return None
    if PolicyRun.objects.filter(policy=policy, occurrence=moment).exists():
        return None
    return moment


def _rollout_name(policy: PatchPolicy, occurrence: datetime) -> str:
    local = occurrence.astimezone(_tz())
    return f"{policy.name} · {local:%Y-%m-%d}"[:200]


def run_policy(
    *, policy: PatchPolicy, occurrence: datetime, at: datetime | None = None
) -> PolicyRun | None:
    """Run one occurrence of the policy once: a rollout of its findings (through the rollout
    service, with the policy's approval step), or "nothing to patch", or the error. Returns
    None when this occurrence has already run (or another worker is running it)."""
    at = at or timezone.now()
    actor = f"policy:{policy.name}"
    try:
        with transaction.atomic():
            run = PolicyRun.objects.create(
                policy=policy, occurrence=occurrence, ran_at=at, outcome=PolicyRunOutcome.FAILED
            )
            findings: Sequence[Finding] = []
            try:
                with transaction.atomic():
                    findings = list(policy_findings(policy))
                    if findings:
                        run.rollout = create_rollout(
                            name=_rollout_name(policy, occurrence),
                            actor=actor,
                            selection=RolloutSelection.FINDINGS,
                            finding_ids=[f.uuid for f in findings],
                            at=at,
                            start_approver_role=policy.approver_role,
                        )
                        run.outcome = PolicyRunOutcome.CREATED
                        run.message = f"Rollout of {len(findings)} finding(s) created."
                        if policy.approver_role != PolicyApprover.NONE:
                            label = PolicyApprover(policy.approver_role).label.lower()
                            run.message += f" It starts once approved by {label}."
                    else:
                        run.outcome = PolicyRunOutcome.NOTHING
                        run.message = "No open finding matches the policy: nothing to patch."
            except ValidationError as exc:
                run.outcome = PolicyRunOutcome.FAILED
                run.message = " ".join(exc.messages)[:4000]
            except DatabaseError as exc:
                run.outcome = PolicyRunOutcome.FAILED
                run.message = f"Database error: {exc}"[:4000]
            run.findings = len(findings) if run.outcome == PolicyRunOutcome.CREATED else 0
            run.save()
            record_event(
                kind="policy.ran",
                subject_type="patch_policy",
                subject_id=policy.uuid,
                actor=actor,
                payload={
                    "run": str(run.uuid),
                    "name": policy.name,
                    "occurrence": occurrence.isoformat(),
                    "outcome": run.outcome,
                    "rollout": str(run.rollout.uuid) if run.rollout else None,
                    "findings": run.findings,
                    "message": run.message,
                },
                occurred_at=at,
            )
    except IntegrityError:
        return None  # this occurrence's run exists: it was (or is being) run elsewhere
    return run


def due_policies(at: datetime) -> list[tuple[PatchPolicy, datetime]]:
    """The current client's active policies with an occurrence to run, and that occurrence."""
    out = []
    for policy in PatchPolicy.objects.filter(is_active=True).order_by("pk"):
        moment = due_occurrence(policy, at)
        if moment is not None:
            out.append((policy, moment))
    return out


def run_due_policies(at: datetime | None = None) -> dict[str, int]:
    """Run every due occurrence of the current client's policies (the beat's per-client
    task); a summary of what happened."""
    at = at or timezone.now()
    summary = {"due": 0, "created": 0, "nothing": 0, "failed": 0, "already_run": 0}
    for policy, moment in due_policies(at):
        summary["due"] += 1
        run = run_policy(policy=policy, occurrence=moment, at=at)
        if run is None:
            summary["already_run"] += 1
        else:
            summary[run.outcome] += 1
    return summary


# --- templates ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateApplication:
    """What applying a template did for one client: ``created``, ``updated`` or ``failed``."""

    client: str
    outcome: str
    policy: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "outcome": self.outcome,
            "policy": self.policy,
            "message": self.message,
        }


def _resolve(model: Any, keys: Iterable[str], what: str) -> list[Any]:
    keys = sorted(set(keys))
    found = {o.key: o for o in model.objects.filter(key__in=keys)}
    missing = [k for k in keys if k not in found]
    if missing:
        raise ValidationError({what: f"This client has no {what.replace('_', ' ')} "
                               f"{', '.join(missing)}."})  # fmt: skip
    return [found[k] for k in keys]


def _apply_here(template: PolicyTemplate, actor: Any, at: datetime) -> tuple[str, PatchPolicy]:
    data: dict[str, Any] = {k: getattr(template, k) for k in RULE_FIELDS}
    data["name"] = template.name
    data["asset_classes"] = _resolve(AssetClass, template.asset_classes, "asset_classes")
    data["rings"] = _resolve(Ring, template.rings, "rings")
    existing = PatchPolicy.objects.filter(template=template.uuid).first()
    if existing is None and PatchPolicy.objects.filter(name=template.name).exists():
        raise ValidationError(
            {"name": f"A policy named “{template.name}” exists here that is not this template's."}
        )
    policy = save_policy(data=data, actor=actor, policy=existing, template=template, at=at)
    return ("created" if existing is None else "updated"), policy


class TemplateNotApplied(ValidationError):
    """At least one client could not take the template: nothing was applied anywhere. The
    ``clients`` error lists each refusal as "<slug>: <reason>"."""

    def __init__(self, results: list[TemplateApplication]) -> None:
        self.results = results
        super().__init__(
            {"clients": [f"{r.client}: {r.message}" for r in results if r.outcome == "failed"]}
        )


def apply_template(
    *, template: PolicyTemplate, clients: Sequence[Client], actor: Any, at: datetime | None = None
) -> list[TemplateApplication]:
    """Create or update each client's policy from the template (the client's policy remembers
    the template), all in one transaction: when one client cannot take it (it lacks one of the
    template's asset classes or rings, or has another policy of that name) nothing is applied
    anywhere and ``TemplateNotApplied`` names every refusal."""
    at = at or timezone.now()
    if not clients:
        raise ValidationError({"clients": "Choose at least one client."})
    results: list[TemplateApplication] = []
    with transaction.atomic():
        for client in clients:
            with tenant_context(client):
                try:
                    with transaction.atomic():
                        outcome, policy = _apply_here(template, actor, at)
                except ValidationError as exc:
                    results.append(TemplateApplication(client.slug, "failed", None, _joined(exc)))
                    continue
            verb = "Created" if outcome == "created" else "Updated"
            results.append(
                TemplateApplication(
                    client.slug, outcome, str(policy.uuid), f"{verb} “{policy.name}”."
                )
            )
        if any(r.outcome == "failed" for r in results):
            raise TemplateNotApplied(results)
    return results


def _joined(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(m for msgs in exc.message_dict.values() for m in msgs)
    return " ".join(exc.messages)
