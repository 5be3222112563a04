"""A new client's schema is an exact structural copy of the template, data rows included."""

import pytest
from django.db import connection

from tenants.services import create_client

pytestmark = pytest.mark.django_db

CATALOGUE = {
    "tables": "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace "
    "AND relkind = 'r'",
    # Storage parameters (the software table's fillfactor, set by a migration).
    "storage": "SELECT relname || ':' || array_to_string(reloptions, ',') FROM pg_class "
    "WHERE relnamespace = %s::regnamespace AND reloptions IS NOT NULL",
    "indexes": "SELECT relname FROM pg_class WHERE relnamespace = %s::regnamespace "
    "AND relkind = 'i'",
    "constraints": "SELECT conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE connamespace = %s::regnamespace",
    "triggers": "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
    "WHERE c.relnamespace = %s::regnamespace AND NOT t.tgisinternal",
    "functions": "SELECT proname FROM pg_proc WHERE pronamespace = %s::regnamespace",
    "columns": "SELECT c.relname || '.' || a.attname || ':' || format_type(a.atttypid, "
    "a.atttypmod) || ':' || a.attnotnull || ':' || a.attidentity::text FROM pg_attribute a "
    "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relnamespace = %s::regnamespace "
    "AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped",
}


def _catalogue(schema: str) -> dict[str, set[str]]:
    found = {}
    with connection.cursor() as cursor:
        for name, sql in CATALOGUE.items():
            cursor.execute(sql, [schema])
            found[name] = {row[0].replace(schema, "<schema>") for row in cursor.fetchall()}
    return found


def test_clone_matches_the_template_object_for_object():
    client = create_client(slug="clone-check", name="Clone Check")
    template = _catalogue("tenant_template")
    clone = _catalogue(client.schema_name)
    assert template["tables"] and template["constraints"] and template["triggers"]
    assert "inventory_installedsoftware:fillfactor=50" in template["storage"]
    for kind in CATALOGUE:
        assert clone[kind] == template[kind], kind


def test_clone_copies_the_rows_data_migrations_wrote_and_restarts_identities():
    client = create_client(slug="clone-rows", name="Clone Rows")
    with connection.cursor() as cursor:
        for table in ("django_migrations", "inventory_assetclass"):
            cursor.execute(f'SELECT count(*) FROM tenant_template."{table}"')
            expected = cursor.fetchone()[0]
            cursor.execute(f'SELECT count(*) FROM "{client.schema_name}"."{table}"')
            assert cursor.fetchone()[0] == expected > 0
        # The next id continues after the copied rows instead of colliding with them.
        cursor.execute(
            f'INSERT INTO "{client.schema_name}".inventory_assetclass '
            "(key, name, is_builtin, is_critical, is_do_not_disrupt) "
            "VALUES ('kiosk', 'Kiosk', false, false, false) RETURNING id"
        )
        new_id = cursor.fetchone()[0]
        cursor.execute("SELECT max(id) FROM tenant_template.inventory_assetclass")
        assert new_id > cursor.fetchone()[0]


def test_each_client_gets_its_own_public_ids_for_the_seeded_rows():
    """The default rings and runbook checks are copied from the template, their UUIDs are not:
    one public id names one object of one client."""
    first = create_client(slug="clone-ids-a", name="Clone Ids A")
    second = create_client(slug="clone-ids-b", name="Clone Ids B")
    seen = {}
    with connection.cursor() as cursor:
        for schema in ("tenant_template", first.schema_name, second.schema_name):
            for table in ("rings_ring", "rings_runbookcheck"):
                cursor.execute(f'SELECT name, uuid FROM "{schema}"."{table}" ORDER BY name')
                seen[schema, table] = cursor.fetchall()
    for table in ("rings_ring", "rings_runbookcheck"):
        rows = [
            seen[schema, table]
            for schema in ("tenant_template", first.schema_name, second.schema_name)
        ]
        assert len(rows[0]) >= 3
        assert [n for n, _ in rows[1]] == [n for n, _ in rows[0]] == [n for n, _ in rows[2]]
        uuids = [u for schema_rows in rows for _, u in schema_rows]
        assert len(set(uuids)) == len(uuids), table
