from datetime import date

import pytest
from django.db import IntegrityError, transaction

from reports.models import ImmutableReportError, ReportKind, StoredReport
from reports.services import generate_report, store_report

pytestmark = pytest.mark.django_db
OCTOBER = date(2026, 10, 1)


def _bytes(report: StoredReport) -> bytes:
    with report.file.open("rb") as fh:
        return fh.read()


def test_a_stored_report_never_changes(in_tenant_a):
    report = store_report(
        client=in_tenant_a, kind="inventory", period=OCTOBER, content=b"%PDF-1 one"
    )
    original = _bytes(report)
    report.sha256 = "0" * 64
    with pytest.raises(ImmutableReportError):
        report.save()
    with pytest.raises(ImmutableReportError):
        report.delete()
    with pytest.raises(IntegrityError, match="refused"), transaction.atomic():
        StoredReport.objects.filter(pk=report.pk).update(sha256="0" * 64, file="elsewhere.pdf")
    with pytest.raises(IntegrityError, match="refused"), transaction.atomic():
        StoredReport.objects.filter(pk=report.pk).delete()
    fresh = StoredReport.objects.get(pk=report.pk)
    assert fresh.sha256 == report.sha256 or fresh.sha256 != "0" * 64
    assert fresh.sha256 != "0" * 64 and fresh.file.name == report.file.name
    assert _bytes(fresh) == original == b"%PDF-1 one"


def test_regenerating_creates_a_new_version_and_keeps_the_old_file(in_tenant_a):
    first = generate_report(client=in_tenant_a, kind=ReportKind.INVENTORY, period=OCTOBER)
    first_bytes = _bytes(first)
    second = generate_report(client=in_tenant_a, kind=ReportKind.INVENTORY, period=OCTOBER)
    assert (first.version, second.version) == (1, 2)
    assert first.file.name != second.file.name
    assert first.file.name.endswith("tenant-a-inventory-2026-10-v1.pdf")
    assert _bytes(StoredReport.objects.get(pk=first.pk)) == first_bytes


def test_the_period_must_be_a_first_of_month(in_tenant_a):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        store_report(client=in_tenant_a, kind="inventory", period=date(2026, 10, 5), content=b"x")
    assert not StoredReport.objects.exists()
