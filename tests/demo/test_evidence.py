from datetime import UTC, date, datetime

import pytest
import time_machine

from demo.reports import seed_client
from reports.models import StoredReport

pytestmark = pytest.mark.django_db


def test_demo_stores_last_months_reports_once(in_tenant_a):
    with time_machine.travel(datetime(2026, 11, 1, 12, tzinfo=UTC), tick=False):
        seed_client(in_tenant_a)
        seed_client(in_tenant_a)
    kinds = sorted(
        StoredReport.objects.filter(period=date(2026, 10, 1)).values_list("kind", flat=True)
    )
    assert kinds == ["bundle", "exceptions", "hipaa", "inventory", "monthly", "qbr"]
