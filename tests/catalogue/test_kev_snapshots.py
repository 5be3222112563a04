"""KEV as a living catalogue: snapshots in either order, removals, and every column layout.

The snapshots are cut from the real catalogue in ``shared/realdata/cisa-kev``, whatever day it
is from: an "older" snapshot keeps the entries added up to a day some months before its newest
entry, with the catalogVersion and dateReleased CISA would have published that day; a "newer"
one is the real file a day later, less two entries CISA has since removed (it removes entries
now and then, e.g. when a CVE is rejected). CSV layouts are the ones CISA has published since the
2021 launch: the eight launch columns, then ``notes``, then ``knownRansomwareCampaignUse``, then
``cwes``.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalogue.choices import SeverityTier
from catalogue.importers import ImportFileError
from catalogue.matching import severity_tier
from catalogue.models import CatalogueImport, KevEntry
from findings import risk

pytestmark = pytest.mark.realdata

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


def _released(doc: dict) -> date:
    return date.fromisoformat(doc["dateReleased"][:10])


def _snapshot(doc: dict, day: date) -> dict:
    """The document as CISA would have published it on ``day``."""
    return dict(doc, catalogVersion=f"{day:%Y.%m.%d}", dateReleased=f"{day}T17:00:00.000Z")


@pytest.fixture
def cut(real) -> date:
    """A day some months before the file's newest entry, with entries after it."""
    newest = max(date.fromisoformat(v["dateAdded"]) for v in real["vulnerabilities"])
    day = newest - timedelta(days=56)
    assert any(date.fromisoformat(v["dateAdded"]) > day for v in real["vulnerabilities"])
    return day


