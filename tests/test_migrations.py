"""The migration graph: consistent, in step with the models, and models that moved between apps
keep the tables an existing database already has (the move is a change of state only)."""

from __future__ import annotations

import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import SeparateDatabaseAndState
from django_tenants.utils import tenant_context

# model → the table it had before it moved
MOVED_MODELS = {
    "findings.Finding": "patchops_finding",
    "findings.SlaPolicy": "patchops_slapolicy",
    "findings.SlaRule": "patchops_slarule",
    "findings.SlaPolicyChange": "patchops_slapolicychange",
    "reports.StoredReport": "evidence_storedreport",
}
# migrations that only move models: they must not touch the database
STATE_ONLY = [
    ("findings", "0001_initial"),
    ("patchops", "0004_models_moved_to_findings"),
    ("rings", "0004_rollout_findings_moved"),
    ("exceptions_register", "0004_riskexception_findings_moved"),
    ("reports", "0001_initial"),
    ("evidence", "0006_storedreport_moved_to_reports"),
]


def test_models_and_migrations_agree(db) -> None:
    out = io.StringIO()
    call_command("makemigrations", check=True, dry_run=True, stdout=out)
    assert "No changes detected" in out.getvalue()


def test_graph_has_no_conflicts_and_every_dependency_exists() -> None:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    assert loader.detect_conflicts() == {}
    for key in loader.graph.nodes:
        for parent in loader.graph.node_map[key].parents:
            assert parent.key in loader.graph.nodes, f"{key} depends on missing {parent.key}"


@pytest.mark.parametrize("label,table", sorted(MOVED_MODELS.items()))
def test_moved_model_keeps_its_table(label: str, table: str) -> None:
    assert apps.get_model(label)._meta.db_table == table


@pytest.mark.parametrize("app,name", STATE_ONLY)
def test_model_moves_change_state_only(app: str, name: str) -> None:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    migration = loader.get_migration(app, name)
    assert migration.operations, f"{app}.{name} is empty"
    for operation in migration.operations:
        assert isinstance(operation, SeparateDatabaseAndState), f"{app}.{name}: {operation}"
        assert operation.database_operations == []


def test_moved_tables_exist_in_the_client_schema(tenant_a) -> None:
    with tenant_context(tenant_a):
        tables = set(connection.introspection.table_names())
    assert set(MOVED_MODELS.values()) <= tables
