"""The Windows exports are read by one parser: the device agent's (``patchops_agent.parsers``),
which the portal imports for uploaded files. It must give the same payloads on the old Pythons
devices run as on the portal's own."""

from __future__ import annotations

import json
import subprocess

import pytest

from inventory.parsers import PARSERS
from patchops_agent.parsers.qfe import parse_qfe
from patchops_agent.parsers.systeminfo import parse_systeminfo, parse_systeminfo_csv
from tests.inventory.agent_build import PACKAGE
from tests.inventory.test_agent_collect import _old_interpreters

SYSTEMINFO_LIST = (
    "Host Name:                 FRONTDESK\r\n"
    "OS Name:                   Microsoft Windows 11 Pro\r\n"
    "OS Version:                10.0.22631 N/A Build 22631\r\n"
    "System Type:               x64-based PC\r\n"
    "Hotfix(s):                 2 Hotfix(s) Installed.\r\n"
    "                           [01]: KB5031356\r\n"
    "                           [02]: KB5030841\r\n"
).encode("utf-16")
SYSTEMINFO_CSV = (
    '"Host Name","OS Name","OS Version","Hotfix(s)"\r\n'
    '"FRONTDESK","Microsoft Windows 10 Pro","10.0.19045 N/A Build 19045",'
    '"2 Hotfix(s) Installed.,[01]: KB5031356,[02]: KB5030841"\r\n'
)
QFE = (
    b"CSName     Description      HotFixID   InstalledBy          InstalledOn\r\n"
    b"FRONTDESK  Security Update  KB5031356  NT AUTHORITY\\SYSTEM  11/14/2023\r\n"
    b"FRONTDESK  Update           KB5030841  NT AUTHORITY\\SYSTEM  0x01da1a2b3c4d5e6f\r\n"
)

SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from patchops_agent.parsers.qfe import parse_qfe
from patchops_agent.parsers.systeminfo import parse_systeminfo, parse_systeminfo_csv
data = json.loads(sys.stdin.read())
print(json.dumps({
    "list": parse_systeminfo(bytes.fromhex(data["list"])),
    "csv": parse_systeminfo_csv(data["csv"]),
    "qfe": parse_qfe(bytes.fromhex(data["qfe"])),
}, sort_keys=True))
"""


def test_the_portal_reads_windows_exports_with_the_agents_parsers():
    assert PARSERS["systeminfo"].parser is parse_systeminfo
    assert PARSERS["qfe"].parser is parse_qfe


def test_the_agents_systeminfo_fallback_is_the_portals_reading():
    payload = parse_systeminfo(SYSTEMINFO_CSV.encode())[0]
    found = parse_systeminfo_csv(SYSTEMINFO_CSV)

    assert found["hostname"] == payload["system_info"]["hostname"] == "FRONTDESK"
    assert found["os_version"] == payload["os_version"]
    assert [p["hotfix_id"] for p in found["patches"]] == ["KB5031356", "KB5030841"]


@pytest.mark.parametrize("python", _old_interpreters() or [None])
def test_shared_parsers_give_the_same_payloads_on_old_python(python):
    if python is None:
        pytest.skip("no Python 3.7/3.8 interpreter on this machine")
    data = json.dumps({"list": SYSTEMINFO_LIST.hex(), "csv": SYSTEMINFO_CSV, "qfe": QFE.hex()})
    expected = {
        "list": parse_systeminfo(SYSTEMINFO_LIST),
        "csv": parse_systeminfo_csv(SYSTEMINFO_CSV),
        "qfe": parse_qfe(QFE),
    }

    done = subprocess.run(
        [python, "-I", "-c", SCRIPT, str(PACKAGE.parent)],
        input=data,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(json.dumps(expected, sort_keys=True))
    assert expected["list"][0]["os_version"]["build"] == "22631"
    assert [p["hotfix_id"] for p in expected["qfe"][0]["patches"]] == ["KB5031356", "KB5030841"]
