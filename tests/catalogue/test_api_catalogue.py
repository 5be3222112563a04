import pytest
from django.urls import clear_url_caches

from catalogue.models import Advisory, AdvisoryFix, EpssScore, KevEntry, Vulnerability
from tenants.choices import TokenScope


@pytest.fixture(autouse=True)
def mounted(settings):
    settings.PUBLIC_SCHEMA_URLCONF = "tests.catalogue.urls_catalogue_api"
    clear_url_caches()
    yield
    clear_url_caches()


@pytest.fixture
def catalogue(db):
    Vulnerability.objects.create(cve_id="CVE-2023-36033", cvss3_score="7.8", cvss_severity="high")
    Vulnerability.objects.create(cve_id="CVE-2023-0001", cvss3_score="4.0", cvss_severity="medium")
    KevEntry.objects.create(cve_id="CVE-2023-36033", date_added="2023-11-14", due_date="2023-12-05")
    EpssScore.objects.create(
        cve_id="CVE-2023-36033", score="0.11977", percentile="0.95995", score_date="2026-09-29"
    )
    adv = Advisory.objects.create(
        source="msrc",
        identifier="KB5032190",
        cves=["CVE-2023-36033"],
        exploited_cves=["CVE-2023-36033"],
        os_family="windows",
    )
    AdvisoryFix.objects.create(
        advisory=adv,
        product="Windows 11 Version 23H2 for x64-based Systems",
        ecosystem="windows",
        fixed_version="10.0.22631.2715",
    )
    Advisory.objects.create(source="ubuntu", identifier="USN-5614-1", cves=["CVE-2021-3782"])
    return adv


def test_anonymous_gets_401(http, catalogue):
    assert http.get("/api/v1/vulnerabilities/").status_code == 401


def test_agent_token_gets_403(api, make_token, catalogue, tenant_a):
    _, plaintext = make_token(TokenScope.AGENT, tenant_a)
    response = api(plaintext).get("/api/v1/advisories/")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")


def test_vulnerabilities_carry_kev_and_epss(login, personas, catalogue):
    body = login(personas.engineer).get("/api/v1/vulnerabilities/?is_kev=true").json()
    assert body["count"] == 1
    [row] = body["results"]
    assert row["id"] == "CVE-2023-36033" and row["is_kev"] is True
    assert row["epss_score"] == "0.11977"
    detail = login(personas.engineer).get("/api/v1/vulnerabilities/CVE-2023-0001/").json()
    assert detail["is_kev"] is False and detail["epss_score"] is None


def test_advisories_filter_by_cve_and_product(api, make_token, catalogue):
    _, plaintext = make_token(TokenScope.READ)
    client = api(plaintext)
    body = client.get("/api/v1/advisories/?cve=cve-2023-36033").json()
    assert [r["identifier"] for r in body["results"]] == ["KB5032190"]
    assert body["results"][0]["fixes"][0]["fixed_version"] == "10.0.22631.2715"
    product = "Windows 11 Version 23H2 for x64-based Systems"
    assert client.get("/api/v1/advisories/", {"product": product}).json()["count"] == 1
    assert client.get("/api/v1/advisories/?exploited=false").json()["count"] == 1
    detail = client.get(f"/api/v1/advisories/{catalogue.uuid}/?brief=true").json()
    assert set(detail) == {"id", "source", "identifier"}


def test_kev_entries_and_bad_filter(login, personas, catalogue):
    client = login(personas.owner_a)
    assert client.get("/api/v1/kev-entries/CVE-2023-36033/").json()["due_date"] == "2023-12-05"
    assert client.get("/api/v1/kev-entries/CVE-1999-0001/").status_code == 404
    bad = client.get("/api/v1/kev-entries/?added_after=yesterday")
    assert bad.status_code == 400 and "added_after" in bad.json()


def test_catalogue_is_read_only(login, personas, catalogue):
    response = login(personas.msp_admin).post("/api/v1/kev-entries/", {"id": "CVE-2020-0001"})
    assert response.status_code == 405


def test_list_query_count_does_not_grow(login, personas, catalogue, django_assert_max_num_queries):
    client = login(personas.engineer)
    with django_assert_max_num_queries(12):
        client.get("/api/v1/advisories/")
    for n in range(20):
        adv = Advisory.objects.create(
            source="osv", identifier=f"OSV-{n}", cves=[f"CVE-2020-{n:04d}"]
        )
        AdvisoryFix.objects.create(advisory=adv, product="PyPI", ecosystem="pypi", package_name="x")
    with django_assert_max_num_queries(12):
        assert client.get("/api/v1/advisories/").json()["count"] == 22


def test_schema_with_the_catalogue_api_has_no_warnings(db):
    from django.core.management import call_command

    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--urlconf",
        "tests.catalogue.urls_catalogue_schema",
        "--file",
        "/dev/null",
    )
