from django.db import migrations

BUILTIN = [
    ("core_server", "Core server", True, False),
    ("workstation", "Workstation", False, False),
    ("do_not_disrupt", "Do not disrupt", True, True),
]


def create_builtin_classes(apps, schema_editor):
    AssetClass = apps.get_model("inventory", "AssetClass")
    for key, name, critical, dnd in BUILTIN:
        AssetClass.objects.update_or_create(
            key=key,
            defaults={"name": name, "is_builtin": True, "is_critical": critical,
                      "is_do_not_disrupt": dnd},
        )


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]
    operations = [migrations.RunPython(create_builtin_classes, migrations.RunPython.noop)]
