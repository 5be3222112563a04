"""The same uploads through the API (multipart), for automation."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from inventory.models import Asset
from tenants.choices import TokenScope
from uploads.models import FileUpload

pytestmark = pytest.mark.django_db
API = "/clients/tenant-a/api/v1/uploads/"
CATALOGUE_API = "/api/v1/catalogue-uploads/"
CSV = "hostname,os_family,os_name\nfrontdesk-09,windows,Microsoft Windows 11 Pro\n"


def _file(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_a_write_token_uploads_a_file_and_follows_it_to_done(api, make_token, tenant_a, deliver):
    token, plaintext = make_token(TokenScope.WRITE, tenant_a, name="psa-sync")
    http = api(plaintext)

    answer = http.post(API, {"file": _file("one.csv", CSV.encode())})

    assert answer.status_code == 202, answer.content
    body = answer.json()
    assert (body["state"], body["kind"], body["name"], body["uploaded_by"]) == (
        "queued",
        "csv",
        "one.csv",
        "token:psa-sync",
    )
    deliver()
    done = http.get(API + f"{body['id']}/").json()
    assert done["state"] == "done" and done["result"]["counts"]["assets_created"] == 1
    assert [u["id"] for u in http.get(API).json()["results"]] == [body["id"]]
    with tenant_context(tenant_a):
        assert Asset.objects.get().hostname == "frontdesk-09"


def test_bad_uploads_answer_400_with_the_reason(api, make_token, tenant_a, queued):
    http = api(make_token(TokenScope.WRITE, tenant_a)[1])
    assert http.post(API, {}).json() == {"file": ["No file was submitted."]}
    answer = http.post(API, {"file": _file("x.csv", b"hello there\n")})
    assert answer.status_code == 400
    assert "Cannot tell the format of x.csv" in answer.json()["file"][0]
    answer = http.post(API, {"file": _file("x.csv", CSV.encode()), "format": "pdf"})
    assert answer.status_code == 400 and "format" in answer.json()
    json_body = http.post(API, {"file": "x"}, content_type="application/json")
    assert json_body.status_code == 415
    assert not FileUpload.objects.exists() and queued == []


def test_tokens_without_the_capability_or_the_client_are_refused(
    api, make_token, tenant_a, tenant_b, http
):
    assert http.post(API, {"file": _file("a.csv", CSV.encode())}).status_code == 401
    read = api(make_token(TokenScope.READ, tenant_a)[1])
    assert read.post(API, {"file": _file("a.csv", CSV.encode())}).status_code == 403
    agent = api(make_token(TokenScope.AGENT, tenant_a)[1])
    assert agent.get(API).status_code == 403
    other = api(make_token(TokenScope.WRITE, tenant_b)[1])
    assert other.post(API, {"file": _file("a.csv", CSV.encode())}).status_code == 404
    assert not FileUpload.objects.exists()


def test_catalogue_uploads_need_an_msp_wide_write_token(
    api, make_token, tenant_a, deliver, realdata
):
    kev = (realdata / "cisa-kev" / "known_exploited_vulnerabilities.csv").read_bytes()
    scoped = api(make_token(TokenScope.WRITE, tenant_a)[1])
    assert (
        scoped.post(CATALOGUE_API, {"kind": "kev", "file": _file("k.csv", kev)}).status_code == 403
    )
    wide = api(make_token(TokenScope.WRITE, None)[1])
    assert wide.post(CATALOGUE_API, {"file": _file("k.csv", kev)}).json() == {
        "kind": ["This field is required."]
    }

    answer = wide.post(CATALOGUE_API, {"kind": "kev", "file": _file("k.csv", kev)})

    assert answer.status_code == 202
    deliver()
    assert wide.get(CATALOGUE_API + f"{answer.json()['id']}/").json()["state"] == "done"
