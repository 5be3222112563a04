"""Inventory parser cases found on real machines beyond the sample files.

* ``systeminfo`` from East Asian Windows consoles: the real 23H2 export of
  ``shared/realdata/windows-hotfix`` with its headings as the Chinese (Simplified and
  Traditional), Japanese and Korean editions print them, written in the console's code page
  (GBK/CP936, Big5/CP950, Shift-JIS/CP932, EUC-KR/CP949) as ``systeminfo > file`` does.
* hotfix ids with Microsoft's revision suffix (``KB2536276-v2``) in ``systeminfo`` and
  ``wmic qfe`` (the table layout of the real ``srv_2012r2_u1_qfe.txt``);
* ``--hostname`` over a placeholder host name;
* an Nmap run in which no host answered (nmap's own XML for ``-sn`` of a dead subnet).
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context

from inventory.models import Asset, DiscoveryRun, InstalledSoftware
from inventory.parsers import detect_format
from patchops_agent.parsers.qfe import parse_qfe
from patchops_agent.parsers.systeminfo import parse_systeminfo

SYSTEMINFO_23H2 = "windows-hotfix/11_23H2_x64_enterprise_systeminfo.txt"
KBS = ["KB5029921", "KB5027397", "KB5031354", "KB5031592"]

# Headings of the fields the parser reads, as each edition prints them (N/A as it prints it).
EDITIONS = {
    "zh-CN/cp936": (
        "cp936",
        {
            "Host Name": "主机名",
            "OS Name": "OS 名称",
            "OS Version": "OS 版本",
            "System Manufacturer": "系统制造商",
            "System Model": "系统型号",
            "System Type": "系统类型",
            "Processor(s)": "处理器",
            "Domain": "域",
            "Hotfix(s)": "修补程序",
        },
        ("N/A", "暂缺"),
        ("4 Hotfix(s) Installed.", "安装了 4 个修补程序。"),
    ),
    "zh-TW/cp950": (
        "cp950",
        {
            "Host Name": "主機名稱",
            "OS Name": "作業系統名稱",
            "OS Version": "作業系統版本",
            "System Manufacturer": "系統製造商",
            "System Model": "系統型號",
            "System Type": "系統類型",
            "Processor(s)": "處理器",
            "Domain": "網域",
            "Hotfix(s)": "Hotfix",
        },
        ("N/A", "無"),
        ("4 Hotfix(s) Installed.", "已安裝 4 Hotfix。"),
    ),
    "ja-JP/cp932": (
        "cp932",
        {
            "Host Name": "ホスト名",
            "OS Name": "OS 名",
            "OS Version": "OS バージョン",
            "System Manufacturer": "システム製造元",
            "System Model": "システム モデル",
            "System Type": "システムの種類",
            "Processor(s)": "プロセッサ",
            "Domain": "ドメイン",
            "Hotfix(s)": "ホットフィックス",
        },
        ("N/A", "N/A"),
        ("4 Hotfix(s) Installed.", "4 ホットフィックスがインストールされています。"),
    ),
    "ko-KR/cp949": (
        "cp949",
        {
            "Host Name": "호스트 이름",
            "OS Name": "OS 이름",
            "OS Version": "OS 버전",
            "System Manufacturer": "시스템 제조업체",
            "System Model": "시스템 모델",
            "System Type": "시스템 종류",
            "Processor(s)": "프로세서",
            "Domain": "도메인",
            "Hotfix(s)": "핫픽스",
        },
        ("N/A", "해당 없음"),
        ("4 Hotfix(s) Installed.", "4개의 핫픽스가 설치되었습니다."),
    ),
}


def _translated(realdata, labels, na, installed) -> str:
    text = (realdata / SYSTEMINFO_23H2).read_text(encoding="ascii")
    out = []
    for line in text.split("\r\n"):
        head, sep, rest = line.partition(":")
        if sep and head in labels and not line.startswith(" "):
            line = f"{labels[head]}:{rest}"
        out.append(line)
    text = "\r\n".join(out).replace(*na).replace(*installed)
    return text.replace("Microsoft Windows 11 Enterprise", "Microsoft Windows 11 企业版")


# The same editions written with the standard codecs the Windows code pages extend.
STANDARD_CODECS = {"cp936": "gbk", "cp950": "big5", "cp932": "shift_jis", "cp949": "euc_kr"}


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("edition", "codec"),
    [(e, EDITIONS[e][0]) for e in EDITIONS]
    + [(e, STANDARD_CODECS[EDITIONS[e][0]]) for e in EDITIONS],
)
def test_systeminfo_in_east_asian_code_pages(realdata, edition, codec):
    encoding, labels, na, installed = EDITIONS[edition]
    text = _translated(realdata, labels, na, installed)
    if encoding != "cp936":
        text = text.replace("企业版", "Enterprise")
    data = text.encode(codec)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really a legacy code page
    assert detect_format(data) == "systeminfo"
    [payload] = parse_systeminfo(data)
    assert payload["system_info"]["hostname"] == "DESKTOP-JNEKK9U"
    assert payload["os_version"]["build"] == "22631"
    assert payload["os_version"]["arch"] == "x86_64"
    assert payload["os_version"]["name"].startswith("Microsoft Windows 11")
    assert [p["hotfix_id"] for p in payload["patches"]] == KBS
    assert payload["system_info"]["hardware_vendor"] == "VMware, Inc."
    if encoding == "cp936":
        assert payload["os_version"]["name"] == "Microsoft Windows 11 企业版"


@pytest.mark.realdata
def test_hotfix_ids_keep_their_revision_suffix(realdata):
    text = (realdata / SYSTEMINFO_23H2).read_text(encoding="ascii")
    text = text.replace("[04]: KB5031592", "[04]: KB2536276-v2")
    [payload] = parse_systeminfo(text.encode())
    assert [p["hotfix_id"] for p in payload["patches"]][-1] == "KB2536276-v2"

    qfe = (realdata / "windows-hotfix/srv_2012r2_u1_qfe.txt").read_bytes().decode("utf-16")
    first_kb = next(tok for tok in qfe.split() if tok.startswith("KB"))
    changed = qfe.replace(first_kb + " ", first_kb + "-v2", 1)
    [host] = parse_qfe(changed.encode("utf-16"))
    ids = [p["hotfix_id"] for p in host["patches"]]
    assert f"{first_kb}-v2" in ids and first_kb not in ids


@pytest.mark.realdata
def test_ingested_suffixed_hotfix_is_kept_and_counts_as_its_kb(realdata, tenant_a, tmp_path):
    text = (realdata / SYSTEMINFO_23H2).read_text(encoding="ascii")
    path = tmp_path / "si.txt"
    path.write_text(text.replace("[04]: KB5031592", "[04]: KB5031592-v2"), encoding="ascii")
    call_command("ingest", "tenant-a", str(path), "--format", "systeminfo", verbosity=0)
    with tenant_context(tenant_a):
        names = set(InstalledSoftware.objects.filter(kind="hotfix").values_list("name", flat=True))
    assert "KB5031592-V2" in {n.upper() for n in names}
    from findings.services import _inventories_of

    with tenant_context(tenant_a):
        asset = Asset.objects.get()
        hotfixes, _ = _inventories_of([asset.pk])[asset.pk]
    assert "KB5031592" in hotfixes


@pytest.mark.realdata
def test_hostname_replaces_a_placeholder_host_name(realdata, tenant_a, tmp_path):
    text = (realdata / SYSTEMINFO_23H2).read_text(encoding="ascii")
    for n, name in enumerate(("pc-lab-1", "pc-lab-2")):
        path = tmp_path / f"si-{n}.txt"
        path.write_text(text.replace("DESKTOP-JNEKK9U", "localhost"), encoding="ascii")
        call_command(
            "ingest",
            "tenant-a",
            str(path),
            "--format",
            "systeminfo",
            "--hostname",
            name,
            verbosity=0,
        )
    with tenant_context(tenant_a):
        hosts = sorted(Asset.objects.values_list("hostname", "agent_id"))
    assert hosts == [("pc-lab-1", "systeminfo:pc-lab-1"), ("pc-lab-2", "systeminfo:pc-lab-2")]


ALL_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n'
    b'<nmaprun scanner="nmap" args="nmap -sn -oX - 10.9.8.0/29" start="1700000000"'
    b' startstr="Tue Nov 14 22:13:20 2023" version="7.94" xmloutputversion="1.05">\n'
    b'<verbose level="0"/>\n<debugging level="0"/>\n'
    b'<runstats><finished time="1700000003" timestr="Tue Nov 14 22:13:23 2023"'
    b' summary="Nmap done at Tue Nov 14 22:13:23 2023; 8 IP addresses (0 hosts up) scanned'
    b' in 3.05 seconds" elapsed="3.05" exit="success"/><hosts up="0" down="8" total="8"/>\n'
    b"</runstats>\n</nmaprun>\n"
)


@pytest.mark.parametrize("with_down_hosts", [False, True], ids=["no-host-elements", "down-hosts"])
def test_nmap_run_with_every_host_down_records_an_empty_run(tenant_a, tmp_path, with_down_hosts):
    data = ALL_DOWN
    if with_down_hosts:  # nmap -v lists the hosts that did not answer
        down = b"".join(
            b'<host><status state="down" reason="no-response" reason_ttl="0"/>'
            b'<address addr="10.9.8.%d" addrtype="ipv4"/></host>\n' % n
            for n in range(1, 9)
        )
        data = data.replace(b"<runstats>", down + b"<runstats>")
    path = tmp_path / "dead-subnet.xml"
    path.write_bytes(data)
    call_command("ingest", "tenant-a", str(path), verbosity=0)  # exit 0, format detected
    with tenant_context(tenant_a):
        [run] = DiscoveryRun.objects.filter(source_name="dead-subnet.xml")
        assert run.status == "succeeded"
        assert not Asset.objects.exists()
