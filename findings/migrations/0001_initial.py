"""The findings and SLA models, moved from the patchops app: their tables (``patchops_*``) stay as
they are, so this migration only tells Django's state where the models live now."""

import django.contrib.postgres.fields
import django.db.models.deletion
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('patchops', '0003_default_sla_policy'),
        ('catalogue', '0003_feeds_history_scores_cpe'),
        ('inventory', '0007_patch_report'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='SlaPolicy',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(default='Patch SLA', max_length=100)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'verbose_name': 'SLA policy',
                        'verbose_name_plural': 'SLA policies',
                        'db_table': 'patchops_slapolicy',
                    },
                ),
                migrations.CreateModel(
                    name='SlaPolicyChange',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('actor', models.CharField(max_length=255)),
                        ('at', models.DateTimeField()),
                        ('before', models.JSONField()),
                        ('after', models.JSONField()),
                        ('redated_findings', models.PositiveIntegerField(default=0)),
                        ('policy', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='changes', to='findings.slapolicy')),
                    ],
                    options={
                        'db_table': 'patchops_slapolicychange',
                        'ordering': ['-at', '-pk'],
                    },
                ),
                migrations.CreateModel(
                    name='Finding',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('uuid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ('patch_identifier', models.CharField(help_text='KB number, USN/DSA id, or package@fixed-version', max_length=200)),
                        ('package_name', models.CharField(blank=True, max_length=300)),
                        ('installed_version', models.CharField(blank=True, max_length=200)),
                        ('fixed_version', models.CharField(blank=True, max_length=200)),
                        ('cves', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=30), blank=True, default=list, size=None)),
                        ('is_kev', models.BooleanField(default=False)),
                        ('tier', models.CharField(choices=[('critical', 'Critical'), ('high', 'High'), ('medium', 'Medium'), ('low', 'Low'), ('unknown', 'Unknown')], max_length=10)),
                        ('risk_score', models.DecimalField(decimal_places=2, default=0, max_digits=6)),
                        ('origin', models.CharField(choices=[('pending_update', 'Reported pending by the device'), ('advisory_match', "Installed version older than the advisory's fix")], max_length=20)),
                        ('state', models.CharField(choices=[('open', 'Open'), ('scheduled', 'Scheduled'), ('deployed', 'Deployed'), ('verified', 'Verified'), ('failed', 'Failed'), ('excepted', 'Excepted'), ('not_applicable', 'Not applicable')], default='open', max_length=20)),
                        ('detected_at', models.DateTimeField()),
                        ('due_at', models.DateTimeField()),
                        ('deployed_at', models.DateTimeField(blank=True, null=True)),
                        ('verified_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('advisory', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='catalogue.advisory')),
                        ('asset', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='findings', to='inventory.asset')),
                    ],
                    options={
                        'db_table': 'patchops_finding',
                        'ordering': ['due_at'],
                        'indexes': [models.Index(fields=['state', 'due_at'], name='patchops_finding_state_due'), models.Index(fields=['tier'], name='patchops_finding_tier')],
                        'constraints': [models.UniqueConstraint(fields=('asset', 'patch_identifier'), name='patchops_finding_one_per_patch_per_asset', violation_error_message='This asset already has a finding for this patch.'), models.CheckConstraint(condition=models.Q(models.Q(('state', 'verified'), _negated=True), ('verified_at__isnull', False), _connector='OR'), name='patchops_finding_verified_has_time', violation_error_message='A verified finding needs its verification time.')],
                    },
                ),
                migrations.CreateModel(
                    name='SlaRule',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('tier', models.CharField(choices=[('critical', 'Critical'), ('high', 'High'), ('medium', 'Medium'), ('low', 'Low'), ('unknown', 'Unknown')], max_length=10)),
                        ('window_hours', models.PositiveIntegerField()),
                        ('reboot_policy', models.CharField(choices=[('scheduled', 'Scheduled time'), ('user_prompted', 'User prompted'), ('manual_approval', 'Manual approval')], max_length=20)),
                        ('reboot_weekday', models.PositiveSmallIntegerField(blank=True, null=True)),
                        ('reboot_time', models.TimeField(blank=True, null=True)),
                        ('asset_class', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='sla_rules', to='inventory.assetclass')),
                        ('policy', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rules', to='findings.slapolicy')),
                    ],
                    options={
                        'db_table': 'patchops_slarule',
                        'ordering': ['asset_class__key', 'tier'],
                        'constraints': [models.UniqueConstraint(fields=('policy', 'asset_class', 'tier'), name='patchops_slarule_one_per_class_tier', violation_error_message='This policy already has a rule for that class and tier.'), models.CheckConstraint(condition=models.Q(('window_hours__gte', 1)), name='patchops_slarule_window_positive', violation_error_message='A deployment window is at least one hour.'), models.CheckConstraint(condition=models.Q(models.Q(('reboot_policy', 'scheduled'), _negated=True), models.Q(('reboot_weekday__isnull', False), ('reboot_time__isnull', False)), _connector='OR'), name='patchops_slarule_scheduled_has_time', violation_error_message='A scheduled reboot needs a weekday and a time.'), models.CheckConstraint(condition=models.Q(('reboot_weekday__isnull', True), ('reboot_weekday__lte', 6), _connector='OR'), name='patchops_slarule_weekday_range', violation_error_message='The reboot weekday is 0 (Monday) to 6 (Sunday).')],
                    },
                ),
            ],
        ),
    ]
