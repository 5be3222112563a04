"""Every catalogue and inventory file of ``shared/realdata`` through its command, twice.

The second run changes nothing, and the counts are the file's own (read here with the standard
library, not with the importers). Nessus exports and PSA ticket lists have no import command of
their own and are read by their own features' tests.
"""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from catalogue.models import Advisory, CatalogueImport, EpssScore, KevEntry, Vulnerability
from inventory.models import Asset, DiscoveryRun, InstalledSoftware

pytestmark = [pytest.mark.realdata, pytest.mark.django_db]

MSRC_NS = {"vuln": "http://www.icasi.org/CVRF/schema/vuln/1.1"}


def _twice(command: str, path, *args) -> CatalogueImport:
    call_command(command, str(path), *args, "--no-progress", verbosity=0)
    call_command(command, str(path), *args, "--no-progress", verbosity=0)
    last = CatalogueImport.objects.order_by("-started_at").first()
    assert (last.created, last.updated) == (0, 0), f"{path.name}: second run changed rows"
    return last


def test_catalogue_files_import_twice_with_their_own_counts(realdata):
    kev = json.loads((realdata / "cisa-kev/known_exploited_vulnerabilities.json").read_text())
    _twice("import_kev", realdata / "cisa-kev/known_exploited_vulnerabilities.json")
    assert KevEntry.objects.count() == kev["count"] == len(kev["vulnerabilities"])
    with (realdata / "cisa-kev/known_exploited_vulnerabilities.csv").open(newline="") as fh:
        csv_ids = {row["cveID"] for row in csv.DictReader(fh)}
    _twice("import_kev", realdata / "cisa-kev/known_exploited_vulnerabilities.csv")
    assert set(KevEntry.objects.values_list("cve_id", flat=True)) == csv_ids

    for name in ("epss_scores-current.excerpt.csv", "example-1.csv"):
        path = realdata / "epss" / name
        rows = [line for line in path.read_text().splitlines()[2:] if line.strip()]
        _twice("import_epss", path)
        assert EpssScore.objects.filter(cve_id__in=[r.split(",")[0] for r in rows]).count() == len(
            rows
        )

    page = json.loads((realdata / "nvd-api-2.0/full-page.json").read_text())
    for path in sorted((realdata / "nvd-api-2.0").glob("*.json")) + sorted(
        (realdata / "nvd-cve-2.0").glob("*.json")
    ):
        _twice("import_nvd", path)
    assert (
        Vulnerability.objects.filter(
            cve_id__in=[v["cve"]["id"] for v in page["vulnerabilities"]]
        ).count()
        == page["totalResults"]
    )

    records = sorted((realdata / "cve-json5").glob("CVE-*.json"))
    _twice("import_cve5", realdata / "cve-json5")
    ids = [json.loads(p.read_text())["cveMetadata"]["cveId"] for p in records]
    assert Vulnerability.objects.filter(cve_id__in=ids).count() == len(records)

    for name in ("cvrfDocument-2023-Nov.xml", "cvrfDocument-2023-Dec.xml"):
        path = realdata / "msrc-cvrf" / name
        root = ET.parse(path).getroot()
        cves = {
            v.findtext("vuln:CVE", "", MSRC_NS) for v in root.findall("vuln:Vulnerability", MSRC_NS)
        }
        kbs = {
            f"KB{r.findtext('vuln:Description', '', MSRC_NS)}"
            for r in root.iter(f"{{{MSRC_NS['vuln']}}}Remediation")
            if r.get("Type") == "Vendor Fix"
            and re.fullmatch(r"\d{6,8}", r.findtext("vuln:Description", "", MSRC_NS) or "")
        }
        _twice("import_msrc", path)
        assert Vulnerability.objects.filter(cve_id__in=cves).count() == len(cves - {""})
        assert Advisory.objects.filter(source="msrc", identifier__in=kbs).count() == len(kbs)

    for path in sorted((realdata / "ubuntu-osv").glob("*.json")) + [
        realdata / "osv-ghsa/GHSA-jfh8-c2jp-5v3q.json"
    ]:
        _twice("import_osv", path)
        assert Advisory.objects.filter(identifier=json.loads(path.read_text())["id"]).exists()

    tracker = json.loads((realdata / "debian-security-tracker/debian.json").read_text())
    _twice("import_debian", realdata / "debian-security-tracker/debian.json")
    from catalogue.models import AdvisoryFix

    packages = set(
        AdvisoryFix.objects.filter(ecosystem="debian").values_list("package_name", flat=True)
    )
    assert packages and packages <= set(tracker)

    dsa = realdata / "debian-security-tracker/DSA"
    entries = re.findall(r"^\[[^\]]+\] (DSA-[\d-]+) ", dsa.read_text(), re.M)
    _twice("import_debian", dsa)
    assert Advisory.objects.filter(source="debian", identifier__in=entries).count() == len(
        set(entries)
    )


