from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalogue.models import CatalogueImport, KevEntry

pytestmark = pytest.mark.realdata


def test_kev_json_imports_every_entry_with_file_dates(realdata, load):
    record = load("kev", realdata / "cisa-kev/known_exploited_vulnerabilities.json")
    assert record.created == 1404 and record.status == "succeeded"
    assert KevEntry.objects.count() == 1404
    assert KevEntry.objects.filter(known_ransomware=True).count() == 293
    assert KevEntry.objects.filter(known_ransomware=False).count() == 1111
    assert KevEntry.objects.filter(cwes=[]).count() == 152
    log4shell = KevEntry.objects.get(cve_id="CVE-2021-44228")
    assert (log4shell.date_added, log4shell.due_date) == (date(2021, 12, 10), date(2021, 12, 24))
    assert log4shell.known_ransomware
    pan = KevEntry.objects.get(cve_id="CVE-2024-3400")
    assert (pan.due_date - pan.date_added).days == 7


def test_kev_entries_due_before_added_are_kept_as_overdue(realdata, load):
    load("kev", realdata / "cisa-kev/known_exploited_vulnerabilities.json")
    overdue = KevEntry.objects.filter(is_overdue_on_add=True)
    assert overdue.count() == 15
    assert set(overdue.values_list("date_added", flat=True)) == {date(2021, 11, 3)}
    printnightmare = KevEntry.objects.get(cve_id="CVE-2021-34527")
    assert printnightmare.due_date == date(2021, 7, 20)
    assert printnightmare.is_overdue(on=date(2021, 11, 3))


def test_kev_csv_holds_the_same_cves_and_values_as_json(realdata, load):
    load("kev", realdata / "cisa-kev/known_exploited_vulnerabilities.csv")
    from_csv = dict(KevEntry.objects.values_list("cve_id", "cwes"))
    assert len(from_csv) == 1404
    second = load("kev", realdata / "cisa-kev/known_exploited_vulnerabilities.json")
    # Same CVE set and the same values: the JSON run changes nothing.
    assert (second.created, second.updated, second.unchanged) == (0, 0, 1404)
    assert dict(KevEntry.objects.values_list("cve_id", "cwes")) == from_csv


def test_kev_second_import_changes_nothing(realdata, load):
    load("kev", realdata / "cisa-kev/known_exploited_vulnerabilities.json")
    again = load("kev", realdata / "cisa-kev/known_exploited_vulnerabilities.json")
    assert (again.created, again.updated) == (0, 0)
    assert CatalogueImport.objects.filter(kind="kev").count() == 2
    assert len(again.sha256) == 64


@pytest.mark.parametrize(
    "name", ["epss/example-1.csv", "cisa-kev/known_exploited_vulnerabilities_schema.json"]
)
def test_kev_wrong_file_is_refused_and_nothing_written(realdata, db, name):
    with pytest.raises(CommandError, match="not a CISA KEV catalogue"):
        call_command("import_kev", str(realdata / name))
    assert not KevEntry.objects.exists()
    assert not CatalogueImport.objects.exists()


def test_kev_corrupt_entry_rolls_back_the_whole_file(db, tmp_path):
    bad = tmp_path / "kev.json"
    bad.write_text(
        '{"vulnerabilities": ['
        '{"cveID": "CVE-2020-0001", "dateAdded": "2021-11-03", "dueDate": "2021-11-17"},'
        '{"cveID": "CVE-2020-0002", "dateAdded": "yesterday", "dueDate": "2021-11-17"}]}'
    )
    with pytest.raises(CommandError, match="CVE-2020-0002: dateAdded"):
        call_command("import_kev", str(bad))
    assert not KevEntry.objects.exists()


def test_kev_missing_file_is_a_command_error(db, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_kev", str(tmp_path / "nope.json"))


def test_kev_command_prints_a_summary(realdata, db, capsys):
    call_command("import_kev", str(realdata / "cisa-kev/known_exploited_vulnerabilities.json"))
    out = capsys.readouterr().out
    assert "kev entries: 1404 created, 0 updated, 0 unchanged" in out


def test_kev_changed_entry_is_updated_in_place(realdata, load, tmp_path):
    import json

    source = realdata / "cisa-kev/known_exploited_vulnerabilities.json"
    load("kev", source)
    before = KevEntry.objects.get(cve_id="CVE-2021-44228")
    doc = json.loads(source.read_text())
    for item in doc["vulnerabilities"]:
        if item["cveID"] == "CVE-2021-44228":
            item["dueDate"] = "2021-12-31"
    changed = tmp_path / "kev.json"
    changed.write_text(json.dumps(doc))
    record = load("kev", changed)
    assert (record.created, record.updated, record.unchanged) == (0, 1, 1403)
    after = KevEntry.objects.get(cve_id="CVE-2021-44228")
    assert after.pk == before.pk and after.due_date == date(2021, 12, 31)
    assert after.updated_at > before.updated_at
