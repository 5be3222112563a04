from decimal import Decimal

from django.db import migrations

RINGS = [
    # key, name, order, assignment, soak hours, threshold %, approver role
    ("canary", "Canary", 10, "canary", 24, Decimal("10.00"), "engineer"),
    ("pilot", "Pilot", 20, "pilot", 48, Decimal("5.00"), "engineer"),
    ("production", "Production", 30, "production", 72, Decimal("2.00"), "client_owner"),
]
RUNBOOK = [
    ("E-mail delivery", "Send and receive a test message through the client's mail flow.", 10),
    ("EHR platform access", "Sign in to the EHR / practice-management platform and open a record.", 20),
    ("Local file access", "Open and save a document on the file share and a local disk.", 30),
]


def seed(apps, schema_editor):
    Ring = apps.get_model("rings", "Ring")
    RunbookCheck = apps.get_model("rings", "RunbookCheck")
    for key, name, order, assignment, soak, threshold, approver in RINGS:
        Ring.objects.update_or_create(
            key=key,
            defaults={
                "name": name,
                "order": order,
                "assignment": assignment,
                "soak_hours": soak,
                "failure_threshold_pct": threshold,
                "approver_role": approver,
            },
        )
    for name, description, order in RUNBOOK:
        RunbookCheck.objects.update_or_create(
            name=name, defaults={"description": description, "order": order}
        )


class Migration(migrations.Migration):
    dependencies = [("rings", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
