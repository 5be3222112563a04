"""Engineers upload inventory files in the portal: checked at once with the ingest command's
messages, read in the background, and shown with their result."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from inventory.models import Asset, DiscoveryRun, UnknownDevice
from tests.inventory.payloads import ubuntu_payload
from uploads.models import FileUpload

pytestmark = pytest.mark.django_db
PAGE = "/clients/tenant-a/uploads/"

CSV = (
    "hostname,serial,mac,ip,os_family,os_name,os_version,role,owner,location\n"
    "FRONTDESK-01,7B5RXY2,00:1A:2B:3C:4D:5E,10.20.1.31,windows,Microsoft Windows 11 Pro,"
    "10.0.22631,workstation,Reception,Front desk\n"
    "LAB-02,8C6SZZ3,00:1A:2B:3C:4D:5F,10.20.1.32,windows,Microsoft Windows 11 Pro,"
    "10.0.22631,workstation,Laboratory,Lab\n"
)


def _file(name: str, content: str | bytes) -> SimpleUploadedFile:
    data = content.encode() if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_an_engineer_uploads_a_csv_and_sees_the_assets_it_created(
    login, personas, tenant_a, queued, deliver
):
    http = login(personas.engineer)
    assert "Nothing uploaded yet" in http.get(PAGE).content.decode()

    answer = http.post(PAGE, {"file": _file("clinic.csv", CSV), "format": "", "hostname": ""})

    upload = FileUpload.objects.get()
    assert answer.status_code == 302 and answer["Location"].endswith(f"/uploads/{upload.uuid}/")
    assert (upload.state, upload.kind, upload.name, upload.client) == (
        "queued",
        "csv",
        "clinic.csv",
        tenant_a,
    )
    assert upload.uploaded_by == personas.engineer
    waiting = http.get(answer["Location"]).content.decode()
    assert "Waiting for a worker" in waiting

    deliver()

    page = http.get(answer["Location"]).content.decode()
    assert "2 device(s): 2 asset(s) created, 0 updated" in page
    with tenant_context(tenant_a):
        assert sorted(Asset.objects.values_list("hostname", flat=True)) == [
            "frontdesk-01",
            "lab-02",
        ]
        run = DiscoveryRun.objects.get()
        assert (run.source, run.source_name, run.actor) == (
            "file",
            "clinic.csv",
            "engineer@msp.test",
        )
    status = http.get(answer["Location"] + "status/").json()
    assert (status["state"], status["error"]) == ("done", "")
    upload.refresh_from_db()
    assert not upload.file  # read once, then removed; its SHA-256 stays
    listing = http.get(PAGE).content.decode()
    assert "clinic.csv" in listing and "Done" in listing


def test_a_task_delivered_twice_reads_the_file_once(login, personas, tenant_a, queued):
    from uploads.tasks import read_upload

    login(personas.engineer).post(PAGE, {"file": _file("clinic.csv", CSV)})
    [kwargs] = queued
    read_upload.apply(kwargs=kwargs).get()
    read_upload.apply(kwargs=kwargs).get()
    upload = FileUpload.objects.get()
    assert (upload.state, upload.attempts) == ("done", 1)
    with tenant_context(tenant_a):
        assert DiscoveryRun.objects.count() == 1


def test_an_nmap_scan_fills_the_unknown_device_queue(login, personas, tenant_a, deliver, realdata):
    scan = (realdata / "nmap" / "2_hosts.xml").read_bytes()
    up = [h for h in ET.fromstring(scan).iter("host") if h.find("status").get("state") == "up"]
    http = login(personas.engineer)

    detail = http.post(PAGE, {"file": _file("2_hosts.xml", scan)})["Location"]
    deliver()

    page = http.get(detail).content.decode()
    assert f"{len(up)} host(s) up" in page and "Unknown devices" in page
    with tenant_context(tenant_a):
        assert UnknownDevice.objects.count() == len(up)


@pytest.mark.parametrize(
    ("name", "content", "fields", "message"),
    [
        ("empty.csv", "  \n", {}, "empty.csv is empty."),
        ("notes.txt", "just some words\n", {}, "Cannot tell the format of notes.txt"),
        ("bad.csv", "no,header,here\n1,2,3\n", {"format": "csv"}, "is not a readable csv file"),
        ("a.csv", CSV, {"format": "docx"}, "Select a valid choice"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_at_once_and_nothing_is_recorded(
    login, personas, queued, name, content, fields, message
):
    answer = login(personas.engineer).post(PAGE, {"file": _file(name, content), **fields})

    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert not FileUpload.objects.exists() and queued == []


def test_the_page_script_gets_the_same_refusal_as_json(login, personas):
    answer = login(personas.engineer).post(
        PAGE, {"file": _file("empty.csv", "")}, HTTP_ACCEPT="application/json"
    )
    assert answer.status_code == 400
    assert answer.json() == {"errors": {"file": ["The submitted file is empty."]}}


def test_a_file_over_the_limit_is_refused(login, personas, settings, queued):
    settings.UPLOAD_MAX_BYTES = 100
    answer = login(personas.engineer).post(PAGE, {"file": _file("big.csv", CSV)})
    assert answer.status_code == 400 and "larger than" in answer.content.decode()
    assert not FileUpload.objects.exists()


def test_a_body_over_the_upload_limit_is_refused_before_it_is_read(login, personas, settings):
    settings.UPLOAD_MAX_BYTES = 1024
    settings.REQUEST_MAX_BODY_BYTES = 1024
    answer = login(personas.engineer).post(PAGE, {"file": _file("big.csv", "x" * 5000)})
    assert answer.status_code == 413
    assert not FileUpload.objects.exists()


def test_a_device_the_file_cannot_describe_fails_with_the_reason_and_writes_nothing(
    login, personas, tenant_a, deliver
):
    payload = ubuntu_payload()
    del payload["system_info"]
    http = login(personas.engineer)

    detail = http.post(PAGE, {"file": _file("p.json", json.dumps(payload))})["Location"]
    deliver()

    page = http.get(detail).content.decode()
    assert "p.json was not ingested (nothing written)" in page
    assert "give the host name when the file does not name its host" in page
    assert FileUpload.objects.get().state == "failed"
    with tenant_context(tenant_a):
        assert not Asset.objects.exists() and not DiscoveryRun.objects.exists()


def test_a_host_name_given_with_the_file_names_its_host(login, personas, tenant_a, deliver):
    dpkg = "openssl\t3.0.2-0ubuntu1.10\nbash\t5.1-6ubuntu1\n"
    http = login(personas.engineer)
    http.post(PAGE, {"file": _file("pkgs.txt", dpkg), "format": "dpkg", "hostname": "web-07"})
    deliver()
    with tenant_context(tenant_a):
        assert list(Asset.objects.values_list("hostname", flat=True)) == ["web-07"]


def test_only_operators_of_the_client_reach_the_uploads(login, personas, http, tenant_b, queued):
    assert http.get(PAGE).status_code == 302  # to the login page
    assert login(personas.owner_a).get(PAGE).status_code == 403
    manager = login(personas.account_manager)  # sees the client, may not operate it
    assert manager.post(PAGE, {"file": _file("a.csv", CSV)}).status_code == 403
    assert login(personas.owner_b).get(PAGE).status_code == 404
    assert not FileUpload.objects.exists()


def test_another_clients_upload_is_not_found(login, personas, deliver):
    engineer = login(personas.engineer)
    detail = engineer.post(PAGE, {"file": _file("clinic.csv", CSV)})["Location"]
    other = detail.replace("/tenant-a/", "/tenant-b/")
    assert engineer.get(other).status_code == 404
    assert engineer.get(other + "status/").status_code == 404


def test_an_upload_whose_task_was_lost_is_failed_by_the_sweep(login, personas, queued):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from uploads.schedule import BEAT
    from uploads.tasks import fail_stale_uploads

    assert BEAT["uploads-fail-stale-uploads"]["task"] == fail_stale_uploads.name
    login(personas.engineer).post(PAGE, {"file": _file("clinic.csv", CSV)})
    assert fail_stale_uploads.apply().get() == {"failed": 0}
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert fail_stale_uploads.apply().get() == {"failed": 1}
    upload = FileUpload.objects.get()
    assert upload.state == "failed" and "Upload it again" in upload.error
