"""manage.py ingest: formats, detection, CSV import, errors and nothing written on error."""

import json

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from inventory.models import Asset, DiscoveryRun, UnknownDevice
from inventory.parsers import _DETECTORS, PARSERS, detect_format, detect_formats
from inventory.parsers.csv import parse_csv
from inventory.parsers.osquery import parse_osquery

from .payloads import ubuntu_payload, windows_payload

pytestmark = pytest.mark.django_db

CSV = (
    "hostname,agent_id,serial,mac,ip,os_family,os_name,os_version,os_build,role,asset_class,"
    "owner,location,site,ephi,data_flows\n"
    "FRONTDESK-01,,7B5RXY2,00:1A:2B:3C:4D:5E,10.20.1.31,windows,Microsoft Windows 11 Pro,"
    "10.0.22631,22631,workstation,workstation,Reception,Front desk,Main clinic,no,\n"
    "PACS-01,,,00:50:56:aa:bb:cc,10.20.5.10,windows,Windows Server 2019,10.0.17763,,server,"
    "do_not_disrupt,Radiology,Imaging room,Main clinic,yes,creates;transmits\n"
)


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def test_registry_names_every_format():
    assert set(PARSERS) == {"osquery", "csv", "nmap", "systeminfo", "qfe", "dpkg"}
    assert PARSERS["nmap"].produces == "hosts" and PARSERS["dpkg"].takes_hostname


def test_detect_osquery_and_csv():
    assert detect_format(json.dumps(windows_payload()).encode()) == "osquery"
    assert detect_format(CSV.encode()) == "csv"
    assert detect_format(CSV.encode("utf-16")) == "csv"
    assert detect_format(b"just some words") is None
    assert detect_formats(b'{"unrelated": 1}') == []


def test_osquery_parser_reads_json_lines():
    lines = "\n".join(json.dumps(p) for p in (windows_payload(), ubuntu_payload()))
    assert len(parse_osquery(lines.encode())) == 2


def test_csv_parser_maps_documented_columns():
    pacs = parse_csv(CSV.encode("utf-8-sig"))[1]
    assert pacs["system_info"] == {"hostname": "PACS-01"}
    assert pacs["interface_details"] == [{"mac": "00:50:56:aa:bb:cc"}]
    assert pacs["patchops"]["asset_class"] == "do_not_disrupt"
    assert pacs["patchops"]["data_flows"] == "creates;transmits"


def test_ingest_csv_creates_tagged_assets_and_is_idempotent(tmp_path, tenant_a, capsys):
    path = write(tmp_path, "assets.csv", CSV)
    call_command("ingest", "tenant-a", path)
    call_command("ingest", "tenant-a", path, "--format", "csv")
    out = capsys.readouterr().out
    assert "2 asset(s) created" in out and "0 asset(s) created, 2 updated" in out
    with tenant_context(tenant_a):
        pacs = Asset.objects.get(hostname="pacs-01")
        assert pacs.is_ephi and pacs.data_flows == ["creates", "transmits"]
        assert pacs.asset_class.key == "do_not_disrupt" and pacs.role == "server"
        assert pacs.site.name == "Main clinic" and pacs.owner == "Radiology"
        assert pacs.os_family == "windows" and pacs.source == "csv"
        assert Asset.objects.count() == 2 and DiscoveryRun.objects.count() == 2


def test_ingest_osquery_list_with_progress(tmp_path, tenant_a, capsys, monkeypatch):
    monkeypatch.setattr("inventory.management.commands.ingest.PROGRESS_EVERY", 2)
    monkeypatch.setattr("inventory.services.ingest.CHUNK_SIZE", 2)
    devices = [windows_payload(agent_id=f"a-{i}", hostname=f"pc-{i}") for i in range(5)]
    call_command("ingest", "tenant-a", write(tmp_path, "batch.json", json.dumps(devices)))
    captured = capsys.readouterr()
    assert "ingested 5/5 devices" in captured.err
    with tenant_context(tenant_a):
        assert Asset.objects.count() == 5


