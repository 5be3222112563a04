"""The event contract: every kind declared once, record_event refuses what does not fit, and
every kind the code records is declared."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from evidence import contract
from evidence.contract import EventContractError
from evidence.models import EvidenceEvent

ROOT = Path(__file__).resolve().parents[2]
APPS = [
    "evidence",
    "exceptions_register",
    "integrations",
    "inventory",
    "findings",
    "rings",
    "scorecards",
    "tenants",
    "catalogue",
]
KIND_RE = re.compile(r"^[a-z_]+\.[a-z_]+$")


def _kind_literals() -> dict[str, str]:
    """Kind literals the code passes to the evidence log: ``kind=`` arguments, the first
    argument of the rings ``_event`` / ``_record`` helpers, and ``"kind":`` in event dicts."""
    found: dict[str, str] = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or path.name == "events.py":
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                values: list[ast.AST] = []
                if isinstance(node, ast.Call):
                    values += [k.value for k in node.keywords if k.arg == "kind"]
                    name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                    if name in ("_event", "_record") and node.args:
                        values.append(node.args[0])
                elif isinstance(node, ast.Dict):
                    values += [
                        v
                        for k, v in zip(node.keys, node.values, strict=True)
                        if isinstance(k, ast.Constant) and k.value == "kind"
                    ]
                for value in values:
                    for sub in ast.walk(value):
                        if (
                            isinstance(sub, ast.Constant)
                            and isinstance(sub.value, str)
                            and KIND_RE.match(sub.value)
                        ):
                            found[sub.value] = f"{path.relative_to(ROOT)}:{sub.lineno}"
    return found


def test_every_kind_the_code_records_is_declared():
    literals = _kind_literals()
    assert len(literals) > 40  # the scan sees the producers
    missing = {k: where for k, where in literals.items() if not contract.is_declared(k)}
    assert not missing, f"undeclared event kinds: {missing}"
    # agent_job.<status> is built from the job status
    for status in ("succeeded", "failed"):
        assert contract.is_declared(f"agent_job.{status}")


def test_a_kind_is_declared_only_once():
    with pytest.raises(EventContractError, match="already declared"):
        contract.declare("finding.detected", subject="finding")


def test_each_declaration_names_its_subject_and_typed_fields():
    for declaration in contract.declared_kinds():
        assert declaration.subject_type and declaration.label
        assert declaration.module.endswith(".events"), declaration.kind
        for name, spec in declaration.fields.items():
            assert isinstance(spec.type, contract.ValueType), (declaration.kind, name)
        if declaration.stage:
            assert declaration.names_findings, declaration.kind


def test_the_chain_stages_are_declared_by_their_producers():
    assert contract.kinds_with_stage(contract.Stage.DETECTION) == ["finding.detected"]
    assert contract.kinds_with_stage(contract.Stage.VERIFICATION) == ["finding.verified"]
    assert contract.kinds_with_stage(contract.Stage.DEPLOYMENT) == ["deployment.succeeded"]
    assert contract.kinds_with_stage(contract.Stage.DEPLOYMENT_FAILED) == ["deployment.failed"]
    assert contract.kinds_with_stage(contract.Stage.ROLLBACK) == [
        "rollback.recorded",
        "rollback.succeeded",
    ]
    assert contract.get("deployment.succeeded").findings_fields == ("findings",)


@pytest.mark.django_db
class TestRecordEventRefuses:
    def _record(self, **kwargs):
        from evidence.services import record_event

        return record_event(**kwargs)

    def test_an_undeclared_kind(self, in_tenant_a):
        with pytest.raises(EventContractError, match="'asset.created' is not declared"):
            self._record(kind="asset.created", subject_type="asset", subject_id="x")
        assert not EvidenceEvent.objects.exists()

    def test_another_subject_type(self, in_tenant_a):
        with pytest.raises(EventContractError, match="the subject is a ring, not a 'asset'"):
            self._record(kind="ring.deleted", subject_type="asset", subject_id="x", payload={})

    def test_a_missing_field_a_wrong_type_and_an_unknown_field(self, in_tenant_a):
        with pytest.raises(EventContractError) as exc:
            self._record(
                kind="deployment.succeeded",
                subject_type="asset",
                subject_id="a",
                payload={
                    "wave": "not-a-uuid",
                    "ring": "pilot",
                    "message": "",
                    "findings": ["6f1c2a8e-1111-4a35-9a77-5f0a1b2c3d4e", 7],
                    "finding_id": "x",
                },
            )
        message = str(exc.value)
        assert 'wave: expected a UUID string, got "not-a-uuid"' in message
        assert "rollout: missing" in message
        assert "findings[1]: expected a UUID string, got 7" in message
        assert "finding_id: not a declared field" in message
        assert not EvidenceEvent.objects.exists()

    def test_null_only_where_declared_nullable(self, in_tenant_a):
        with pytest.raises(EventContractError, match="ring: may not be null"):
            self._record(
                kind="ring.member_pinned",
                subject_type="asset",
                subject_id="a",
                payload={"ring": None, "hostname": "h"},
            )

    def test_a_batch_with_one_bad_event_writes_none(self, in_tenant_a):
        from evidence.services import record_events

        good = {"kind": "ring.deleted", "subject_type": "ring", "subject_id": 1,
                "payload": {"key": "pilot"}}  # fmt: skip
        bad = {**good, "payload": {"key": 5}}
        with pytest.raises(EventContractError, match="key: expected a string"):
            record_events([good, bad])
        assert not EvidenceEvent.objects.exists()


def test_value_types_check_the_stored_json():
    fields = contract.record(
        {
            "at": contract.DATETIME,
            "on": contract.DATE,
            "score": contract.DECIMAL,
            "n": contract.INT,
            "ok": contract.BOOL,
            "maybe": contract.optional(contract.nullable(contract.STR)),
        }
    )
    good = {"at": "2026-10-02T00:00:00Z", "on": "2026-10-02", "score": "8.10", "n": 3, "ok": True}
    assert fields.errors(good, "p") == []
    assert fields.errors({**good, "maybe": None}, "p") == []
    bad = {"at": "2026-10-02T00:00:00", "on": "02.10.2026", "score": "high", "n": True, "ok": 1}
    errors = " | ".join(fields.errors(bad, "p"))
    for name in ("p.at", "p.on", "p.score", "p.n", "p.ok"):
        assert name in errors
