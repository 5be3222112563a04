"""dpkg-query package lists: the real Ubuntu 22.04 manifest, other dpkg forms, bad input."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inventory.parsers.dpkg import looks_like_dpkg, parse_dpkg
from inventory.parsers.errors import ParseError

MANIFEST = "package-inventory/ubuntu-jammy-oci-amd64-root.manifest"


@pytest.mark.realdata
def test_dpkg_ubuntu_manifest_gives_101_packages_with_epochs_and_arches(realdata):
    data = (realdata / MANIFEST).read_bytes()
    assert looks_like_dpkg(data)

    [payload] = parse_dpkg(data, hostname="web-01")

    packages = {p["name"]: p for p in payload["deb_packages"]}
    assert len(payload["deb_packages"]) == 101 == len(packages)
    assert sum(1 for p in packages.values() if ":" in p["version"]) == 14
    assert sum(1 for p in packages.values() if p["version"].startswith("2:")) == 4
    assert packages["zlib1g"] == {
        "name": "zlib1g",
        "version": "1:1.2.11.dfsg-2ubuntu9",
        "arch": "amd64",
        "source": None,
        "revision": "2ubuntu9",
    }
    assert packages["libssl3"]["version"] == "3.0.2-0ubuntu1.6"
    assert packages["libc6"]["version"] == "2.35-0ubuntu3.1"
    assert packages["adduser"]["arch"] is None
    assert payload["system_info"]["hostname"] == "web-01"
    assert payload["agent_id"] == "dpkg:web-01"
    assert payload["os_version"]["name"] == "Ubuntu"
    assert payload["os_version"]["version"] == "22.04"


@pytest.mark.realdata
def test_dpkg_without_hostname_leaves_host_to_the_caller(realdata):
    [payload] = parse_dpkg((realdata / MANIFEST).read_bytes())

    assert payload["agent_id"] is None
    assert payload["system_info"]["hostname"] is None


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg-query")
def test_dpkg_live_query_forms_agree_with_dpkg_query_count():
    plain = subprocess.run(["dpkg-query", "-W"], capture_output=True, check=True).stdout
    rich = subprocess.run(
        [
            "dpkg-query",
            "-W",
            "-f",
            "${binary:Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\n",
        ],
        capture_output=True,
        check=True,
    ).stdout
    expected = len([line for line in plain.splitlines() if line.split(b"\t")[1:2] != [b""]])

    assert len(parse_dpkg(plain)[0]["deb_packages"]) == expected
    assert len(parse_dpkg(rich)[0]["deb_packages"]) == expected
    assert all(p["arch"] for p in parse_dpkg(rich)[0]["deb_packages"])


def test_dpkg_l_listing_keeps_installed_rows_only():
    listing = (
        b"Desired=Unknown/Install/Remove/Purge/Hold\n"
        b"| Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend\n"
        b"|/ Err?=(none)/Reinst-required (Status,Err: uppercase=bad)\n"
        b"||/ Name           Version       Architecture Description\n"
        b"+++-==============-=============-============-=================\n"
        b"ii  bash           5.2.15-2+b2   amd64        GNU Bourne Again SHell\n"
        b"rc  oldpkg         1.0-1         amd64        removed, config kept\n"
        b"ii  libgmp10:amd64 2:6.2.1+dfsg1-1.1 amd64   Multiprecision arithmetic library\n"
    )

    [payload] = parse_dpkg(listing)

    assert [(p["name"], p["version"]) for p in payload["deb_packages"]] == [
        ("bash", "5.2.15-2+b2"),
        ("libgmp10", "2:6.2.1+dfsg1-1.1"),
    ]
    assert payload["deb_packages"][1]["revision"] == "1.1"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no 'name<TAB>version'"),
        (b"<nmaprun/>\n", "line 1"),
        (b"bash\t5.1-6\nthis is not a package line at all\n", "line 2"),
        (b"Bash\t5.1\n", "line 1"),
        (b"bash\tnot-a-version\n", "line 1"),
        ("bash\t5.1\n".encode("utf-16"), "binary or UTF-16"),
        (b"bash\t5.1-\xff\n", "not UTF-8"),
    ],
)
def test_dpkg_bad_input_raises_parse_error_with_reason(data, message):
    assert not looks_like_dpkg(data)
    with pytest.raises(ParseError, match=message):
        parse_dpkg(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_dpkg_arbitrary_bytes_parse_or_raise_parse_error(data):
    try:
        [payload] = parse_dpkg(data)
    except ParseError:
        return
    assert payload["deb_packages"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z0-9][a-z0-9+.\-]{1,20}", fullmatch=True),
            st.from_regex(
                r"([0-9]{1,2}:)?[0-9][A-Za-z0-9.+~]{0,10}(-[A-Za-z0-9.+~]{1,8})?", fullmatch=True
            ),
            st.sampled_from(["", ":amd64", ":i386", ":arm64"]),
        ),
        min_size=1,
        max_size=30,
        unique_by=lambda row: row[0] + row[2],
    )
)
def test_dpkg_generated_lists_round_trip_name_version_and_epoch(rows):
    text = "".join(f"{name}{arch}\t{version}\n" for name, version, arch in rows)

    [payload] = parse_dpkg(text.encode())

    assert [(p["name"], p["version"]) for p in payload["deb_packages"]] == [
        (name, version) for name, version, _arch in rows
    ]
