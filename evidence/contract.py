"""The evidence event contract: every event kind is declared once, and nothing else is recorded.

A declaration names the kind, the subject type, every payload field with its type, and — for
the kinds that document the life of a finding — the step they document (``Stage``) and where
the event names the findings it acts on. ``evidence.services.record_event`` refuses an
undeclared kind, another subject type, or a payload that does not fit; the HIPAA evidence chain,
the finding timeline and the reports read events through ``findings_named`` and ``stage_of``,
never by the spelling of a kind.

The evidence app is the bottom layer and imports no other app. Each app declares its own kinds
in ``<app>/events.py``; ``EvidenceConfig.ready`` imports every installed app's ``events`` module
(``autodiscover_modules``), so all declarations exist before the first event is recorded. A new
app adds kinds by adding its own ``events.py``::

    from evidence.contract import UUID, STR, Stage, declare, list_of

    declare(
        "deployment.succeeded",
        subject="asset",
        fields={"wave": UUID, "ring": STR, "findings": list_of(UUID)},
        stage=Stage.DEPLOYMENT,
        findings_field="findings",
        label="Deployment succeeded",
    )

Types describe the payload as stored (its canonical JSON): ``STR``, ``INT``, ``BOOL``, ``UUID``
(a UUID string), ``DATETIME`` (ISO 8601 with offset), ``DATE``, ``DECIMAL`` (a decimal number
written as a string), ``OBJECT`` (any JSON object), ``JSON`` (any value), ``list_of(t)``,
``record({...})`` (an object with declared keys); ``optional(t)`` may be absent, ``nullable(t)``
may be ``null``.

Events recorded before a kind named its findings stay as they were (the hash chain covers the
payload); a declaration may give ``legacy_findings``, which works out the findings of such an
old-shape event, so the chain still reads them.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "Stage",
    "ValueType",
    "Field",
    "EventKind",
    "EventContractError",
    "STR",
    "INT",
    "BOOL",
    "UUID",
    "DATETIME",
    "DATE",
    "DECIMAL",
    "OBJECT",
    "JSON",
    "list_of",
    "record",
    "optional",
    "nullable",
    "declare",
    "get",
    "is_declared",
    "declared_kinds",
    "kinds_with_stage",
    "finding_kinds",
    "stage_of",
    "findings_named",
    "validate",
    "label_of",
    "summary_of",
]


class Stage:
    """The step of a finding's life an event documents (detection → deployment → verification)."""

    DETECTION = "detection"
    DEPLOYMENT = "deployment"  # the package was sent and the agent reported it installed
    DEPLOYMENT_FAILED = "deployment_failed"  # an attempt that did not install
    ROLLBACK = "rollback"
    VERIFICATION = "verification"
    REOPENED = "reopened"
    EXCEPTION = "exception"  # an exception started or stopped covering the finding

    ALL = (
        DETECTION,
        DEPLOYMENT,
        DEPLOYMENT_FAILED,
        ROLLBACK,
        VERIFICATION,
        REOPENED,
        EXCEPTION,
    )
    # The steps that make up a deployment attempt.
    ATTEMPTS = (DEPLOYMENT, DEPLOYMENT_FAILED)


class EventContractError(ValueError):
    """An event that the contract does not allow (nothing is recorded)."""


# --- value types ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueType:
    """A type of a stored payload value: a name for messages and a check over the JSON value."""

    name: str
    check: Callable[[Any, str], list[str]]

    def errors(self, value: Any, path: str) -> list[str]:
        return self.check(value, path)


def _simple(name: str, test: Callable[[Any], bool]) -> ValueType:
    def check(value: Any, path: str) -> list[str]:
        return [] if test(value) else [f"{path}: expected {name}, got {_show(value)}"]

    return ValueType(name, check)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None


