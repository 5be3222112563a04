"""``RiskException.findings`` points at the finding model in its new app; the link table is unchanged."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('exceptions_register', '0003_signed_records_are_immutable'),
        ('findings', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name='riskexception',
                    name='findings',
                    field=models.ManyToManyField(blank=True, related_name='exceptions', to='findings.finding'),
                ),
            ],
        ),
    ]
