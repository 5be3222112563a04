"""Each real export is recognised by exactly one of the format checks, and never by another."""

from __future__ import annotations

import pytest

from inventory.parsers.dpkg import looks_like_dpkg
from inventory.parsers.nmap import looks_like_nmap
from patchops_agent.parsers.qfe import looks_like_qfe
from patchops_agent.parsers.systeminfo import looks_like_systeminfo

CHECKS = {
    "systeminfo": looks_like_systeminfo,
    "qfe": looks_like_qfe,
    "dpkg": looks_like_dpkg,
    "nmap": looks_like_nmap,
}


def _kind(path) -> str | None:
    if path.parent.name == "nmap":
        return "nmap"
    if path.parent.name == "package-inventory":
        return "dpkg"
    if path.parent.name == "windows-hotfix":
        return "qfe" if "_qfe" in path.name else "systeminfo"
    return None


@pytest.mark.realdata
def test_every_real_file_is_claimed_by_its_own_check_only(realdata):
    files = [
        path
        for path in sorted(realdata.rglob("*"))
        if path.is_file() and not path.name.startswith("LICENSE") and path.suffix != ".md"
    ]
    assert len(files) > 30

    for path in files:
        data = path.read_bytes()
        claimed = {name for name, check in CHECKS.items() if check(data)}
        expected = {_kind(path)} - {None}
        assert claimed == expected, path.name
