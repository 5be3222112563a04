"""The agent's readers of each platform's tool output, and the commands its jobs run.

Only the Debian path can run for real here; the RHEL, macOS and Windows readers are checked
against the documented output formats of dnf, rpm, softwareupdate, sw_vers, system_profiler,
ifconfig, PowerShell (ConvertTo-Json) and systeminfo /FO CSV.
"""

from __future__ import annotations

import shutil

import pytest

from patchops_agent import jobs
from patchops_agent.parsers import linux, macos, powershell, systeminfo

APT_SIMULATION = (
    (
        "Reading package lists...\n"
        "Building dependency tree...\n"
        "Calculating upgrade...\n"
        "The following packages will be upgraded:\n"
        "  libssl3 openssl\n"
        "2 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.\n"
        "Inst libssl3 [3.0.2-0ubuntu1.6] (3.0.2-0ubuntu1.10 Ubuntu:22.04/jammy-updates, "
        "Ubuntu:22.04/jammy-security [amd64])\n"
    )
    + """\
Inst openssl [3.0.2-0ubuntu1.6] (3.0.2-0ubuntu1.10 Ubuntu:22.04/jammy-updates [amd64])
Inst linux-image-5.15.0-91-generic (5.15.0-91.101 Ubuntu:22.04/jammy-updates [amd64])
Conf libssl3 (3.0.2-0ubuntu1.10 Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security [amd64])
"""
)


def test_apt_simulation_gives_pending_updates_with_security_origin():
    updates = linux.parse_apt_simulation(APT_SIMULATION)

    assert [(u["name"], u["installed_version"], u["available_version"]) for u in updates] == [
        ("libssl3", "3.0.2-0ubuntu1.6", "3.0.2-0ubuntu1.10"),
        ("openssl", "3.0.2-0ubuntu1.6", "3.0.2-0ubuntu1.10"),
        ("linux-image-5.15.0-91-generic", "", "5.15.0-91.101"),
    ]
    assert [u["security"] for u in updates] == [True, False, False]
    assert [u["reboot_required"] for u in updates] == [False, False, True]
    assert all(u["source"] == "apt" and u["severity"] == "unknown" for u in updates)


def test_apt_list_upgradable():
    text = (
        "Listing...\n"
        "libssl3/jammy-updates,jammy-security 3.0.2-0ubuntu1.10 amd64 "
        "[upgradable from: 3.0.2-0ubuntu1.6]\n"
        "tzdata/jammy-updates 2023c-0ubuntu0.22.04.2 all "
        "[upgradable from: 2023c-0ubuntu0.22.04.1]\n"
    )

    updates = linux.parse_apt_list(text)

    assert [(u["name"], u["installed_version"], u["security"]) for u in updates] == [
        ("libssl3", "3.0.2-0ubuntu1.6", True),
        ("tzdata", "2023c-0ubuntu0.22.04.1", False),
    ]


def test_dpkg_query_rows_keep_epoch_and_skip_removed_packages():
    text = (
        "zlib1g:amd64\t1:1.2.13.dfsg-1\tamd64\tzlib\tii \n"
        "oldpkg\t1.0-1\tamd64\toldpkg\trc \n"
        "bash\t5.2.15-2+b2\tamd64\tbash\tii \n"
    )

    packages = linux.parse_dpkg_query(text)

    assert [(p["name"], p["version"], p["revision"]) for p in packages] == [
        ("zlib1g", "1:1.2.13.dfsg-1", "1"),
        ("bash", "5.2.15-2+b2", "2+b2"),
    ]


def test_rpm_query_with_epoch_and_gpg_keys_skipped():
    text = (
        "openssl\t3.0.7\t25.el9_3\t1\tx86_64\topenssl-3.0.7-25.el9_3.src.rpm\n"
        "bash\t5.1.8\t6.el9\t(none)\tx86_64\tbash-5.1.8-6.el9.src.rpm\n"
        "gpg-pubkey\tfd431d51\t4ae0493b\t(none)\t(none)\t(none)\n"
    )

    packages = linux.parse_rpm_query(text)

    assert packages == [
        {
            "name": "openssl",
            "version": "3.0.7",
            "release": "25.el9_3",
            "epoch": "1",
            "arch": "x86_64",
            "source": "openssl-3.0.7-25.el9_3.src.rpm",
        },
        {
            "name": "bash",
            "version": "5.1.8",
            "release": "6.el9",
            "epoch": "",
            "arch": "x86_64",
            "source": "bash-5.1.8-6.el9.src.rpm",
        },
    ]


