"""The stored report model now lives in the reports app (same table): it leaves this app's state
only; no table is dropped."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('evidence', '0005_event_findings_index'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(
                    name='StoredReport',
                ),
            ],
        ),
    ]
