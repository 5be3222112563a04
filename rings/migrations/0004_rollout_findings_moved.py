"""``Rollout.findings`` points at the finding model in its new app; the link table is unchanged."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('findings', '0001_initial'),
        ('rings', '0003_placement_skip_resume_rollback_expedite'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name='rollout',
                    name='findings',
                    field=models.ManyToManyField(blank=True, related_name='rollouts', to='findings.finding'),
                ),
            ],
        ),
    ]