def test_dnf_check_update_and_security_advisories():
    check = (
        "\n"
        "openssl.x86_64                 1:3.0.7-25.el9_3                 baseos\n"
        "kernel.x86_64                  5.14.0-362.13.1.el9_3            baseos\n"
        "python3-libs.x86_64            3.9.18-1.el9_3                   baseos\n"
        "Obsoleting Packages\n"
        "grub2-tools.x86_64             1:2.06-70.el9_3.1                baseos\n"
    )
    security = (
        "RHSA-2023:7877 Important/Sec. openssl-1:3.0.7-25.el9_3.x86_64\n"
        "RHSA-2023:7549 Critical/Sec.  kernel-5.14.0-362.13.1.el9_3.x86_64\n"
    )

    updates = linux.parse_dnf_check_update(check)
    advisories = linux.parse_dnf_updateinfo(security)

    assert [u["name"] for u in updates] == ["openssl", "kernel", "python3-libs"]
    assert updates[0]["available_version"] == "1:3.0.7-25.el9_3"
    assert advisories == {
        "openssl": ("RHSA-2023:7877", "high"),
        "kernel": ("RHSA-2023:7549", "critical"),
    }


def test_macos_sw_vers_apps_and_softwareupdate():
    os_version = macos.parse_sw_vers(
        "ProductName:\t\tmacOS\nProductVersion:\t\t13.6.1\nBuildVersion:\t\t22G313\n"
    )
    apps = macos.parse_system_profiler_apps(
        '{"SPApplicationsDataType": [{"_name": "Safari", "obtained_from": "apple", '
        '"path": "/Applications/Safari.app", "version": "17.1"}, '
        '{"_name": "Zoom", "path": "/Applications/zoom.us.app", "version": "5.16.6 (24664)"}]}'
    )
    updates = macos.parse_softwareupdate(
        "Software Update Tool\n\nFinding available software\n"
        "Software Update found the following new or updated software:\n"
        "* Label: macOS Ventura 13.6.2-22G320\n"
        "\tTitle: macOS Ventura 13.6.2, Version: 13.6.2, Size: 1055413KiB, Recommended: YES, "
        "Action: restart, \n"
        "* Label: Safari17.1VenturaAuto-17.1\n"
        "\tTitle: Safari, Version: 17.1, Size: 158371KiB, Recommended: YES, \n"
    )

    assert os_version["name"] == "macOS" and os_version["build"] == "22G313"
    assert (os_version["major"], os_version["minor"], os_version["patch"]) == (13, 6, 1)
    assert [(a["name"], a["bundle_short_version"]) for a in apps] == [
        ("Safari", "17.1"),
        ("Zoom", "5.16.6 (24664)"),
    ]
    assert [(u["name"], u["available_version"], u["reboot_required"]) for u in updates] == [
        ("macOS Ventura 13.6.2-22G320", "13.6.2", True),
        ("Safari17.1VenturaAuto-17.1", "17.1", False),
    ]


def test_macos_ifconfig_addresses_and_macs():
    text = (
        "lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384\n"
        "\tinet 127.0.0.1 netmask 0xff000000\n"
        "en0: flags=8863<UP,BROADCAST,SMART,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n"
        "\tether 3c:22:fb:12:34:56\n"
        "\tinet6 fe80::1c2b:3d4e:5f60:7182%en0 prefixlen 64 secured scopeid 0x6\n"
        "\tinet 192.168.1.23 netmask 0xffffff00 broadcast 192.168.1.255\n"
    )

    addresses, details = macos.parse_ifconfig(text)

    assert {"interface": "en0", "address": "192.168.1.23", "mask": "255.255.255.0"} in addresses
    assert {"interface": "lo0", "address": "127.0.0.1", "mask": "255.0.0.0"} in addresses
    assert any(a["address"] == "fe80::1c2b:3d4e:5f60:7182" for a in addresses)
    assert details == [
        {"interface": "lo0", "mac": ""},
        {"interface": "en0", "mac": "3c:22:fb:12:34:56"},
    ]


