"""MSP engineers upload catalogue feeds in the portal: imported as the import commands do,
all or nothing, with the same messages; OSV and CVE 5 records also as a ZIP of their files."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalogue.models import CatalogueImport, KevEntry, Vulnerability
from uploads.models import FileUpload

pytestmark = pytest.mark.django_db
PAGE = "/catalogue-uploads/"


def _file(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_an_engineer_uploads_the_kev_catalogue_and_sees_its_counts(
    login, personas, deliver, realdata
):
    data = (realdata / "cisa-kev" / "known_exploited_vulnerabilities.json").read_bytes()
    listed = len(json.loads(data)["vulnerabilities"])
    http = login(personas.engineer)
    assert "Upload a catalogue file" in http.get("/catalogues/").content.decode()

    detail = http.post(PAGE, {"kind": "kev", "file": _file("kev.json", data)})["Location"]
    deliver()

    page = http.get(detail).content.decode()
    assert f"Imported kev.json: {listed} created, 0 updated, 0 unchanged." in page
    assert KevEntry.objects.count() == listed
    assert CatalogueImport.objects.get().file_name == "kev.json"
    assert FileUpload.objects.get().state == "done"


def test_cve5_records_arrive_as_a_zip_of_their_files(login, personas, deliver, realdata):
    files = sorted((realdata / "cve-json5").glob("CVE-*.json"))
    archive = _zip({f"cves/2024/{path.name}": path.read_bytes() for path in files})
    http = login(personas.engineer)

    http.post(PAGE, {"kind": "cve5", "file": _file("cves.zip", archive)})
    deliver()

    upload = FileUpload.objects.get()
    assert upload.state == "done", upload.error
    ids = {path.stem for path in files}
    assert set(Vulnerability.objects.values_list("cve_id", flat=True)) >= ids


def test_a_wrong_file_for_its_kind_fails_with_the_importers_message(
    login, personas, deliver, realdata
):
    epss = (realdata / "epss" / "example-1.csv").read_bytes()
    http = login(personas.engineer)

    detail = http.post(PAGE, {"kind": "kev", "file": _file("epss.csv", epss)})["Location"]
    deliver()

    upload = FileUpload.objects.get()
    assert upload.state == "failed" and upload.error
    assert upload.error in http.get(detail).content.decode().replace("<br>", "\n")
    assert (
        not KevEntry.objects.exists()
        and not CatalogueImport.objects.filter(status="succeeded").exists()
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "", "file": ("k.json", b"{}")}, "This field is required"),
        ({"kind": "kev", "file": ("k.zip", _zip({"a.json": b"{}"}))}, "is a ZIP archive; only"),
        (
            {"kind": "osv", "file": ("o.zip", _zip({"../../etc/x.json": b"{}"}))},
            "holds a file outside the archive",
        ),
        ({"kind": "osv", "file": ("o.zip", _zip({"readme.txt": b"hi"}))}, "holds no JSON files"),
        ({"kind": "osv", "file": ("o.zip", b"PK\x03\x04broken")}, "is not a readable ZIP"),
        ({"kind": "nvd", "file": ("n.json", b"   ")}, "n.json is empty."),
    ],
)
def test_what_cannot_be_imported_is_refused_at_once(login, personas, queued, fields, message):
    name, data = fields["file"]
    answer = login(personas.engineer).post(PAGE, {**fields, "file": _file(name, data)})
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert not FileUpload.objects.exists() and queued == []


def test_only_msp_admins_and_engineers_upload_catalogues(login, personas, http):
    assert http.get(PAGE).status_code == 302
    for person in (personas.account_manager, personas.owner_a, personas.viewer_a):
        assert login(person).get(PAGE).status_code == 403
        assert "Upload a catalogue file" not in login(person).get("/catalogues/").content.decode()
    assert login(personas.msp_admin).get(PAGE).status_code == 200
