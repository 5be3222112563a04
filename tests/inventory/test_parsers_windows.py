"""Windows systeminfo and wmic qfe exports: real files in every encoding and language."""

from __future__ import annotations

import codecs
import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.parsers.errors import ParseError
from patchops_agent.parsers.qfe import looks_like_qfe, parse_qfe
from patchops_agent.parsers.systeminfo import decode_text, looks_like_systeminfo, parse_systeminfo

pytestmark = pytest.mark.realdata


def _read(realdata, name: str) -> bytes:
    return (realdata / "windows-hotfix" / name).read_bytes()


def _kbs(payload: dict) -> list[str]:
    return [patch["hotfix_id"] for patch in payload["patches"]]


def test_systeminfo_win11_23h2_host_lists_four_kbs_without_november_cu(realdata):
    [payload] = parse_systeminfo(_read(realdata, "11_23H2_x64_enterprise_systeminfo.txt"))

    assert payload["agent_id"] == "systeminfo:desktop-jnekk9u"
    assert payload["system_info"]["hostname"] == "DESKTOP-JNEKK9U"
    assert payload["os_version"] == {
        "name": "Microsoft Windows 11 Enterprise",
        "platform": "windows",
        "version": "10.0.22631",
        "major": 10,
        "minor": 0,
        "patch": 22631,
        "build": "22631",
        "display_version": "23H2",
        "arch": "x86_64",
    }
    assert sorted(_kbs(payload)) == ["KB5027397", "KB5029921", "KB5031354", "KB5031592"]
    assert "KB5032190" not in _kbs(payload)
    assert payload["system_info"]["hardware_vendor"] == "VMware, Inc."


@pytest.mark.parametrize(
    ("name", "hostname", "os_name", "version", "kbs"),
    [
        (
            "10_22H2_x64_enterprise_en-us_systeminfo.txt",
            "DESKTOP-92B51CV",
            "Microsoft Windows 10 Enterprise",
            "10.0.19045",
            ["KB5022502"],
        ),
        (
            "srv_2019_rtm_datacenter_en-us_systeminfo.txt",
            "WIN-O863JARO7CM",
            "Microsoft Windows Server 2019 Datacenter",
            "10.0.17763",
            ["KB4462930", "KB4470788", "KB4480056", "KB4480979", "KB4480116"],
        ),
        (
            "10_1809_x64_pro_en-us_20190307_systeminfo.txt",
            "DESKTOP-LOQ9L09",
            "Microsoft Windows 10 Pro",
            "10.0.17763",
            ["KB4486553", "KB4470788", "KB4480056", "KB4487038", "KB4482887"],
        ),
        (
            "srv_2012r2_x64_standard_ru_systeminfo.txt",
            "DC",
            "Майкрософт Ознакомительная версия Windows Server 2012 R2 Standard",
            "6.3.9600",
            [
                "KB2919355",
                "KB2919442",
                "KB2937220",
                "KB2938772",
                "KB2939471",
                "KB2949621",
                "KB2999226",
            ],
        ),
    ],
)
def test_systeminfo_real_file_gives_host_os_and_kbs(
    realdata, name, hostname, os_name, version, kbs
):
    data = _read(realdata, name)
    assert looks_like_systeminfo(data)
    assert not looks_like_qfe(data)

    [payload] = parse_systeminfo(data)

    assert payload["system_info"]["hostname"] == hostname
    assert payload["os_version"]["name"] == os_name
    assert payload["os_version"]["version"] == version
    assert payload["os_version"]["platform"] == "windows"
    assert _kbs(payload) == kbs