def test_windows_powershell_inventory_fills_programs_patches_and_os():
    payload = {"system_info": {"hostname": "x"}}
    data = {
        "os": {
            "caption": "Microsoft Windows 11 Enterprise",
            "version": "10.0.22631",
            "build": "22631",
            "arch": "64-bit",
            "display_version": "23H2",
            "ubr": "2715",
        },
        "system": {
            "hostname": "FRONTDESK-01",
            "uuid": "4C4C4544-0042",
            "serial": "5CG1234",
            "vendor": "HP",
            "model": "EliteDesk 800",
            "cpu": "Intel Core i5",
            "memory": 17179869184,
        },
        "patches": {
            "hotfix_id": "KB5032190",
            "description": "Security Update",
            "installed_by": "NT AUTHORITY\\SYSTEM",
            "installed_on": "2023-11-15",
        },
        "programs": [
            {
                "name": "Google Chrome",
                "version": "119.0.6045.160",
                "publisher": "Google LLC",
                "install_date": "20231116",
                "identifying_number": "{A1B2}",
            },
            {"name": None, "version": "1"},
        ],
        "adapters": {
            "interface": "Intel Ethernet",
            "mac": "AA:BB:CC:DD:EE:FF",
            "addresses": ["10.0.0.5", "fe80::1"],
            "masks": ["255.255.255.0", "64"],
        },
    }

    powershell.windows_payload_from_ps(data, payload)

    assert payload["os_version"]["version"] == "10.0.22631"
    assert payload["os_version"]["display_version"] == "23H2"
    assert payload["os_version"]["patch"] == 22631
    assert payload["system_info"]["hostname"] == "FRONTDESK-01"
    assert payload["system_info"]["hardware_serial"] == "5CG1234"
    assert payload["patches"] == [
        {
            "hotfix_id": "KB5032190",
            "description": "Security Update",
            "installed_on": "2023-11-15",
            "installed_by": "NT AUTHORITY\\SYSTEM",
        }
    ]
    assert [p["name"] for p in payload["programs"]] == ["Google Chrome"]
    assert payload["interface_addresses"][1]["mask"] == "ffff:ffff:ffff:ffff::"


def test_windows_update_search_gives_kb_severity_and_cves():
    updates = powershell.windows_pending_from_ps(
        {
            "title": "2023-11 Cumulative Update for Windows 11 Version 23H2 (KB5032190)",
            "kbs": ["5032190"],
            "severity": "Critical",
            "reboot": True,
            "cves": ["CVE-2023-36033", "CVE-2023-36036"],
        }
    )

    assert updates == [
        {
            "name": "2023-11 Cumulative Update for Windows 11 Version 23H2 (KB5032190)",
            "installed_version": "",
            "available_version": "",
            "source": "windows_update",
            "advisory": "KB5032190",
            "cves": ["CVE-2023-36033", "CVE-2023-36036"],
            "severity": "critical",
            "reboot_required": True,
        }
    ]


def test_windows_systeminfo_csv_fallback():
    text = (
        '"Host Name","OS Name","OS Version","Hotfix(s)"\r\n'
        '"FRONTDESK","Microsoft Windows 10 Pro","10.0.19045 N/A Build 19045",'
        '"2 Hotfix(s) Installed.,[01]: KB5031356,[02]: KB5030841"\r\n'
    )

    found = systeminfo.parse_systeminfo_csv(text)

    assert found["hostname"] == "FRONTDESK"
    assert found["os_version"]["build"] == "19045"
    assert [p["hotfix_id"] for p in found["patches"]] == ["KB5031356", "KB5030841"]


