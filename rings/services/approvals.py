"""Who approves a wave (the ring's approver role, a person for the emergency lane) and the
approval itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from evidence.services import record_event
from rings.choices import ApproverRole, RolloutState, WaveState
from rings.models import Approval, Wave
from tenants.models import User
from tenants.permissions import role_in


class ApprovalRefused(PermissionDenied):
    """The approver does not hold the role the ring requires (answers 403 with the reason)."""


def _starts_the_rollout(wave: Wave) -> bool:
    """No earlier wave of the rollout was promoted: this wave is the first to deploy (earlier
    ones were skipped or are still to come)."""
    earlier = [w for w in wave.rollout.waves.all() if w.order < wave.order]
    return not any(w.promoted_at is not None for w in earlier)


def required_approver(wave: Wave) -> str | None:
    """The role whose approval promotion into the wave needs; None when the ring promotes on its
    own. An expedited rollout always needs a person: a ring without an approver then takes an
    engineer's (or an MSP admin's) approval. A rollout with a start approval (a patch policy's
    approval step) waits for that role's approval before its first wave deploys."""
    start = wave.rollout.start_approver_role
    if start and start != ApproverRole.NONE and _starts_the_rollout(wave):
        return start
    role = wave.ring.approver_role
    if role == ApproverRole.NONE:
        return ApproverRole.ENGINEER if wave.rollout.is_expedited else None
    return role


def _role_may_approve(role: str | None, approver_role: str | None) -> bool:
    # An MSP admin may also approve what an engineer may; a client owner's approval is theirs alone.
    if approver_role is None:
        return False
    if role == approver_role:
        return True
    return approver_role == ApproverRole.ENGINEER and role == ApproverRole.MSP_ADMIN


def may_approve(role: str | None, wave: Wave) -> bool:
    """Whether a person holding ``role`` may approve promotion into this wave."""
    return _role_may_approve(role, required_approver(wave))


def approve_wave(*, wave: Wave, user: Any, at: datetime | None = None, note: str = "") -> Approval:
    """Approve promotion into the wave's ring. Only a user holding the ring's approver role may."""
    at = at or timezone.now()
    ring = wave.ring
    if not isinstance(user, User):
        raise ApprovalRefused("Approvals are given by people, not by API tokens.")
    needed = required_approver(wave)
    if needed is None:
        raise ValidationError({"wave": f"{ring.name} promotes on its own: it needs no approval."})
    role = role_in(user, getattr(connection, "tenant", None))
    if not _role_may_approve(role, needed):
        label = ApproverRole(needed).label.lower()
        article = "an" if label[0] in "aeiou" else "a"
        raise ApprovalRefused(
            f"Promotion into {ring.name} must be approved by {article} {label}; "
            f"your role here is {(role or 'none').replace('_', ' ')}."
        )
    if wave.rollout.state != RolloutState.ACTIVE:
        raise ValidationError({"wave": "The rollout is not active."})
    if wave.state not in (WaveState.PENDING, WaveState.AWAITING):
        raise ValidationError(
            {"wave": f"This wave is already {WaveState(wave.state).label.lower()}."}
        )
    try:
        with transaction.atomic():
            approval = Approval.objects.create(
                wave=wave, approved_by=user, role=role, approved_at=at, note=note
            )
            record_event(
                kind="wave.approved",
                subject_type="wave",
                subject_id=wave.uuid,
                actor=user,
                payload={
                    "ring": ring.key,
                    "role": role,
                    "rollout": str(wave.rollout.uuid),
                    "expedited": wave.rollout.is_expedited,
                },
                occurred_at=at,
            )
    except IntegrityError as exc:
        raise ValidationError({"wave": "This wave is already approved."}) from exc
    return approval


def awaiting_approval_by(role: str | None) -> list[Wave]:
    """The waves of active rollouts waiting for an approval that a person holding ``role`` may
    give (a client owner's production approvals, an engineer's expedited waves), oldest first."""
    if not role:
        return []
    waves = (
        Wave.objects.filter(
            state=WaveState.AWAITING, rollout__state=RolloutState.ACTIVE, approval__isnull=True
        )
        .select_related("ring", "rollout")
        .prefetch_related("rollout__waves")
        .order_by("awaiting_at", "pk")
    )
    return [wave for wave in waves if _role_may_approve(role, required_approver(wave))]