def test_systeminfo_french_utf16_lists_93_kbs(realdata):
    data = _read(realdata, "7_sp1_x64_enterprise_fr_systeminfo_powershell.txt")

    [payload] = parse_systeminfo(data)

    assert payload["system_info"]["hostname"] == "WIN-IDKKFN87EL8"
    assert payload["os_version"]["name"] == "Microsoft Windows 7 Entreprise N"
    assert payload["os_version"]["version"] == "6.1.7601"
    assert payload["os_version"]["build"] == "7601"
    assert len(payload["patches"]) == 93
    assert _kbs(payload)[0] == "KB2491683"
    assert _kbs(payload)[-1] == "KB4493472"


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "utf-16", "cp850", "cp1252"]
)
def test_systeminfo_french_same_facts_in_every_encoding(realdata, encoding):
    text = decode_text(_read(realdata, "7_sp1_x64_enterprise_fr_systeminfo_powershell.txt"))
    expected = parse_systeminfo(text.encode("utf-8"))

    assert parse_systeminfo(text.encode(encoding)) == expected


@pytest.mark.parametrize("encoding", ["cp866", "cp1251", "utf-16-le", "utf-16-be", "koi8-r"])
def test_systeminfo_russian_same_facts_in_cyrillic_code_pages(realdata, encoding):
    data = _read(realdata, "srv_2012r2_x64_standard_ru_systeminfo.txt")
    text = data.decode("utf-8")
    if encoding == "koi8-r":
        # Not a Windows code page: the labels cannot be read, the structure still can.
        [payload] = parse_systeminfo(text.encode(encoding))
        assert payload["system_info"]["hostname"] == "DC"
        assert payload["os_version"]["version"] == "6.3.9600"
        assert len(payload["patches"]) == 7
        return

    assert decode_text(text.encode(encoding)) == text
    assert parse_systeminfo(text.encode(encoding)) == parse_systeminfo(data)


def test_systeminfo_pair_and_qfe_from_same_host_list_same_kbs(realdata):
    [info] = parse_systeminfo(_read(realdata, "10_1809_x64_pro_en-us_20190307_systeminfo.txt"))
    [qfe] = parse_qfe(_read(realdata, "10_1809_x64_pro_en-us_20190307_qfe.txt"))

    assert sorted(_kbs(info)) == sorted(_kbs(qfe))
    assert len(_kbs(qfe)) == 5


GERMAN = """
Hostname:                                      PRAXIS-PC01
Betriebssystemname:                            Microsoft Windows 10 Pro
Betriebssystemversion:                         10.0.19045 Nicht zutreffend Build 19045
Betriebssystemhersteller:                      Microsoft Corporation
Betriebssystemkonfiguration:                   Eigenständige Arbeitsstation
Systemhersteller:                              LENOVO
Systemmodell:                                  20L6S0ET00
Systemtyp:                                     x64-based PC
Prozessor(en):                                 1 Prozessor(en) installiert.
                                               [01]: Intel64 Family 6 Model 142 GenuineIntel
Domäne:                                        PRAXIS
Hotfix(es):                                    2 Hotfix(es) installiert.
                                               [01]: KB5030841
                                               [02]: KB5031356
Netzwerkkarte(n):                              1 Netzwerkadapter installiert.
"""


@pytest.mark.parametrize("encoding", ["cp850", "cp1252", "utf-16"])
def test_systeminfo_german_headings_are_read(encoding):
    [payload] = parse_systeminfo(GERMAN.encode(encoding))

    assert payload["system_info"]["hostname"] == "PRAXIS-PC01"
    assert payload["system_info"]["hardware_vendor"] == "LENOVO"
    assert payload["system_info"]["domain"] == "PRAXIS"
    assert payload["os_version"]["display_version"] == "22H2"
    assert _kbs(payload) == ["KB5030841", "KB5031356"]


def test_systeminfo_unknown_language_falls_back_to_field_order():
    lines = [
        "Xost Nxme:                 CLINIC-7",
        "Xs Nxme:                   Microsoft Windows 11 Pro",
        "Xs Vxrsion:                10.0.22631 N/A Build 22631",
        "Xotfixes:                  2 installed.",
        "                           [01]: KB5032190",
        "                           [02]: KB5031455",
    ]

    [payload] = parse_systeminfo("\r\n".join(lines).encode("utf-8"))

    assert payload["system_info"]["hostname"] == "CLINIC-7"
    assert payload["os_version"]["name"] == "Microsoft Windows 11 Pro"
    assert payload["os_version"]["build"] == "22631"
    assert _kbs(payload) == ["KB5032190", "KB5031455"]