def test_os_release_quotes_and_escapes():
    values = linux.parse_os_release(
        'NAME="Red Hat Enterprise Linux"\nVERSION_ID="9.3"\nID=rhel\nID_LIKE="fedora"\n'
        "PRETTY_NAME='Red Hat Enterprise Linux 9.3 (Plow)'\n# comment\n"
    )

    assert values == {
        "NAME": "Red Hat Enterprise Linux",
        "VERSION_ID": "9.3",
        "ID": "rhel",
        "ID_LIKE": "fedora",
        "PRETTY_NAME": "Red Hat Enterprise Linux 9.3 (Plow)",
    }


@pytest.mark.parametrize(
    ("tool", "action", "package", "dry_run", "expected"),
    [
        (
            "apt",
            "install",
            {"name": "openssl", "version": "3.0.2-0ubuntu1.10"},
            True,
            ["apt-get", "-s", "install", "--no-install-recommends", "openssl=3.0.2-0ubuntu1.10"],
        ),
        (
            "apt",
            "rollback",
            {"name": "openssl", "version": "3.0.2-0ubuntu1.6"},
            False,
            [
                "apt-get",
                "-y",
                "install",
                "--no-install-recommends",
                "--allow-downgrades",
                "openssl=3.0.2-0ubuntu1.6",
            ],
        ),
        (
            "dnf",
            "install",
            {"name": "openssl", "version": "1:3.0.7-25.el9_3"},
            True,
            ["dnf", "install", "--assumeno", "openssl-1:3.0.7-25.el9_3"],
        ),
        (
            "dnf",
            "rollback",
            {"name": "openssl", "version": None},
            False,
            ["dnf", "downgrade", "-y", "openssl"],
        ),
        (
            "softwareupdate",
            "install",
            {"name": "macOS Ventura 13.6.2-22G320", "version": None},
            False,
            ["softwareupdate", "-i", "macOS Ventura 13.6.2-22G320"],
        ),
        (
            "windows",
            "install",
            {"name": "Google.Chrome", "version": "119.0.6045.160"},
            False,
            [
                "winget",
                "upgrade",
                "--id",
                "Google.Chrome",
                "--exact",
                "--version",
                "119.0.6045.160",
                "--silent",
                "--accept-package-agreements",
                "--accept-source-agreements",
            ],
        ),
        (
            "windows",
            "rollback",
            {"name": "KB5032190", "version": None},
            False,
            ["wusa.exe", "/uninstall", "/kb:5032190", "/quiet", "/norestart"],
        ),
    ],
)
def test_job_command_uses_the_platform_tool(monkeypatch, tool, action, package, dry_run, expected):
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")

    assert jobs.job_command(tool, action, package, dry_run) == expected


def test_job_command_windows_kb_goes_through_windows_update(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)

    command = jobs.job_command("windows", "install", {"name": "KB5032190", "version": None}, False)

    assert command[:4] == ["powershell", "-NoProfile", "-NonInteractive", "-Command"]
    assert "KBArticleIDs -contains '5032190'" in command[4]


@pytest.mark.parametrize(
    "package",
    [
        {"name": "-oAPT::Get::AllowUnauthenticated=true", "version": None},
        {"name": "bash; rm -rf /", "version": None},
        {"name": "bash", "version": "1.0 --force"},
        {"name": "", "version": None},
    ],
)
def test_job_command_refuses_option_or_shell_injection(package):
    with pytest.raises(ValueError, match="refusing unsafe"):
        jobs.job_command("apt", "install", package, True)


def test_macos_rollback_is_refused():
    with pytest.raises(ValueError, match="cannot be rolled back"):
        jobs.job_command("softwareupdate", "rollback", {"name": "Safari", "version": None}, False)


def test_job_command_takes_an_empty_version_as_none(monkeypatch):
    """The server sends ``version: ""`` when a finding knows no version (Windows KBs)."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    package = {"name": "Security update KB5039212", "version": "", "advisory": "KB5039212"}
    assert jobs.job_command("windows", "rollback", package, False) == [
        "wusa.exe",
        "/uninstall",
        "/kb:5039212",
        "/quiet",
        "/norestart",
    ]
    with pytest.raises(ValueError, match="needs the version to return to"):
        jobs.job_command("apt", "rollback", {"name": "openssl", "version": ""}, False)
