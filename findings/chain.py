"""A finding's evidence chain, read through the event contract (``evidence.contract``).

An event belongs to a finding when its declaration says it names it: the finding is its subject
(``finding.detected``, ``finding.verified`` …) or a declared payload field lists it
(``deployment.succeeded.findings``, ``rollback.recorded.findings`` …). Which step an event
documents comes from its declared ``Stage``, never from the spelling of its kind. Events recorded
before a kind named its findings are read through the declaration's ``legacy_findings``.

**Complete chain** (DESIGN): the finding's detection event, at least one deployment event
naming it (the agent reported the patch installed) and its verification event, all in the
client's chain.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q

from evidence import contract
from evidence.contract import Stage
from evidence.models import EvidenceEvent

from .models import Finding

__all__ = [
    "ChainEvent",
    "Attempt",
    "FindingChain",
    "events_naming",
    "finding_chain",
    "finding_chains",
    "findings_with_evidence",
]

BATCH = 1000
# Steps that put a finding in the period's patch evidence chain (exception sign-offs do not).
CHAIN_STAGES = (
    Stage.DETECTION,
    Stage.DEPLOYMENT,
    Stage.DEPLOYMENT_FAILED,
    Stage.ROLLBACK,
    Stage.VERIFICATION,
    Stage.REOPENED,
)


@dataclass(frozen=True)
class ChainEvent:
    """One evidence event as the chain reads it."""

    event: EvidenceEvent
    stage: str | None
    label: str
    summary: str

    @property
    def sequence(self) -> int:
        return self.event.sequence

    @property
    def occurred_at(self) -> datetime:
        return self.event.occurred_at

    @property
    def kind(self) -> str:
        return self.event.kind

    @property
    def actor(self) -> str:
        return self.event.actor

    @property
    def hash(self) -> str:
        return self.event.hash


@dataclass
class Attempt:
    """One deployment attempt, with what followed it before the next attempt."""

    event: ChainEvent
    succeeded: bool
    ring: str
    rollout: str | None
    verification: ChainEvent | None = None
    rolled_back: ChainEvent | None = None


@dataclass
class FindingChain:
    finding_id: str
    events: list[ChainEvent] = field(default_factory=list)
    detection: ChainEvent | None = None
    verification: ChainEvent | None = None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def deployment(self) -> ChainEvent | None:
        """The first successful deployment attempt."""
        return next((a.event for a in self.attempts if a.succeeded), None)

    @property
    def complete(self) -> bool:
        return (
            self.detection is not None
            and self.deployment is not None
            and self.verification is not None
        )


def _as_chain_event(event: EvidenceEvent) -> ChainEvent:
    return ChainEvent(
        event=event,
        stage=contract.stage_of(event.kind),
        label=contract.label_of(event.kind),
        summary=contract.summary_of(event),
    )


def _build(finding_id: str, events: list[EvidenceEvent]) -> FindingChain:
    chain = FindingChain(finding_id=finding_id)
    current: Attempt | None = None
    for event in sorted(events, key=lambda e: e.sequence):
        item = _as_chain_event(event)
        chain.events.append(item)
        if item.stage == Stage.DETECTION and chain.detection is None:
            chain.detection = item
        elif item.stage in Stage.ATTEMPTS:
            payload = event.payload or {}
            current = Attempt(
                event=item,
                succeeded=item.stage == Stage.DEPLOYMENT,
                ring=str(payload.get("ring") or ""),
                rollout=payload.get("rollout"),
            )
            chain.attempts.append(current)
        elif item.stage == Stage.VERIFICATION:
            chain.verification = item
            if current is not None and current.succeeded and current.verification is None:
                current.verification = item
        elif item.stage == Stage.ROLLBACK:
            if current is not None and current.rolled_back is None:
                current.rolled_back = item
        elif item.stage == Stage.REOPENED:
            # A new cycle: the fix is missing again; its next verification is a new one.
            chain.verification = None
            current = None
    return chain


def _naming_q(ids: list[str], kinds: Iterable[contract.EventKind]) -> Q:
    """Events of ``kinds`` naming any of ``ids`` (subject or a declared payload field)."""
    q = Q(pk__in=[])
    by_subject: dict[str, list[str]] = {}
    for d in kinds:
        if d.subject_is_finding:
            by_subject.setdefault(d.subject_type, []).append(d.kind)
    for subject_type, names in by_subject.items():
        q |= Q(subject_type=subject_type, subject_id__in=ids, kind__in=names)
    for d in kinds:
        for name in d.findings_fields:
            q |= Q(kind=d.kind, **{f"payload__{name}__has_any_keys": ids})
    return q


def _legacy_candidates(
    kinds: Iterable[contract.EventKind], *, asset_ids: list[str] | None, before: datetime | None
) -> list[EvidenceEvent]:
    """Old-shape events (a kind with a legacy resolver whose payload lacks the field)."""
    out: list[EvidenceEvent] = []
    for d in kinds:
        if d.legacy_findings is None:
            continue
        qs = EvidenceEvent.objects.filter(kind=d.kind)
        for name in d.findings_fields:
            qs = qs.exclude(payload__has_key=name)
        if before is not None:
            qs = qs.filter(occurred_at__lt=before)
        if asset_ids is not None and d.subject_type == "asset":
            qs = qs.filter(subject_id__in=asset_ids)
        out += list(qs.order_by("sequence"))
    return out


def _resolve_legacy(events: list[EvidenceEvent]) -> dict[int, list[str]]:
    by_kind: dict[str, list[EvidenceEvent]] = {}
    for event in events:
        by_kind.setdefault(event.kind, []).append(event)
    resolved: dict[int, list[str]] = {}
    for kind, group in by_kind.items():
        resolver = contract.get(kind).legacy_findings
        if resolver is not None:
            resolved |= resolver(group)
    return resolved


def _asset_ids_of(finding_ids: list[str]) -> list[str]:
    valid = [i for i in finding_ids if _is_uuid(i)]
    return [
        str(u)
        for u in Finding.objects.filter(uuid__in=valid)
        .values_list("asset__uuid", flat=True)
        .distinct()
    ]


def events_naming(
    finding_ids: Iterable[str],
    *,
    before: datetime | None = None,
    stages: tuple[str, ...] | None = None,
) -> dict[str, list[EvidenceEvent]]:
    """Every event naming each finding (sequence order), optionally only those before
    ``before`` and of declared ``stages``; old-shape events included."""
    ids = sorted({str(i) for i in finding_ids})
    out: dict[str, list[EvidenceEvent]] = {i: [] for i in ids}
    if not ids:
        return out
    kinds = [d for d in contract.finding_kinds() if stages is None or d.stage in stages]
    wanted = set(ids)
    seen: set[int] = set()
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        qs = EvidenceEvent.objects.filter(_naming_q(chunk, kinds))
        if before is not None:
            qs = qs.filter(occurred_at__lt=before)
        for event in qs.order_by("sequence"):
            if event.pk in seen:
                continue
            seen.add(event.pk)
            for fid in contract.findings_named(event):
                if fid in wanted:
                    out[fid].append(event)
    legacy = [
        e
        for e in _legacy_candidates(kinds, asset_ids=_asset_ids_of(ids), before=before)
        if e.pk not in seen
    ]
    if legacy:
        resolved = _resolve_legacy(legacy)
        for event in legacy:
            for fid in contract.findings_named(event, legacy=resolved):
                if fid in wanted:
                    out[fid].append(event)
        for events in out.values():
            events.sort(key=lambda e: e.sequence)
    return out


def finding_chains(
    finding_ids: Iterable[str], *, before: datetime | None = None
) -> dict[str, FindingChain]:
    """The chain of each finding (events before ``before`` when given)."""
    return {
        fid: _build(fid, events)
        for fid, events in events_naming(finding_ids, before=before).items()
    }


def finding_chain(finding: Any, *, before: datetime | None = None) -> FindingChain:
    """The chain of one finding (a ``findings.Finding`` or its UUID)."""
    fid = str(getattr(finding, "uuid", finding))
    return finding_chains([fid], before=before)[fid]


def findings_with_evidence(start: datetime, end: datetime) -> set[str]:
    """Findings named by a chain event (detection, deployment, rollback, verification,
    re-opening) that occurred in [start, end)."""
    kinds = [d for d in contract.finding_kinds() if d.stage in CHAIN_STAGES]
    names = [d.kind for d in kinds]
    touched: set[str] = set()
    events = list(
        EvidenceEvent.objects.filter(
            kind__in=names, occurred_at__gte=start, occurred_at__lt=end
        ).only("pk", "kind", "subject_id", "payload")
    )
    legacy: list[EvidenceEvent] = []
    for event in events:
        declaration = contract.get(event.kind)
        payload = event.payload or {}
        if (
            declaration.legacy_findings is not None
            and declaration.findings_fields
            and not any(name in payload for name in declaration.findings_fields)
        ):
            legacy.append(event)
            continue
        touched.update(contract.findings_named(event))
    if legacy:
        resolved = _resolve_legacy(legacy)
        for event in legacy:
            touched.update(contract.findings_named(event, legacy=resolved))
    return touched


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
