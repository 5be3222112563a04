"""The findings and SLA models now live in the findings app (same tables): they leave this app's
state only; no table is dropped."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('exceptions_register', '0004_riskexception_findings_moved'),
        ('patchops', '0003_default_sla_policy'),
        ('rings', '0004_rollout_findings_moved'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(
                    model_name='slapolicychange',
                    name='policy',
                ),
                migrations.RemoveField(
                    model_name='slarule',
                    name='policy',
                ),
                migrations.RemoveField(
                    model_name='slarule',
                    name='asset_class',
                ),
                migrations.DeleteModel(
                    name='Finding',
                ),
                migrations.DeleteModel(
                    name='SlaPolicyChange',
                ),
                migrations.DeleteModel(
                    name='SlaPolicy',
                ),
                migrations.DeleteModel(
                    name='SlaRule',
                ),
            ],
        ),
    ]
