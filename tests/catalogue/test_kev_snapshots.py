"""KEV as a living catalogue: snapshots in either order, removals, and every column layout.

The snapshots are cut from the real 2025-08-25 catalogue in ``shared/realdata/cisa-kev``: an
"older" snapshot keeps the entries added up to a date, with the catalogVersion and dateReleased
CISA would have published that day; a "newer" one is the real file less two entries (CISA
removes entries now and then, e.g. when a CVE is rejected). CSV layouts are the ones CISA has
published since the 2021 launch: the eight launch columns, then ``notes``, then
``knownRansomwareCampaignUse``, then ``cwes``.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalogue.choices import SeverityTier
from catalogue.importers import ImportFileError
from catalogue.matching import severity_tier
from catalogue.models import CatalogueImport, KevEntry
from patchops import risk

pytestmark = pytest.mark.realdata

REMOVED = ("CVE-2021-44228", "CVE-2024-3400")
LAUNCH = [
    "cveID",
    "vendorProject",
    "product",
    "vulnerabilityName",
    "dateAdded",
    "shortDescription",
    "requiredAction",
    "dueDate",
]


@pytest.fixture
def real(realdata) -> dict:
    return json.loads((realdata / "cisa-kev/known_exploited_vulnerabilities.json").read_text())


def _write_json(tmp_path, name: str, doc: dict, items: list[dict]):
    body = dict(doc, vulnerabilities=items, count=len(items))
    path = tmp_path / name
    path.write_text(json.dumps(body))
    return path


@pytest.fixture
def older(real, tmp_path):
    items = [v for v in real["vulnerabilities"] if v["dateAdded"] <= "2025-06-30"]
    doc = dict(real, catalogVersion="2025.06.30", dateReleased="2025-06-30T16:00:00.000Z")
    return _write_json(tmp_path, "kev-2025-06-30.json", doc, items), items


@pytest.fixture
def newer(real, tmp_path):
    items = [v for v in real["vulnerabilities"] if v["cveID"] not in REMOVED]
    doc = dict(real, catalogVersion="2025.08.26", dateReleased="2025-08-26T17:00:00.000Z")
    return _write_json(tmp_path, "kev-2025-08-26.json", doc, items), items


def _import(path, *args) -> None:
    call_command("import_kev", str(path), *args, "--no-progress", verbosity=0)


def test_oldest_then_newest_adds_and_marks_removed(realdata, older, newer, db):
    old_path, old_items = older
    _import(old_path)
    assert KevEntry.objects.count() == len(old_items)
    _import(realdata / "cisa-kev/known_exploited_vulnerabilities.json")
    assert KevEntry.objects.listed().count() == 1404
    new_path, new_items = newer
    _import(new_path)
    assert KevEntry.objects.count() == 1404  # kept
    assert KevEntry.objects.listed().count() == len(new_items) == 1402
    removed = KevEntry.objects.filter(removed_on__isnull=False)
    assert set(removed.values_list("cve_id", flat=True)) == set(REMOVED)
    assert set(removed.values_list("removed_on", flat=True)) == {date(2025, 8, 26)}
    # A removed entry no longer raises a tier or counts as KEV.
    assert risk.is_kev(REMOVED) == set()
    assert severity_tier(list(REMOVED)) == SeverityTier.UNKNOWN  # listed, it would be critical
    # Re-importing the same newest snapshot changes nothing.
    before = list(KevEntry.objects.order_by("cve_id").values_list("cve_id", "removed_on"))
    _import(new_path)
    assert list(KevEntry.objects.order_by("cve_id").values_list("cve_id", "removed_on")) == before


def test_newest_then_oldest_is_refused_and_changes_nothing(older, newer, db):
    new_path, _ = newer
    _import(new_path)
    before = list(KevEntry.objects.order_by("cve_id").values_list("cve_id", "due_date", "notes"))
    imports = CatalogueImport.objects.count()
    old_path, _ = older
    with pytest.raises(CommandError, match=r"older than the one already imported.*--force"):
        _import(old_path)
    assert CatalogueImport.objects.count() == imports
    after = list(KevEntry.objects.order_by("cve_id").values_list("cve_id", "due_date", "notes"))
    assert after == before
    assert not KevEntry.objects.filter(removed_on__isnull=False).exists()


def test_forced_older_snapshot_only_adds_unseen_cves(real, older, newer, tmp_path, db):
    new_path, new_items = newer
    _import(new_path)
    # An older snapshot that still lists one of the removed CVEs and an edited due date.
    old_path, old_items = older
    edited = [dict(v) for v in old_items]
    edited[0]["dueDate"] = "2099-01-01"
    doc = json.loads(old_path.read_text())
    forced = _write_json(tmp_path, "kev-old-edited.json", doc, edited)
    _import(forced, "--force")
    target = KevEntry.objects.get(cve_id=edited[0]["cveID"])
    assert target.due_date.isoformat() != "2099-01-01"  # newer fact kept
    # Log4Shell was never in the newer snapshot's catalogue here: it is unseen, so it is added…
    assert KevEntry.objects.filter(cve_id="CVE-2021-44228").exists()
    assert KevEntry.objects.count() == len(new_items) + sum(
        1 for v in old_items if v["cveID"] in REMOVED
    )
    # …and nothing is marked removed by an old snapshot.
    assert not KevEntry.objects.filter(removed_on__isnull=False).exists()


def test_relisted_entry_loses_its_removal(realdata, newer, tmp_path, real, db):
    new_path, _ = newer
    _import(realdata / "cisa-kev/known_exploited_vulnerabilities.json")
    _import(new_path)
    assert KevEntry.objects.get(cve_id=REMOVED[0]).removed_on is not None
    doc = dict(real, catalogVersion="2025.08.27", dateReleased="2025-08-27T17:00:00.000Z")
    later = _write_json(tmp_path, "kev-2025-08-27.json", doc, real["vulnerabilities"])
    _import(later)
    assert KevEntry.objects.get(cve_id=REMOVED[0]).removed_on is None


def _csv(rows: list[dict], columns: list[str], headings: list[str] | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headings or columns)
    for row in rows:
        writer.writerow(
            [", ".join(row[c]) if isinstance(row.get(c), list) else row.get(c, "") for c in columns]
        )
    return out.getvalue()


@pytest.mark.parametrize(
    "columns",
    [
        pytest.param(LAUNCH, id="2021-launch-8-columns"),
        pytest.param([*LAUNCH, "notes"], id="2022-notes"),
        pytest.param([*LAUNCH, "knownRansomwareCampaignUse", "notes"], id="2022-ransomware"),
        pytest.param([*LAUNCH, "knownRansomwareCampaignUse", "notes", "cwes"], id="2024-cwes"),
    ],
)
def test_every_published_csv_layout_imports(real, tmp_path, db, columns):
    items = real["vulnerabilities"][:50]
    path = tmp_path / "kev.csv"
    path.write_text("\ufeff" + _csv(items, columns), encoding="utf-8")
    _import(path)
    assert KevEntry.objects.count() == 50
    first = KevEntry.objects.get(cve_id=items[0]["cveID"])
    assert first.due_date.isoformat() == items[0]["dueDate"]
    assert first.known_ransomware == (
        "knownRansomwareCampaignUse" in columns
        and items[0]["knownRansomwareCampaignUse"] == "Known"
    )
    assert first.cwes == (sorted(items[0]["cwes"]) if "cwes" in columns else [])


def test_spelled_out_headings_and_us_dates_import(real, tmp_path, db):
    """The catalogue page's own export: spelled-out headings, dates as a spreadsheet writes them."""
    items = [dict(v) for v in real["vulnerabilities"][:3]]
    for v in items:
        y, m, d = v["dateAdded"].split("-")
        v["dateAdded"] = f"{int(m)}/{int(d)}/{y}"
    headings = [
        "CVE",
        "Vendor/Project",
        "Product",
        "Vulnerability Name",
        "Date Added to Catalog",
        "Short Description",
        "Action",
        "Due Date",
    ]
    path = tmp_path / "kev-export.csv"
    path.write_text(_csv(items, LAUNCH, headings))
    _import(path)
    entry = KevEntry.objects.get(cve_id=items[0]["cveID"])
    assert entry.date_added.isoformat() == real["vulnerabilities"][0]["dateAdded"]


