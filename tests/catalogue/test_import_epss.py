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


def _body(realdata) -> list[str]:
    """The real excerpt's column line and rows, without its ``#model_version`` comment."""
    lines = (realdata / "epss/epss_scores-current.excerpt.csv").read_text().splitlines()
    assert lines[0].startswith("#model_version")
    return lines[1:]


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_epss_without_comment_line_takes_the_date_from_the_file_name(
    realdata, tmp_path, load, gzipped
):
    body = ("\n".join(_body(realdata)) + "\n").encode()
    name = "epss_scores-2026-09-29.csv" + (".gz" if gzipped else "")
    path = tmp_path / name
    path.write_bytes(gzip.compress(body) if gzipped else body)
    record = load("epss", path)
    assert record.created == len(_body(realdata)) - 1 == 239
    row = EpssScore.objects.get(cve_id="CVE-2023-36025")
    assert (row.score, row.percentile) == (Decimal("0.88085"), Decimal("0.99762"))
    assert row.score_date == date(2026, 9, 29) and row.model_version == ""
    assert record.as_of.date() == date(2026, 9, 29)


def test_epss_with_comment_line_gzipped_keeps_the_model_version(realdata, tmp_path, load):
    path = tmp_path / "epss.csv.gz"
    path.write_bytes(
        gzip.compress((realdata / "epss/epss_scores-current.excerpt.csv").read_bytes())
    )
    record = load("epss", path)
    assert record.version == "v2026.06.15" and record.as_of.date() == date(2026, 9, 29)
    again = load("epss", path)
    assert (again.created, again.updated) == (0, 0)


def test_epss_api_csv_with_date_column_and_no_percentile(realdata, tmp_path, load):
    """The EPSS API's CSV carries a ``date`` column; the earliest daily files had no
    percentile, which is then the share of the file's CVEs scoring at most as high."""
    rows = [line.split(",") for line in _body(realdata)[1:]]
    text = "cve,epss,date\n" + "".join(f"{c},{e},2026-09-29\n" for c, e, _p in rows)
    path = tmp_path / "epss-api.csv"
    path.write_text(text)
    load("epss", path)
    top = max(rows, key=lambda r: Decimal(r[1]))
    assert EpssScore.objects.get(cve_id=top[0]).percentile == Decimal("1.00000")
    assert EpssScore.objects.get(cve_id=top[0]).score_date == date(2026, 9, 29)


def test_epss_without_any_date_is_refused(realdata, tmp_path, db):
    path = tmp_path / "scores.csv"
    path.write_text("\n".join(_body(realdata)) + "\n")
    with pytest.raises(CommandError, match="no score date"):
        call_command("import_epss", str(path))
    assert not EpssScore.objects.exists()