def test_systeminfo_two_hosts_in_one_file_give_two_payloads(realdata):
    data = (
        _read(realdata, "11_23H2_x64_enterprise_systeminfo.txt")
        + b"\r\n"
        + _read(realdata, "srv_2019_rtm_datacenter_en-us_systeminfo.txt")
    )

    payloads = parse_systeminfo(data)

    assert [p["system_info"]["hostname"] for p in payloads] == [
        "DESKTOP-JNEKK9U",
        "WIN-O863JARO7CM",
    ]
    assert [len(p["patches"]) for p in payloads] == [4, 5]


def test_systeminfo_csv_form_is_read():
    data = (
        '"Host Name","OS Name","OS Version","System Type","Hotfix(s)"\r\n'
        '"FRONTDESK","Microsoft Windows 10 Pro","10.0.19045 N/A Build 19045","x64-based PC",'
        '"2 Hotfix(s) Installed.,[01]: KB5031356,[02]: KB5030841"\r\n'
    ).encode("utf-16")

    [payload] = parse_systeminfo(data)

    assert payload["system_info"]["hostname"] == "FRONTDESK"
    assert _kbs(payload) == ["KB5031356", "KB5030841"]


@pytest.mark.parametrize(
    "data",
    [b"", b"hello world", b"\xff\xfe", b"Package: bash\nVersion: 5.1\n", b"<nmaprun></nmaprun>"],
)
def test_systeminfo_wrong_input_raises_parse_error(data):
    assert not looks_like_systeminfo(data)
    with pytest.raises(ParseError, match="not systeminfo output"):
        parse_systeminfo(data)


def test_qfe_real_files_give_kbs_dates_and_hosts(realdata):
    [u1] = parse_qfe(_read(realdata, "srv_2012r2_u1_qfe.txt"))
    assert u1["agent_id"] == "systeminfo:srv12r2u1x64"
    assert u1["system_info"]["hostname"] == "SRV12R2U1X64"
    assert len(u1["patches"]) == 154
    assert u1["patches"][0] == {
        "hotfix_id": "KB2894852",
        "description": "Security Update",
        "installed_on": "2019-03-17",
        "installed_by": "NUGGETLAB\\Administrator",
    }

    [pc] = parse_qfe(_read(realdata, "10_1809_x64_pro_en-us_20190307_qfe.txt"))
    assert pc["system_info"]["hostname"] is None and pc["agent_id"] is None
    assert pc["patches"][1]["description"] == "Security Update"
    assert pc["patches"][1]["installed_by"] == "NT AUTHORITY\\SYSTEM"


def test_qfe_russian_file_with_stray_shell_line_and_misaligned_columns(realdata):
    data = _read(realdata, "srv_2012r2_x64_standard_ru_qfe.txt")
    assert data.startswith(b"cat q")
    assert looks_like_qfe(data)

    [payload] = parse_qfe(data)

    assert payload["agent_id"] == "systeminfo:dc"  # the same asset as its systeminfo
    assert len(payload["patches"]) == 7
    assert payload["patches"][-1] == {
        "hotfix_id": "KB2999226",
        "description": "Update",
        "installed_on": "2020-04-17",
        "installed_by": "TEST_dc\\Администратор",
    }


def test_qfe_hostname_argument_names_a_headless_export(realdata):
    [payload] = parse_qfe(
        _read(realdata, "10_1809_x64_pro_en-us_20190307_qfe.txt"), "DESKTOP-LOQ9L09"
    )

    assert payload["agent_id"] == "systeminfo:desktop-loq9l09"


