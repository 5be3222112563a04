"""Half of each software page stays free (was 30 %, ``0009``): a push that upgrades every program
of a device rewrites every row of its pages, and only with half the page free do all the new row
versions fit beside the old ones, so PostgreSQL updates them in place without touching the four
indexes (heap-only tuples; at 70 % about a third of such an upgrade's rows were). Applies to pages
written from now on."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0012_asset_reboot_pending"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE inventory_installedsoftware SET (fillfactor = 50)",
            reverse_sql="ALTER TABLE inventory_installedsoftware SET (fillfactor = 70)",
        ),
    ]
