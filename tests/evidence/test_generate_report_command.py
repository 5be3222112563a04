import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from reports.models import StoredReport

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _monthly_and_qbr_not_built(monkeypatch):
    """These tests exercise the "not available yet" path, whatever builders are installed."""
    from reports.services import REPORT_BUILDERS

    monkeypatch.delitem(REPORT_BUILDERS, "monthly", raising=False)
    monkeypatch.delitem(REPORT_BUILDERS, "qbr", raising=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--kind", "inventory", "--period", "2026-10"], "No client with the slug “nope”"),
        (["tenant-a", "--kind", "weekly", "--period", "2026-10"], "Unknown report kind “weekly”"),
        (["tenant-a", "--kind", "inventory", "--period", "2026-13"], "not a valid month"),
        (["tenant-a", "--kind", "inventory", "--period", "10/2026"], "write it as YYYY-MM"),
        (
            ["tenant-a", "--kind", "monthly", "--period", "2026-10"],
            "Monthly compliance report (“monthly”) is not available yet",
        ),
        (["tenant-a", "--kind", "qbr", "--period", "2026-10"], "(“qbr”) is not available yet"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(tenant_a, args, message):
    with pytest.raises(CommandError) as exc:
        call_command("generate_report", *args)
    assert message in str(exc.value)
    with tenant_context(tenant_a):
        assert not StoredReport.objects.exists()


def test_generates_stores_and_writes_the_file(tenant_a, tmp_path, capsys):
    out = tmp_path / "inventory.pdf"
    call_command(
        "generate_report",
        "tenant-a",
        "--kind",
        "inventory",
        "--period",
        "2026-10",
        "--out",
        str(out),
    )
    with tenant_context(tenant_a):
        report = StoredReport.objects.get()
        with report.file.open("rb") as fh:
            assert out.read_bytes() == fh.read()
    assert report.generated_by == "system:command"
    assert report.sha256 in capsys.readouterr().out


def test_a_month_that_has_not_started_is_refused(tenant_a):
    import time_machine

    with (
        time_machine.travel("2026-11-30T12:00:00Z", tick=False),
        pytest.raises(CommandError) as exc,
    ):
        call_command("generate_report", "tenant-a", "--kind", "inventory", "--period", "2026-12")
    assert "2026-12 has not started yet for Alpha Clinic (America/Chicago)" in str(exc.value)


def test_unwritable_out_path_is_refused_before_anything_is_stored(tmp_path):
    from django.core.management import CommandError, call_command
    from django_tenants.utils import tenant_context

    from reports.models import StoredReport
    from tenants.models import Client

    client = Client.objects.get(slug="tenant-a")
    with tenant_context(client):
        before = StoredReport.objects.count()
    with pytest.raises(CommandError, match="Cannot write"):
        call_command(
            "generate_report",
            "tenant-a",
            "--kind",
            "inventory",
            "--period",
            "2026-10",
            "--out",
            str(tmp_path / "missing-folder" / "report.pdf"),
        )
    with tenant_context(client):
        assert StoredReport.objects.count() == before