def test_qfe_list_csv_and_get_hotfix_forms():
    listing = (
        "\r\n\r\nCSName=PC1\r\nDescription=Update\r\nHotFixID=KB5031356\r\n"
        "InstalledOn=11/14/2023\r\n\r\nCSName=PC1\r\nDescription=Security Update\r\n"
        "HotFixID=KB5032190\r\nInstalledOn=\r\n"
    )
    csv_form = (
        "\r\nNode,Caption,CSName,Description,FixComments,HotFixID,InstallDate,InstalledBy,"
        "InstalledOn,Name,ServicePackInEffect,Status\r\n"
        "PC2,http://support.microsoft.com/?kbid=5031356,PC2,Update,,KB5031356,,"
        "NT AUTHORITY\\SYSTEM,11/14/2023,,,\r\n"
    )
    get_hotfix = (
        "\r\nSource        Description      HotFixID      InstalledBy          InstalledOn\r\n"
        "------        -----------      --------      -----------          -----------\r\n"
        "PC3           Security Update  KB5032190     NT AUTHORITY\\SYSTEM  "
        "11/15/2023 12:00:00 AM\r\n"
    )

    [one] = parse_qfe(listing.encode("utf-16"))
    [two] = parse_qfe(csv_form.encode("utf-8"))
    [three] = parse_qfe(get_hotfix.encode("cp1252"))

    assert one["system_info"]["hostname"] == "PC1"
    assert _kbs(one) == ["KB5031356", "KB5032190"]
    assert one["patches"][0]["installed_on"] == "2023-11-14"
    assert two["system_info"]["hostname"] == "PC2" and _kbs(two) == ["KB5031356"]
    assert three["system_info"]["hostname"] == "PC3"
    assert three["patches"][0]["installed_on"] == "2023-11-15"
    assert three["patches"][0]["installed_by"] == "NT AUTHORITY\\SYSTEM"


def test_qfe_rows_of_several_hosts_give_one_payload_each():
    table = (
        "CSName  Description  HotFixID   InstalledOn\r\n"
        "PC1     Update       KB5031356  11/14/2023\r\n"
        "PC2     Update       KB5031356  11/15/2023\r\n"
        "PC1     Update       KB5031356  11/14/2023\r\n"
    )

    payloads = parse_qfe(table.encode("utf-8"))

    assert [(p["system_info"]["hostname"], len(p["patches"])) for p in payloads] == [
        ("PC1", 1),
        ("PC2", 1),
    ]


@pytest.mark.parametrize(
    "data", [b"", b"hello", codecs.BOM_UTF16_LE + "HotFixID\r\n".encode("utf-16-le")]
)
def test_qfe_wrong_input_raises_parse_error(data):
    with pytest.raises(ParseError):
        parse_qfe(data)


def test_qfe_parser_refuses_systeminfo(realdata):
    data = _read(realdata, "11_23H2_x64_enterprise_systeminfo.txt")

    with pytest.raises(ParseError, match="HotFixID"):
        parse_qfe(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_windows_parsers_arbitrary_bytes_parse_or_raise_parse_error(data):
    for parse in (parse_systeminfo, parse_qfe):
        try:
            result = parse(data)
        except ParseError:
            continue
        assert isinstance(result, list) and result


_SAMPLE = (
    "Host Name:                 PC-1\r\n"
    "OS Name:                   Microsoft Windows 10 Pro\r\n"
    "OS Version:                10.0.19045 N/A Build 19045\r\n"
    "Hotfix(s):                 1 Hotfix(s) Installed.\r\n"
    "                           [01]: KB5031356\r\n"
    "Caption  CSName  Description  HotFixID   InstalledOn\r\n"
    "x        PC-1    Update       KB5031356  11/14/2023\r\n"
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_windows_parsers_mangled_exports_parse_or_raise_parse_error(data):
    text = data.draw(st.sampled_from([_SAMPLE, _SAMPLE.upper(), _SAMPLE.replace(":", "")]))
    position = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.text(max_size=20))
    encoding = data.draw(st.sampled_from(["utf-8", "utf-16", "cp1252", "cp866"]))
    mangled = (text[:position] + junk + text[position + len(junk) :]).encode(encoding, "replace")
    for parse in (parse_systeminfo, parse_qfe):
        with contextlib.suppress(ParseError):
            parse(mangled)
