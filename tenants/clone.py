"""Clone the migrated template schema into a new client schema, in constant time.

django-tenants ships a general-purpose clone function that introspects the whole catalogue; its
cost grows with the number of schemas in the database (client 50 took ~13× client 1). This
cloner reads only the template schema's own catalogue rows, so creating client 1,000 costs what
creating client 1 does. It copies what the template holds — tables (columns, defaults, identity),
constraints and indexes under their original names (so later migrations can address them),
functions, triggers and the rows that data migrations put there (django_migrations, built-in
asset classes, default SLA rules, rings, runbook checks) — and refuses anything else (views,
stand-alone sequences, types), in which case the caller falls back to django-tenants' clone.
"""

from __future__ import annotations

from django.db import connection

__all__ = ["UnsupportedTemplate", "clone_schema"]


class UnsupportedTemplate(Exception):
    """The template holds an object kind this cloner does not copy."""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def clone_schema(template: str, target: str) -> None:
    """Create schema ``target`` as a copy of ``template`` (run inside a transaction)."""
    qt, qn = _q(template), _q(target)

    def retarget(sql: str) -> str:
        return sql.replace(f"{qt}.", f"{qn}.").replace(f"{template}.", f"{qn}.")

    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [template])
        row = cursor.fetchone()
        if row is None:
            raise UnsupportedTemplate(f"template schema {template} does not exist")
        ns = row[0]
        cursor.execute(
            """
            SELECT c.relkind, count(*) FROM pg_class c
            WHERE c.relnamespace = %s AND c.relkind NOT IN ('r', 'i', 'S')
               OR (c.relnamespace = %s AND c.relkind = 'S' AND NOT EXISTS (
                   SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
            GROUP BY c.relkind
            """,
            [ns, ns],
        )
        unsupported = cursor.fetchall()
        if unsupported:
            raise UnsupportedTemplate(f"template holds unsupported objects: {unsupported}")

        cursor.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = %s AND relkind = 'r' "
            "ORDER BY relname",
            [ns],
        )
        tables = [r[0] for r in cursor.fetchall()]
        cursor.execute(
            """
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype
            FROM pg_constraint WHERE connamespace = %s AND contype IN ('p', 'u', 'x', 'f')
            ORDER BY CASE contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'x' THEN 2
                                  ELSE 3 END, conname
            """,
            [ns],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            """
            SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
            JOIN pg_class c ON c.oid = i.indexrelid
            WHERE c.relnamespace = %s
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                              AND k.contype IN ('p', 'u', 'x'))
            ORDER BY c.relname
            """,
            [ns],
        )
        indexes = [r[0] for r in cursor.fetchall()]
        cursor.execute(
            "SELECT pg_get_functiondef(p.oid) FROM pg_proc p WHERE p.pronamespace = %s", [ns]
        )
        functions = [r[0] for r in cursor.fetchall()]
        cursor.execute(
            """
            SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t
            JOIN pg_class c ON c.oid = t.tgrelid
            WHERE c.relnamespace = %s AND NOT t.tgisinternal ORDER BY t.tgname
            """,
            [ns],
        )
        triggers = [r[0] for r in cursor.fetchall()]
        cursor.execute(
            """
            SELECT c.relname, a.attname FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = %s AND c.relkind = 'r' AND a.attidentity <> ''
            """,
            [ns],
        )
        identities = cursor.fetchall()

        statements = [f"CREATE SCHEMA {qn}"]
        # CHECK constraints come with LIKE: it copies their parsed expression, whereas re-parsing
        # pg_get_constraintdef's text is not a fixed point (``IN`` on a varchar column prints as
        # ``= ANY ((ARRAY[...])::text[])`` and reads back as ``= ANY (ARRAY[(...)::text, ...])``).
        for table in tables:
            statements.append(
                f"CREATE TABLE {qn}.{_q(table)} (LIKE {qt}.{_q(table)} INCLUDING DEFAULTS "
                "INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS "
                "INCLUDING CONSTRAINTS)"
            )
        for table in tables:
            statements.append(
                f"INSERT INTO {qn}.{_q(table)} OVERRIDING SYSTEM VALUE "
                f"SELECT * FROM {qt}.{_q(table)}"
            )
        for table, column in identities:
            statements.append(
                f"SELECT setval(pg_get_serial_sequence('{qn}.{_q(table)}', '{column}'), "
                f"coalesce((SELECT max({_q(column)}) FROM {qn}.{_q(table)}), 1), "
                f"(SELECT max({_q(column)}) FROM {qn}.{_q(table)}) IS NOT NULL)"
            )
        for relation, name, definition, _kind in constraints:
            table = relation.split(".")[-1].strip('"')
            statements.append(
                f"ALTER TABLE {qn}.{_q(table)} ADD CONSTRAINT {_q(name)} {retarget(definition)}"
            )
        statements.extend(retarget(sql) for sql in indexes)
        statements.extend(retarget(sql) for sql in functions)
        statements.extend(retarget(sql) for sql in triggers)
        cursor.execute(";\n".join(statements))