def _ingest(path, *args) -> None:
    call_command("ingest", "tenant-a", str(path), *args, verbosity=0)


def _decoded(path) -> str:
    text = path.read_bytes()
    if text[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return text.decode("utf-16")
    return text.decode("utf-8", errors="replace")


def _state(tenant) -> tuple:
    """What an ingest writes: assets, software rows, unknown devices (ids and versions)."""
    from inventory.models import UnknownDevice

    with tenant_context(tenant):
        return (
            sorted(Asset.objects.values_list("pk", "hostname")),
            sorted(InstalledSoftware.objects.values_list("pk", "name", "version")),
            sorted(UnknownDevice.objects.values_list("pk", "ip", "mac", "open_ports")),
        )


def _ingest_twice(tenant, path, *args) -> None:
    """The second run of the same file changes nothing (rows, ids, versions)."""
    _ingest(path, *args)
    first = _state(tenant)
    _ingest(path, *args)
    assert _state(tenant) == first, f"{path.name}: second ingest changed rows"


def test_inventory_files_ingest_twice(realdata, tenant_a):
    hotfix = realdata / "windows-hotfix"
    for path in sorted(hotfix.glob("*systeminfo*.txt")):
        _ingest_twice(tenant_a, path, "--format", "systeminfo")
        decoded = _decoded(path)
        host = re.search(r"^[^\r\n:]+:\s+(\S+)", decoded.lstrip("\ufeff\r\n"), re.M).group(1)
        kbs = set(re.findall(r"\[\d+\]: (KB\d+)", decoded))
        with tenant_context(tenant_a):
            asset = Asset.objects.get(hostname__iexact=host)
            stored = set(
                InstalledSoftware.objects.filter(asset=asset, kind="hotfix").values_list(
                    "name", flat=True
                )
            )
        assert stored == kbs, path.name
    for path in sorted(hotfix.glob("*qfe*.txt")):
        host = f"qfe-{path.stem[:20]}"
        _ingest_twice(tenant_a, path, "--format", "qfe", "--hostname", host)
        kbs = set(re.findall(r"\bKB\d{6,7}\b", _decoded(path)))
        with tenant_context(tenant_a):
            stored = set(
                InstalledSoftware.objects.filter(asset__hostname=host, kind="hotfix").values_list(
                    "name", flat=True
                )
            )
        assert stored == kbs, path.name
    manifest = realdata / "package-inventory/ubuntu-jammy-oci-amd64-root.manifest"
    lines = [ln for ln in manifest.read_text().splitlines() if ln.strip()]
    _ingest_twice(tenant_a, manifest, "--format", "dpkg", "--hostname", "jammy-1")
    with tenant_context(tenant_a):
        assert InstalledSoftware.objects.filter(asset__hostname="jammy-1").count() == len(lines)
        assets = Asset.objects.count()
    for path in sorted((realdata / "nmap").glob("*.xml")):
        _ingest_twice(tenant_a, path, "--format", "nmap")
    with tenant_context(tenant_a):
        assert Asset.objects.filter(is_managed=True).count() == assets
        runs = DiscoveryRun.objects.filter(format="nmap").count()
    assert runs == 2 * len(list((realdata / "nmap").glob("*.xml")))
