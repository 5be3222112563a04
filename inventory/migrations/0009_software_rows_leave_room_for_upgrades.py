"""Software rows are rewritten in place when a device upgrades: pages filled to 70 % leave room
for the new row version on the same page, so PostgreSQL updates it without touching the four
indexes (a heap-only tuple update). Applies to pages written from now on."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0008_alter_softwarepolicy_notes_and_more"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE inventory_installedsoftware SET (fillfactor = 70)",
            reverse_sql="ALTER TABLE inventory_installedsoftware RESET (fillfactor)",
        ),
    ]