def test_csv_without_required_columns_is_refused_clearly(tmp_path, db):
    path = tmp_path / "kev.csv"
    path.write_text("cveID,vendorProject,product\r\nCVE-2021-44228,Apache,Log4j\r\n")
    with pytest.raises(CommandError, match=r"no dateAdded, dueDate column.*cveID"):
        _import(path)
    assert not KevEntry.objects.exists()


def test_csv_snapshot_after_json_of_same_day_is_accepted(realdata, db, load, tmp_path):
    load("kev", realdata / "cisa-kev/known_exploited_vulnerabilities.json")
    again = load("kev", realdata / "cisa-kev/known_exploited_vulnerabilities.csv")
    assert (again.created, again.updated) == (0, 0)
    assert again.as_of.date() == date(2025, 8, 25)
    # A CSV cut a week earlier (no version in a CSV: its newest dateAdded decides) is older.
    with (realdata / "cisa-kev/known_exploited_vulnerabilities.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    kept = [rows[0]] + [r for r in rows[1:] if r[4] < "2025-08-18"]
    out = io.StringIO()
    csv.writer(out).writerows(kept)
    target = tmp_path / "kev-older.csv"
    target.write_text(out.getvalue())
    with pytest.raises(ImportFileError, match="older than the one already imported"):
        load("kev", target)
    assert KevEntry.objects.listed().count() == 1404
