"""The stored report model, moved from the evidence app: its table (``evidence_storedreport``, with
its append-only triggers) stays as it is, so this migration only tells Django's state where the
model lives now."""

import reports.models
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('evidence', '0005_event_findings_index'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='StoredReport',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('uuid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ('kind', models.CharField(choices=[('monthly', 'Monthly compliance report'), ('hipaa', 'HIPAA-aligned evidence pack'), ('qbr', 'QBR executive summary'), ('inventory', 'Inventory snapshot'), ('exceptions', 'Exception register'), ('bundle', 'Evidence bundle (ZIP)')], max_length=20)),
                        ('period', models.DateField(help_text='First day of the reported month.')),
                        ('version', models.PositiveIntegerField(default=1)),
                        ('file', models.FileField(max_length=300, upload_to=reports.models.report_upload_to)),
                        ('content_type', models.CharField(default='application/pdf', max_length=100)),
                        ('sha256', models.CharField(max_length=64)),
                        ('size', models.PositiveBigIntegerField()),
                        ('generated_at', models.DateTimeField()),
                        ('generated_by', models.CharField(max_length=200)),
                    ],
                    options={
                        'db_table': 'evidence_storedreport',
                        'ordering': ['-period', 'kind', '-version'],
                        'constraints': [models.UniqueConstraint(fields=('kind', 'period', 'version'), name='evidence_storedreport_unique_version'), models.CheckConstraint(condition=models.Q(('period__day', 1)), name='evidence_storedreport_period_first_day', violation_error_message='A report period is the first day of a month.')],
                    },
                ),
            ],
        ),
    ]
