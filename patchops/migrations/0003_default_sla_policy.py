"""Seed the default SLA policy (patchops.sla.DEFAULT_RULES, copied here as it stood) in every
client schema, so the template schema new clients are cloned from carries it."""

from datetime import time

from django.db import migrations

DAY = 24
SCHED = ("scheduled", 6, time(2, 0))
PROMPT = ("user_prompted", None, None)
MANUAL = ("manual_approval", None, None)
DEFAULTS = {
    ("core_server", "critical"): (24, *SCHED),
    ("core_server", "high"): (3 * DAY, *SCHED),
    ("core_server", "medium"): (14 * DAY, *SCHED),
    ("core_server", "low"): (30 * DAY, *SCHED),
    ("core_server", "unknown"): (14 * DAY, *SCHED),
    ("workstation", "critical"): (2 * DAY, *PROMPT),
    ("workstation", "high"): (7 * DAY, *PROMPT),
    ("workstation", "medium"): (14 * DAY, *PROMPT),
    ("workstation", "low"): (30 * DAY, *PROMPT),
    ("workstation", "unknown"): (14 * DAY, *PROMPT),
    ("do_not_disrupt", "critical"): (3 * DAY, *MANUAL),
    ("do_not_disrupt", "high"): (7 * DAY, *MANUAL),
    ("do_not_disrupt", "medium"): (30 * DAY, *MANUAL),
    ("do_not_disrupt", "low"): (30 * DAY, *MANUAL),
    ("do_not_disrupt", "unknown"): (30 * DAY, *MANUAL),
}


def seed_policy(apps, schema_editor):
    if schema_editor.connection.schema_name == "public":
        return
    SlaPolicy = apps.get_model("patchops", "SlaPolicy")
    SlaRule = apps.get_model("patchops", "SlaRule")
    AssetClass = apps.get_model("inventory", "AssetClass")
    policy = SlaPolicy.objects.order_by("pk").first() or SlaPolicy.objects.create(name="Patch SLA")
    classes = {c.key: c for c in AssetClass.objects.all()}
    for (key, tier), (hours, reboot, weekday, at) in DEFAULTS.items():
        if key in classes:
            SlaRule.objects.get_or_create(
                policy=policy,
                asset_class=classes[key],
                tier=tier,
                defaults={
                    "window_hours": hours,
                    "reboot_policy": reboot,
                    "reboot_weekday": weekday,
                    "reboot_time": at,
                },
            )


class Migration(migrations.Migration):
    dependencies = [
        ("patchops", "0002_slapolicy_slapolicychange_slarule"),
        ("inventory", "0002_builtin_asset_classes"),
    ]
    operations = [migrations.RunPython(seed_policy, migrations.RunPython.noop)]
