import gzip
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalogue.importers.epss import parse_header
from catalogue.models import EpssScore

pytestmark = pytest.mark.realdata


def test_epss_header_gives_model_version_and_score_date():
    assert parse_header("#model_version:v2026.06.15,score_date:2026-09-29T12:00:22Z") == (
        "v2026.06.15",
        date(2026, 9, 29),
    )
    assert parse_header("#model_version:v2023.03.01,score_date:2025-02-20T00:00:00+0000") == (
        "v2023.03.01",
        date(2025, 2, 20),
    )


def test_epss_excerpt_joins_the_november_cves(realdata, load):
    record = load("epss", realdata / "epss/epss_scores-current.excerpt.csv")
    assert record.created == 239
    expected = {
        "CVE-2023-36025": ("0.88085", "0.99762"),
        "CVE-2023-36036": ("0.1667", "0.96928"),
        "CVE-2023-36033": ("0.11977", "0.95995"),
    }
    for cve, (score, pct) in expected.items():
        row = EpssScore.objects.get(cve_id=cve)
        assert (row.score, row.percentile) == (Decimal(score), Decimal(pct))
        assert row.score_date == date(2026, 9, 29) and row.model_version == "v2026.06.15"


def test_epss_gzip_file_and_idempotence(realdata, load, tmp_path):
    packed = tmp_path / "epss_scores-2025-02-20.csv.gz"
    packed.write_bytes(gzip.compress((realdata / "epss/example-1.csv").read_bytes()))
    assert load("epss", packed).created == 5
    again = load("epss", packed)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)


def test_epss_older_file_never_overwrites_a_newer_score(load, tmp_path):
    newer = tmp_path / "new.csv"
    newer.write_text(
        "#model_version:v2,score_date:2025-03-01T00:00:00Z\ncve,epss,percentile\n"
        "CVE-2020-0001,0.5,0.9\n"
    )
    older = tmp_path / "old.csv"
    older.write_text(
        "#model_version:v1,score_date:2025-01-01T00:00:00Z\ncve,epss,percentile\n"
        "CVE-2020-0001,0.1,0.2\n"
    )
    load("epss", newer)
    record = load("epss", older)
    assert record.updated == 0
    assert EpssScore.objects.get().score == Decimal("0.5")


@pytest.mark.parametrize(
    "body",
    [
        "cveID,vendorProject\nCVE-1,x\n",
        "#model_version:v1,score_date:2025-01-01\ncve,epss,percentile\nCVE-2020-1,1.7,0.2\n",
        "#model_version:v1,score_date:2025-01-01\ncve,epss,percentile\nCVE-2020-1,abc,0.2\n",
        "cve,epss,percentile\nCVE-2020-1,0.1,0.2\n",
    ],
)
def test_epss_bad_file_is_refused_and_nothing_written(db, tmp_path, body):
    bad = tmp_path / "bad.csv"
    bad.write_text(body)
    with pytest.raises(CommandError):
        call_command("import_epss", str(bad))
    assert not EpssScore.objects.exists()


def test_epss_corrupt_gzip_is_refused(db, tmp_path):
    bad = tmp_path / "x.csv.gz"
    bad.write_bytes(b"\x1f\x8b" + b"garbage")
    with pytest.raises(CommandError, match="corrupt gzip"):
        call_command("import_epss", str(bad))
