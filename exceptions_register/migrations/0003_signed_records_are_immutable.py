"""Database guards: a signed exception's content, scope and controls, and every signature, are
frozen. Only a session that sets ``patchops.exceptions_purge = 'on'`` (purging a whole client or
test data) may bypass them."""

from django.db import migrations

GUARD_EXCEPTION = r"""
CREATE OR REPLACE FUNCTION exceptions_register_guard_exception() RETURNS trigger AS $$
BEGIN
    IF current_setting('patchops.exceptions_purge', true) = 'on' THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    IF TG_OP = 'DELETE' THEN
        IF OLD.state NOT IN ('draft', 'pending_signoff') THEN
            RAISE EXCEPTION 'exception % is signed or ended and cannot be deleted', OLD.uuid
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.state NOT IN ('draft', 'pending_signoff') THEN
        IF (NEW.uuid, NEW.kind, NEW.reason, NEW.ticket_reference, NEW.expires_at, NEW.starts_at,
            NEW.requested_by_id, NEW.requested_by_label, NEW.approver_id, NEW.supersedes_id,
            NEW.version, NEW.created_at)
           IS DISTINCT FROM
           (OLD.uuid, OLD.kind, OLD.reason, OLD.ticket_reference, OLD.expires_at, OLD.starts_at,
            OLD.requested_by_id, OLD.requested_by_label, OLD.approver_id, OLD.supersedes_id,
            OLD.version, OLD.created_at) THEN
            RAISE EXCEPTION 'exception % is signed: its content cannot change', OLD.uuid
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF OLD.state IN ('expired', 'revoked', 'rejected') AND NEW.state <> OLD.state THEN
            RAISE EXCEPTION 'exception % has ended and cannot change state', OLD.uuid
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF OLD.state = 'active' AND NEW.state NOT IN ('active', 'expired', 'revoked') THEN
            RAISE EXCEPTION 'an active exception can only expire or be revoked'
                USING ERRCODE = 'restrict_violation';
        END IF;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION exceptions_register_guard_child() RETURNS trigger AS $$
DECLARE
    parent_state text;
BEGIN
    IF current_setting('patchops.exceptions_purge', true) = 'on' THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT state INTO parent_state FROM exceptions_register_riskexception
            WHERE id = (to_jsonb(OLD) ->> TG_ARGV[0])::bigint;
        IF parent_state IS NOT NULL AND parent_state NOT IN ('draft', 'pending_signoff') THEN
            RAISE EXCEPTION 'a signed exception cannot change (%)', TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation';
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT state INTO parent_state FROM exceptions_register_riskexception
            WHERE id = (to_jsonb(NEW) ->> TG_ARGV[0])::bigint;
        IF parent_state IS NOT NULL AND parent_state NOT IN ('draft', 'pending_signoff') THEN
            RAISE EXCEPTION 'a signed exception cannot change (%)', TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation';
        END IF;
    END IF;
    RETURN COALESCE(NEW, OLD);
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION exceptions_register_guard_signature() RETURNS trigger AS $$
BEGIN
    IF current_setting('patchops.exceptions_purge', true) = 'on' THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    RAISE EXCEPTION 'signatures are append-only' USING ERRCODE = 'restrict_violation';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER exceptions_register_riskexception_guard
    BEFORE UPDATE OR DELETE ON exceptions_register_riskexception
    FOR EACH ROW EXECUTE FUNCTION exceptions_register_guard_exception();
CREATE TRIGGER exceptions_register_compensatingcontrol_guard
    BEFORE INSERT OR UPDATE OR DELETE ON exceptions_register_compensatingcontrol
    FOR EACH ROW EXECUTE FUNCTION exceptions_register_guard_child('exception_id');
CREATE TRIGGER exceptions_register_riskexception_assets_guard
    BEFORE INSERT OR UPDATE ON exceptions_register_riskexception_assets
    FOR EACH ROW EXECUTE FUNCTION exceptions_register_guard_child('riskexception_id');
CREATE TRIGGER exceptions_register_riskexception_findings_guard
    BEFORE INSERT OR UPDATE ON exceptions_register_riskexception_findings
    FOR EACH ROW EXECUTE FUNCTION exceptions_register_guard_child('riskexception_id');
CREATE TRIGGER exceptions_register_signature_guard
    BEFORE UPDATE OR DELETE ON exceptions_register_signature
    FOR EACH ROW EXECUTE FUNCTION exceptions_register_guard_signature();
"""

DROP = r"""
DROP TRIGGER IF EXISTS exceptions_register_signature_guard ON exceptions_register_signature;
DROP TRIGGER IF EXISTS exceptions_register_riskexception_findings_guard
    ON exceptions_register_riskexception_findings;
DROP TRIGGER IF EXISTS exceptions_register_riskexception_assets_guard
    ON exceptions_register_riskexception_assets;
DROP TRIGGER IF EXISTS exceptions_register_compensatingcontrol_guard
    ON exceptions_register_compensatingcontrol;
DROP TRIGGER IF EXISTS exceptions_register_riskexception_guard ON exceptions_register_riskexception;
DROP FUNCTION IF EXISTS exceptions_register_guard_signature();
DROP FUNCTION IF EXISTS exceptions_register_guard_child();
DROP FUNCTION IF EXISTS exceptions_register_guard_exception();
"""


class Migration(migrations.Migration):
    dependencies = [("exceptions_register", "0002_register_workflow")]

    operations = [migrations.RunSQL(GUARD_EXCEPTION, DROP)]