def test_ingest_unknown_client_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="No client with slug 'nope'"):
        call_command("ingest", "nope", write(tmp_path, "a.csv", CSV))


def test_ingest_missing_file_is_an_error():
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("ingest", "tenant-a", "/nonexistent/file.json")


def test_ingest_unknown_format_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot tell the format"):
        call_command("ingest", "tenant-a", write(tmp_path, "x.txt", "hello world\n"))


def test_ingest_wrong_kind_of_file_names_what_it_looks_like(tmp_path):
    with pytest.raises(CommandError, match="looks like csv"):
        call_command("ingest", "tenant-a", write(tmp_path, "a.csv", CSV), "--format", "osquery")


def test_ingest_unreadable_encoding_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="not a readable osquery file"):
        call_command(
            "ingest",
            "tenant-a",
            write(tmp_path, "a.json", b'{"a": "\xff\xfe\xfa"}'),
            "--format",
            "osquery",
        )


def test_ingest_bad_row_writes_nothing(tmp_path, tenant_a):
    bad = CSV + "LAPTOP-9,,,,,windows,,,,spaceship,,,,,,\n"
    with pytest.raises(CommandError, match=r"\[2\]\.patchops\.role"):
        call_command("ingest", "tenant-a", write(tmp_path, "bad.csv", bad))
    with tenant_context(tenant_a):
        assert not Asset.objects.exists() and not DiscoveryRun.objects.exists()


def test_ingest_hostname_option_fills_missing_hostname(tmp_path, tenant_a):
    payload = ubuntu_payload()
    del payload["system_info"]
    call_command(
        "ingest", "tenant-a", write(tmp_path, "p.json", json.dumps(payload)), "--hostname", "web-01"
    )
    with tenant_context(tenant_a):
        assert Asset.objects.get().hostname == "web-01"


def test_ingest_nmap_hosts_reconcile(tmp_path, tenant_a):
    scan = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<nmaprun scanner="nmap" args="nmap -sn -oX scan.xml 10.9.9.0/24" start="1764547200">'
        '<host><status state="up" reason="arp-response"/>'
        '<address addr="10.9.9.9" addrtype="ipv4"/>'
        '<address addr="AA:BB:CC:00:11:22" addrtype="mac" vendor="Cisco"/>'
        "<hostnames/></host>"
        '<runstats><finished time="1764547210"/><hosts up="1" down="255" total="256"/></runstats>'
        "</nmaprun>"
    )
    call_command("ingest", "tenant-a", write(tmp_path, "scan.xml", scan), "--format", "nmap")
    with tenant_context(tenant_a):
        assert UnknownDevice.objects.get().mac_vendor == "Cisco"
        assert DiscoveryRun.objects.get().source == "nmap"


def test_ingest_help_documents_csv_columns(capsys):
    with pytest.raises(SystemExit):
        call_command("ingest", "--help")
    out = capsys.readouterr().out
    assert "data_flows" in out and "asset_class" in out


def test_detection_knows_each_format_by_its_content():
    assert detect_format(b'<?xml version="1.0"?>\n<nmaprun scanner="nmap"></nmaprun>') == "nmap"
    assert detect_format(b"openssl\t3.0.2-0ubuntu1.10\nbash\t5.1-6ubuntu1\n") == "dpkg"
    assert detect_format(CSV.encode()) == "csv"


def test_ambiguous_content_is_an_error(monkeypatch, tmp_path):
    # Two formats that both accept the same bytes: the command asks which one is meant.
    monkeypatch.setitem(_DETECTORS, "osquery", lambda data: data.startswith(b"hostname"))
    assert sorted(detect_formats(CSV.encode())) == ["csv", "osquery"]
    with pytest.raises(CommandError, match="could be osquery or csv; give --format"):
        call_command("ingest", "tenant-a", write(tmp_path, "a.csv", CSV))


def test_ingest_without_any_hostname_suggests_the_option(tmp_path):
    payload = ubuntu_payload()
    del payload["system_info"]
    with pytest.raises(CommandError, match="give --hostname"):
        call_command("ingest", "tenant-a", write(tmp_path, "p.json", json.dumps(payload)))