def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_decimal(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return Decimal(value).is_finite()
    except InvalidOperation:
        return False


STR = _simple("a string", lambda v: isinstance(v, str))
INT = _simple("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
BOOL = _simple("true or false", lambda v: isinstance(v, bool))
UUID = _simple("a UUID string", _is_uuid)
DATETIME = _simple("an ISO 8601 date-time with its offset", _is_datetime)
DATE = _simple("an ISO 8601 date", _is_date)
DECIMAL = _simple("a decimal number as a string", _is_decimal)
OBJECT = _simple("an object", lambda v: isinstance(v, dict))
JSON = ValueType("any JSON value", lambda v, p: [])


def list_of(item: ValueType) -> ValueType:
    def check(value: Any, path: str) -> list[str]:
        if not isinstance(value, list):
            return [f"{path}: expected a list of {item.name}, got {_show(value)}"]
        out: list[str] = []
        for i, element in enumerate(value):
            out += item.errors(element, f"{path}[{i}]")
        return out

    return ValueType(f"a list of {item.name}", check)


@dataclass(frozen=True)
class Field:
    type: ValueType
    required: bool = True
    nullable: bool = False


def optional(value_type: ValueType | Field) -> Field:
    """The key may be absent."""
    base = value_type if isinstance(value_type, Field) else Field(value_type)
    return Field(base.type, required=False, nullable=base.nullable)


def nullable(value_type: ValueType | Field) -> Field:
    """The value may be ``null``."""
    base = value_type if isinstance(value_type, Field) else Field(value_type)
    return Field(base.type, required=base.required, nullable=True)


def _fields(spec: Mapping[str, ValueType | Field]) -> dict[str, Field]:
    return {k: (v if isinstance(v, Field) else Field(v)) for k, v in spec.items()}


def _check_object(
    value: Any, path: str, fields: dict[str, Field], extra: ValueType | None
) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object, got {_show(value)}"]
    out: list[str] = []
    for key, spec in fields.items():
        where = f"{path}.{key}" if path else key
        if key not in value:
            if spec.required:
                out.append(f"{where}: missing")
            continue
        if value[key] is None:
            if not spec.nullable:
                out.append(f"{where}: may not be null")
            continue
        out += spec.type.errors(value[key], where)
    for key in value:
        if key in fields:
            continue
        where = f"{path}.{key}" if path else key
        if extra is None:
            out.append(f"{where}: not a declared field")
        elif value[key] is not None:
            out += extra.errors(value[key], where)
    return out


def record(spec: Mapping[str, ValueType | Field], *, extra: ValueType | None = None) -> ValueType:
    """An object with the declared keys (others refused, or of type ``extra`` when given)."""
    fields = _fields(spec)

    def check(value: Any, path: str) -> list[str]:
        return _check_object(value, path, fields, extra)

    return ValueType("an object of " + ", ".join(fields), check)


# --- declarations -----------------------------------------------------------------------------

LegacyResolver = Callable[[list[Any]], dict[int, list[str]]]
Summary = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class EventKind:
    kind: str
    subject_type: str
    fields: dict[str, Field]
    label: str
    extra: ValueType | None = None
    stage: str | None = None
    # The subject of the event is the finding itself.
    subject_is_finding: bool = False
    # Payload fields that list (UUID strings of) the findings the event acts on.
    findings_fields: tuple[str, ...] = ()
    legacy_findings: LegacyResolver | None = None
    summary: Summary | None = None
    module: str = field(default="", compare=False)

    @property
    def names_findings(self) -> bool:
        return self.subject_is_finding or bool(self.findings_fields)


_REGISTRY: dict[str, EventKind] = {}


def declare(
    kind: str,
    *,
    subject: str,
    fields: Mapping[str, ValueType | Field] | None = None,
    label: str = "",
    extra: ValueType | None = None,
    stage: str | None = None,
    subject_is_finding: bool = False,
    findings_field: str | Iterable[str] = (),
    legacy_findings: LegacyResolver | None = None,
    summary: Summary | None = None,
) -> EventKind:
    """Declare one event kind. Declaring a kind twice is an error (one declaration per kind)."""
    if not kind or "." not in kind or len(kind) > 60:
        raise EventContractError(f"A kind is “<area>.<what>” of at most 60 characters: {kind!r}.")
    if kind in _REGISTRY:
        raise EventContractError(
            f"Event kind {kind!r} is already declared (in {_REGISTRY[kind].module})."
        )
    if stage is not None and stage not in Stage.ALL:
        raise EventContractError(f"Unknown stage {stage!r} for {kind!r}.")
    spec = _fields(fields or {})
    names = (findings_field,) if isinstance(findings_field, str) else tuple(findings_field)
    for name in names:
        if name not in spec:
            raise EventContractError(f"{kind}: findings field {name!r} is not a payload field.")
    if stage is not None and not (subject_is_finding or names):
        raise EventContractError(f"{kind}: a kind with a stage must name the findings.")
    caller = sys._getframe(1).f_globals.get("__name__", "")
    declaration = EventKind(
        kind=kind,
        subject_type=subject,
        fields=spec,
        label=label or kind,
        extra=extra,
        stage=stage,
        subject_is_finding=subject_is_finding,
        findings_fields=names,
        legacy_findings=legacy_findings,
        summary=summary,
        module=caller,
    )
    _REGISTRY[kind] = declaration
    return declaration


def get(kind: str) -> EventKind:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise EventContractError(
            f"Event kind {kind!r} is not declared; declare it in the producing app's events.py."
        ) from None


def is_declared(kind: str) -> bool:
    return kind in _REGISTRY


def declared_kinds() -> list[EventKind]:
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def kinds_with_stage(*stages: str) -> list[str]:
    return sorted(k for k, d in _REGISTRY.items() if d.stage in stages)


def finding_kinds() -> list[EventKind]:
    """Every kind whose events name findings (as subject or in a payload field)."""
    return [d for d in declared_kinds() if d.names_findings]


def validate(*, kind: str, subject_type: str, payload: dict[str, Any]) -> EventKind:
    """Check one event against its declaration; raise EventContractError listing every misfit.

    ``payload`` is the stored (canonical JSON) form.
    """
    declaration = get(kind)
    if subject_type != declaration.subject_type:
        raise EventContractError(
            f"{kind}: the subject is a {declaration.subject_type}, not a {subject_type!r}."
        )
    errors = _check_object(payload, "", declaration.fields, declaration.extra)
    if errors:
        raise EventContractError(f"{kind}: the payload does not fit: " + "; ".join(errors) + ".")
    return declaration


# --- reading events through the contract --------------------------------------------------------


def stage_of(kind: str) -> str | None:
    """The step of a finding's life a kind documents (None for other kinds and unknown ones)."""
    declaration = _REGISTRY.get(kind)
    return declaration.stage if declaration else None


def findings_named(event: Any, *, legacy: dict[int, list[str]] | None = None) -> list[str]:
    """UUID strings of the findings ``event`` acts on, as its declaration says.

    ``legacy`` maps event pks of old-shape events to the findings their resolver found.
    """
    declaration = _REGISTRY.get(event.kind)
    if declaration is None:
        return []
    out: list[str] = []
    if declaration.subject_is_finding:
        out.append(str(event.subject_id))
    payload = event.payload or {}
    found_field = False
    for name in declaration.findings_fields:
        if name in payload:
            found_field = True
            out += [str(v) for v in payload.get(name) or []]
    if not found_field and declaration.findings_fields and legacy is not None:
        out += legacy.get(event.pk, [])
    return list(dict.fromkeys(out))


def label_of(kind: str) -> str:
    declaration = _REGISTRY.get(kind)
    return declaration.label if declaration else kind


def summary_of(event: Any) -> str:
    """A readable one-line account of the event (its declaration's summary, else its label)."""
    declaration = _REGISTRY.get(event.kind)
    if declaration is None:
        return event.kind
    if declaration.summary is not None:
        try:
            return declaration.summary(event.payload or {})
        except (KeyError, TypeError, ValueError, AttributeError):
            # An old-shape payload the summary does not know: fall back to the label.
            return declaration.label
    return declaration.label
