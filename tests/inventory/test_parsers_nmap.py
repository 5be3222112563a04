"""Nmap XML from nmap 5.21 to 7.95: hosts up, MAC vendors, OS guesses, ports; unsafe XML refused."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory.parsers.errors import ParseError
from inventory.parsers.nmap import looks_like_nmap, parse_nmap

HOST_KEYS = {"status", "ip", "ipv6", "mac", "mac_vendor", "hostnames", "os_guesses", "open_ports"}


def _scan(realdata, name: str) -> list[dict]:
    data = (realdata / "nmap" / name).read_bytes()
    assert looks_like_nmap(data)
    hosts = parse_nmap(data)
    assert all(set(host) == HOST_KEYS for host in hosts)
    return hosts


def _up(hosts: list[dict]) -> list[dict]:
    return [host for host in hosts if host["status"] == "up"]


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "total", "up"),
    [
        ("fullscan.xml", 256, 2),
        ("full_sudo5.xml", 256, 4),
        ("2_hosts.xml", 2, 2),
        ("2_hosts_version.xml", 2, 2),
        ("1_os_banner_scripts.xml", 1, 1),
        ("issue4406.xml", 1, 1),
        ("issue12411.xml", 2, 2),
    ],
)
def test_nmap_every_real_file_counts_hosts_as_runstats_says(realdata, name, total, up):
    hosts = _scan(realdata, name)

    assert len(hosts) == total
    assert len(_up(hosts)) == up


@pytest.mark.realdata
def test_nmap_fullscan_connect_scan_two_hosts_up_with_ports(realdata):
    up = _up(_scan(realdata, "fullscan.xml"))

    assert [host["ip"] for host in up] == ["192.168.1.1", "192.168.1.4"]
    assert [p["port"] for p in up[0]["open_ports"]] == [23, 80, 443, 992, 8080, 8443]
    assert up[1]["open_ports"][0] == {
        "port": 22,
        "protocol": "tcp",
        "service": "ssh",
        "product": up[1]["open_ports"][0]["product"],
        "version": up[1]["open_ports"][0]["version"],
        "cpes": up[1]["open_ports"][0]["cpes"],
    }
    assert up[0]["mac"] is None  # a connect scan sees no MAC


@pytest.mark.realdata
def test_nmap_5_sudo_scan_gives_macs_vendor_and_os_guesses(realdata):
    up = {host["ip"]: host for host in _up(_scan(realdata, "full_sudo5.xml"))}

    assert up["192.168.1.5"]["mac"] == "00:1F:3C:87:66:50"
    assert up["192.168.1.5"]["mac_vendor"] == "Intel Corporate"
    assert up["192.168.1.5"]["os_guesses"][0] == {
        "name": "Microsoft Windows Vista SP0 or SP1, Server 2008 SP1, or Windows 7",
        "accuracy": 100,
    }
    assert up["192.168.1.1"]["mac"] == "6C:2E:85:19:AF:00"
    assert up["192.168.1.1"]["mac_vendor"] is None
    assert {g["name"] for g in up["192.168.1.1"]["os_guesses"]} >= {
        "Chumby Internet radio",
        "Linux 2.6.9 - 2.6.30",
    }
    assert up["192.168.1.3"]["open_ports"] == []


@pytest.mark.realdata
def test_nmap_os_guesses_sorted_by_accuracy(realdata):
    scanme = _up(_scan(realdata, "2_hosts_version.xml"))[1]

    assert scanme["hostnames"] == ["scanme.nmap.org"]  # duplicates removed
    assert scanme["os_guesses"][0] == {"name": "Netgear DG834G WAP", "accuracy": 92}
    accuracies = [guess["accuracy"] for guess in scanme["os_guesses"]]
    assert accuracies == sorted(accuracies, reverse=True)
    assert 25 not in [p["port"] for p in scanme["open_ports"]]  # filtered, not open


@pytest.mark.realdata
def test_nmap_7_vulners_scan_25_ports_13_cpes(realdata):
    [host] = _scan(realdata, "issue4406.xml")

    assert host["ip"] == "10.250.195.71"
    assert host["hostnames"] == ["ip-10-250-195-71.eu-west-1.compute.internal"]
    assert len(host["open_ports"]) == 25
    assert sum(len(port["cpes"]) for port in host["open_ports"]) == 13
    no_service = [p for p in host["open_ports"] if p["port"] == 30475][0]
    assert no_service["service"] == ""


@pytest.mark.realdata
def test_nmap_795_hostnames(realdata):
    hosts = _scan(realdata, "issue12411.xml")

    assert hosts[0]["hostnames"] == ["google.com", "par10s10-in-f238.1e100.net", "lalala"]
    assert hosts[1]["hostnames"] == ["amazon.com"]


def test_nmap_ipv6_host():
    xml = (
        b'<?xml version="1.0"?><nmaprun scanner="nmap" version="7.94"><host><status state="up"/>'
        b'<address addr="fe80::1" addrtype="ipv6"/><address addr="aa:bb:cc:dd:ee:ff" '
        b'addrtype="mac" vendor="Dell"/></host></nmaprun>'
    )

    [host] = parse_nmap(xml)

    assert (host["ip"], host["ipv6"], host["mac"], host["mac_vendor"]) == (
        None,
        "fe80::1",
        "AA:BB:CC:DD:EE:FF",
        "Dell",
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;">]>'
            b"<nmaprun>&b;</nmaprun>",
            "entities",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b"<nmaprun>&e;</nmaprun>",
            "entities",
        ),
        (b"<nmaprun><host>", "not well-formed"),
        (b"", "not well-formed"),
        (b"<NessusClientData_v2/>", "not an Nmap XML report"),
        (b"bash\t5.1\n", "not well-formed"),
    ],
)
def test_nmap_bad_or_unsafe_xml_raises_parse_error(data, message):
    assert not looks_like_nmap(data)
    with pytest.raises(ParseError, match=message):
        parse_nmap(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_nmap_arbitrary_bytes_parse_or_raise_parse_error(data):
    with contextlib.suppress(ParseError):
        parse_nmap(data)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_nmap_truncated_or_mangled_real_report_parse_or_raise_parse_error(data):
    from pathlib import Path

    path = (
        Path(__file__).resolve().parents[3] / "shared" / "realdata" / "nmap" / "2_hosts_version.xml"
    )
    if not path.exists():
        pytest.skip("real data folder not found")
    raw = path.read_bytes()
    cut = data.draw(st.integers(0, len(raw)))
    junk = data.draw(st.binary(max_size=8))
    try:
        hosts = parse_nmap(raw[:cut] + junk + raw[cut + len(junk) :])
    except ParseError:
        return
    assert all(set(host) == HOST_KEYS for host in hosts)
