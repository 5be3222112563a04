"""A token's client, scope, owner and key never change, and a revoked token stays revoked:
refused in the database too, whatever writes the row."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

GUARD = """
CREATE OR REPLACE FUNCTION tenants_apitoken_guard() RETURNS trigger AS $$
BEGIN
    IF NEW.client_id IS DISTINCT FROM OLD.client_id
        OR NEW.scope IS DISTINCT FROM OLD.scope
        OR NEW.created_by_id IS DISTINCT FROM OLD.created_by_id
        OR NEW.key_id IS DISTINCT FROM OLD.key_id
        OR NEW.key_hash IS DISTINCT FROM OLD.key_hash
        OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        RAISE EXCEPTION 'an API token''s client, scope, owner and key cannot change'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
        RAISE EXCEPTION 'a revoked API token stays revoked'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS tenants_apitoken_guard ON tenants_apitoken;
CREATE TRIGGER tenants_apitoken_guard BEFORE UPDATE ON tenants_apitoken
    FOR EACH ROW EXECUTE FUNCTION tenants_apitoken_guard();
"""
UNGUARD = """
DROP TRIGGER IF EXISTS tenants_apitoken_guard ON tenants_apitoken;
DROP FUNCTION IF EXISTS tenants_apitoken_guard();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0002_evidence_checkpoint"),
    ]

    operations = [
        migrations.AlterField(
            model_name="apitoken",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                help_text="Who issued it (empty when issued by a command without --by).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunSQL(GUARD, UNGUARD),
    ]