@pytest.fixture
def removed(real, cut) -> tuple[str, ...]:
    """Two CVEs the older snapshot lists and the newer one no longer does."""
    early = sorted(
        (v for v in real["vulnerabilities"] if date.fromisoformat(v["dateAdded"]) <= cut),
        key=lambda v: (v["dateAdded"], v["cveID"]),
    )
    return (early[0]["cveID"], early[len(early) // 2]["cveID"])


def _write_json(tmp_path, name: str, doc: dict, items: list[dict]):
    body = dict(doc, vulnerabilities=items, count=len(items))
    path = tmp_path / name
    path.write_text(json.dumps(body))
    return path


@pytest.fixture
def older(real, cut, tmp_path):
    items = [v for v in real["vulnerabilities"] if date.fromisoformat(v["dateAdded"]) <= cut]
    return _write_json(tmp_path, f"kev-{cut}.json", _snapshot(real, cut), items), items


@pytest.fixture
def newer(real, removed, tmp_path):
    day = _released(real) + timedelta(days=1)
    items = [v for v in real["vulnerabilities"] if v["cveID"] not in removed]
    return _write_json(tmp_path, f"kev-{day}.json", _snapshot(real, day), items), items


def _import(path, *args) -> None:
    call_command("import_kev", str(path), *args, "--no-progress", verbosity=0)


def test_oldest_then_newest_adds_and_marks_removed(realdata, real, older, newer, removed, db):
    old_path, old_items = older
    _import(old_path)
    assert KevEntry.objects.count() == len(old_items)
    _import(realdata / "cisa-kev/known_exploited_vulnerabilities.json")
    everything = len(real["vulnerabilities"])
    assert KevEntry.objects.listed().count() == everything
    new_path, new_items = newer
    _import(new_path)
    assert KevEntry.objects.count() == everything  # kept
    assert KevEntry.objects.listed().count() == len(new_items) == everything - len(removed)
    gone = KevEntry.objects.filter(removed_on__isnull=False)
    assert set(gone.values_list("cve_id", flat=True)) == set(removed)
    assert set(gone.values_list("removed_on", flat=True)) == {_released(real) + timedelta(days=1)}
    # A removed entry no longer raises a tier or counts as KEV.
    assert risk.is_kev(removed) == set()
    assert severity_tier(list(removed)) == SeverityTier.UNKNOWN  # listed, it would be critical
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


def test_forced_older_snapshot_only_adds_unseen_cves(real, older, newer, removed, tmp_path, db):
    new_path, new_items = newer
    _import(new_path)
    # An older snapshot that still lists the removed CVEs and has an edited due date.
    old_path, old_items = older
    edited = [dict(v) for v in old_items]
    edited[-1]["dueDate"] = "2099-01-01"
    doc = json.loads(old_path.read_text())
    forced = _write_json(tmp_path, "kev-old-edited.json", doc, edited)
    _import(forced, "--force")
    target = KevEntry.objects.get(cve_id=edited[-1]["cveID"])
    assert target.due_date.isoformat() != "2099-01-01"  # newer fact kept
    # The removed CVEs were never in the newer snapshot's catalogue here: they are unseen, so
    # they are added…
    assert set(KevEntry.objects.filter(cve_id__in=removed).values_list("cve_id", flat=True)) == set(
        removed
    )
    assert KevEntry.objects.count() == len(new_items) + len(removed)
    # …and nothing is marked removed by an old snapshot.
    assert not KevEntry.objects.filter(removed_on__isnull=False).exists()


def test_relisted_entry_loses_its_removal(realdata, newer, removed, tmp_path, real, db):
    new_path, _ = newer
    _import(realdata / "cisa-kev/known_exploited_vulnerabilities.json")
    _import(new_path)
    assert KevEntry.objects.get(cve_id=removed[0]).removed_on is not None
    day = _released(real) + timedelta(days=2)
    later = _write_json(tmp_path, f"kev-{day}.json", _snapshot(real, day), real["vulnerabilities"])
    _import(later)
    assert KevEntry.objects.get(cve_id=removed[0]).removed_on is None


def test_removed_entries_are_visible_in_the_api(
    realdata, newer, removed, real, settings, personas, login
):
    """Kept with the date of the snapshot that dropped them; the filter lists them."""
    from django.urls import clear_url_caches

    settings.PUBLIC_SCHEMA_URLCONF = "tests.catalogue.urls_catalogue_api"
    clear_url_caches()
    try:
        _import(realdata / "cisa-kev/known_exploited_vulnerabilities.json")
        _import(newer[0])
        client = login(personas.engineer)
        body = client.get("/api/v1/kev-entries/?removed=true").json()
        assert body["count"] == len(removed)
        day = (_released(real) + timedelta(days=1)).isoformat()
        assert {(r["id"], r["removed_on"]) for r in body["results"]} == {(c, day) for c in removed}
        detail = client.get(f"/api/v1/kev-entries/{removed[0]}/").json()
        assert detail["removed_on"] == day
        listed = client.get("/api/v1/kev-entries/?removed=false").json()
        assert listed["count"] == len(real["vulnerabilities"]) - len(removed)
    finally:
        clear_url_caches()


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


def test_csv_snapshot_after_json_of_same_day_is_accepted(realdata, real, db, load, tmp_path):
    load("kev", realdata / "cisa-kev/known_exploited_vulnerabilities.json")
    again = load("kev", realdata / "cisa-kev/known_exploited_vulnerabilities.csv")
    assert (again.created, again.updated) == (0, 0)
    assert again.as_of.date() == _released(real)
    # A CSV cut a week earlier (no version in a CSV: its newest dateAdded decides) is older.
    with (realdata / "cisa-kev/known_exploited_vulnerabilities.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    week_before = (_released(real) - timedelta(days=7)).isoformat()
    kept = [rows[0]] + [r for r in rows[1:] if r[4] < week_before]
    out = io.StringIO()
    csv.writer(out).writerows(kept)
    target = tmp_path / "kev-older.csv"
    target.write_text(out.getvalue())
    with pytest.raises(ImportFileError, match="older than the one already imported"):
        load("kev", target)
    assert KevEntry.objects.listed().count() == len(real["vulnerabilities"])


@pytest.mark.parametrize("dropped", ["catalogVersion", None], ids=["release-date", "version"])
def test_older_snapshot_is_refused_by_whichever_date_it_carries(real, cut, tmp_path, db, dropped):
    """Without a catalogVersion the release date decides; with both, the version does."""
    later = _snapshot(real, _released(real) + timedelta(days=1))
    earlier = _snapshot(real, cut)
    if dropped:
        later.pop(dropped)
        earlier.pop(dropped)
    _import(_write_json(tmp_path, "later.json", later, real["vulnerabilities"]))
    # The same entries (the same newest dateAdded): only the document's own date says it is older.
    older = _write_json(tmp_path, "earlier.json", earlier, real["vulnerabilities"])
    with pytest.raises(CommandError, match="older than the one already imported"):
        _import(older)
    _import(older, "--force")  # forced: nothing unseen, nothing changes
    assert not KevEntry.objects.filter(removed_on__isnull=False).exists()
