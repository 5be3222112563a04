"""The database itself refuses to change or remove evidence.

Row triggers refuse UPDATE and DELETE, a statement trigger refuses TRUNCATE on the evidence log;
stored reports refuse UPDATE and DELETE too. The trigger function lives in ``public`` (one shared
definition, created idempotently by every schema's migration) so that a client schema cloned from
the template carries triggers that point to a function that exists.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION public.evidence_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %.% refused: the record is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
"""

TRIGGERS = """
CREATE TRIGGER evidence_event_no_update_delete
    BEFORE UPDATE OR DELETE ON evidence_evidenceevent
    FOR EACH ROW EXECUTE FUNCTION public.evidence_refuse_change();
CREATE TRIGGER evidence_event_no_truncate
    BEFORE TRUNCATE ON evidence_evidenceevent
    FOR EACH STATEMENT EXECUTE FUNCTION public.evidence_refuse_change();
CREATE TRIGGER evidence_report_no_update_delete
    BEFORE UPDATE OR DELETE ON evidence_storedreport
    FOR EACH ROW EXECUTE FUNCTION public.evidence_refuse_change();
CREATE TRIGGER evidence_report_no_truncate
    BEFORE TRUNCATE ON evidence_storedreport
    FOR EACH STATEMENT EXECUTE FUNCTION public.evidence_refuse_change();
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS evidence_event_no_update_delete ON evidence_evidenceevent;
DROP TRIGGER IF EXISTS evidence_event_no_truncate ON evidence_evidenceevent;
DROP TRIGGER IF EXISTS evidence_report_no_update_delete ON evidence_storedreport;
DROP TRIGGER IF EXISTS evidence_report_no_truncate ON evidence_storedreport;
"""


class Migration(migrations.Migration):
    dependencies = [("evidence", "0002_stored_report")]

    operations = [
        migrations.RunSQL(FUNCTION, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(TRIGGERS, reverse_sql=DROP_TRIGGERS),
    ]
