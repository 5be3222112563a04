"""The demo fleet goes through the real ingest and looks like a small practice."""

import pytest

from demo.inventory import seed_client
from inventory.models import Asset, InstalledSoftware, PendingUpdate, UnknownDevice

pytestmark = pytest.mark.django_db


def test_demo_fleet_of_a_hipaa_client(in_tenant_a):
    seed_client(in_tenant_a)
    assert 20 <= Asset.objects.count() <= 60
    pacs = Asset.objects.get(hostname__endswith="-pacs01")
    assert pacs.is_ephi and pacs.asset_class.key == "do_not_disrupt"
    families = set(Asset.objects.values_list("os_family", flat=True))
    assert families == {"windows", "linux", "macos", "other"}
    assert Asset.objects.filter(role="shared_kiosk").count() == 2
    assert Asset.objects.filter(is_stale=True).count() == 1
    categories = set(InstalledSoftware.objects.values_list("category", flat=True))
    assert {"browser", "pdf_tool", "java", "line_of_business", "os_update"} <= categories
    assert PendingUpdate.objects.filter(advisory__startswith="KB").exists()
    assert PendingUpdate.objects.filter(advisory__startswith="USN-").exists()
    assert UnknownDevice.objects.count() == 2  # the gateway is the listed firewall
    assert Asset.objects.filter(role="network", software_tables=[]).count() == 2
