from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tenants", "0002_evidence_checkpoint")]

    operations = [
        migrations.AddField(
            model_name="client",
            name="require_mfa_for_viewers",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Client viewers must sign in with a second factor too (staff and owners always "
                    "do). Changed by MSP admins on the client's sign-in security page."
                ),
                verbose_name="second factor required for viewers",
            ),
        ),
    ]
