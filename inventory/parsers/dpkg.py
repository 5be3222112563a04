"""Debian package lists: ``dpkg-query -W`` output, Ubuntu image manifests and ``dpkg -l``.

Accepted line forms (one package per line, blank lines and ``#`` comments ignored):

* ``name<TAB>version`` (``dpkg-query -W``, the default ``${binary:Package}\\t${Version}``);
* ``name:arch<TAB>version`` (Ubuntu ``*.manifest`` files, multi-arch ``${binary:Package}``);
* ``name<TAB>version<TAB>arch[<TAB>source]`` (``dpkg-query -W -f`` with more fields);
* ``ii  name  version  arch  description`` (``dpkg -l``; only installed ``ii``/``hi`` rows).

Versions are kept exactly as dpkg prints them, epoch included (``1:1.2.11.dfsg-2ubuntu9``).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ParseError

__all__ = ["looks_like_dpkg", "parse_dpkg"]

# Debian policy: package names are lowercase alphanumerics plus + - . (at least two characters).
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9+.\-]+$")
_ARCH_RE = re.compile(r"^[a-z0-9][a-z0-9\-]*$")
# [epoch:]upstream[-revision]; upstream starts with a digit.
_VERSION_RE = re.compile(r"^(?:(\d+):)?([0-9][A-Za-z0-9.+~:\-]*)$")
_DPKG_L_RE = re.compile(r"^([uihrp][ncUFWhit])[ R]?\s+(\S+)\s+(\S+)\s+(\S+)(?:\s+(.*))?$")
_INSTALLED_STATES = {"ii", "hi"}


def looks_like_dpkg(data: bytes) -> bool:
    """True when every package line parses and there is at least one."""
    try:
        return bool(_packages(data))
    except ParseError:
        return False


def parse_dpkg(data: bytes, hostname: str | None = None) -> list[dict[str, Any]]:
    """Parse a Debian package list into a discovery payload with ``deb_packages``.

    ``hostname`` names the host the list came from (the list itself does not say); without it the
    payload's ``agent_id`` and ``system_info.hostname`` are null for the caller to fill in.
    """
    packages = _packages(data)
    if not packages:
        raise ParseError("not a dpkg package list: no 'name<TAB>version' line found")
    payload: dict[str, Any] = {
        "agent_id": f"dpkg:{hostname.casefold()}" if hostname else None,
        "source": "dpkg",
        "system_info": {"hostname": hostname, "computer_name": hostname},
        "deb_packages": packages,
    }
    os_version = _os_from_base_files(packages)
    if os_version:
        payload["os_version"] = os_version
    return [payload]


def _decode(data: bytes) -> str:
    if not isinstance(data, bytes | bytearray):
        raise ParseError("expected the file's bytes")
    if b"\x00" in data[:4096]:
        raise ParseError("not a dpkg package list: the file is binary or UTF-16")
    try:
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not a dpkg package list: not UTF-8 text ({exc.reason})") from None


def _packages(data: bytes) -> list[dict[str, Any]]:
    text = _decode(data)
    packages: list[dict[str, Any]] = []
    seen: set[tuple[str, str | None]] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        package = _parse_line(raw.rstrip("\r\n"))
        if package is None:
            if _is_dpkg_l_chrome(line):
                continue
            raise ParseError(
                f"line {number} is not a dpkg package line (expected name<TAB>version): "
                f"{line[:80]!r}"
            )
        if package is _SKIP:
            continue
        key = (package["name"], package["arch"])
        if key in seen:
            continue
        seen.add(key)
        packages.append(package)
    return packages


_SKIP: dict[str, Any] = {}


def _is_dpkg_l_chrome(line: str) -> bool:
    """Header and ruler lines of ``dpkg -l`` output."""
    return (
        line.startswith(("Desired=", "|", "||/", "+++-"))
        or line.startswith("| Status=")
        or set(line) <= {"=", "+", "-", "|", " "}
    )


def _parse_line(line: str) -> dict[str, Any] | None:
    if "\t" in line:
        fields = [field.strip() for field in line.split("\t")]
    else:
        match = _DPKG_L_RE.match(line.strip())
        if match:
            state, name, version, arch = match.group(1, 2, 3, 4)
            if state not in _INSTALLED_STATES:
                return _SKIP
            return _package(name, version, arch, None)
        fields = line.split()
    if len(fields) < 2:
        return None
    name, version = fields[0], fields[1]
    arch = fields[2] if len(fields) > 2 and fields[2] else None
    source = fields[3] if len(fields) > 3 and fields[3] else None
    if not version:
        # dpkg-query -W lists removed-but-configured packages with an empty version.
        return _SKIP if _NAME_RE.match(name.split(":")[0]) else None
    return _package(name, version, arch, source)


def _package(
    name: str, version: str, arch: str | None, source: str | None
) -> dict[str, Any] | None:
    if ":" in name:
        name, _, name_arch = name.partition(":")
        arch = arch or name_arch
        if not _ARCH_RE.match(name_arch):
            return None
    if not _NAME_RE.match(name) or not _VERSION_RE.match(version):
        return None
    if arch is not None and not _ARCH_RE.match(arch):
        return None
    upstream = version.split(":", 1)[1] if ":" in version.split("-")[0] else version
    revision = upstream.rsplit("-", 1)[1] if "-" in upstream else ""
    return {
        "name": name,
        "version": version,
        "arch": arch,
        "source": source.split(" ")[0] if source else None,
        "revision": revision,
    }


# base-files carries the release: Debian's major version, or an Ubuntu series number.
_UBUNTU_BASE_FILES = {
    "10.1": "18.04",
    "11": "20.04",
    "11.1": "20.04",
    "12": "22.04",
    "13": "24.04",
    "13.0": "24.04",
}


def _os_from_base_files(packages: list[dict[str, Any]]) -> dict[str, Any] | None:
    base = next((p for p in packages if p["name"] == "base-files"), None)
    if base is None:
        return None
    version = base["version"]
    if "ubuntu" in version:
        series = _UBUNTU_BASE_FILES.get(version.split("ubuntu")[0])
        os_version: dict[str, Any] = {"name": "Ubuntu", "platform": "ubuntu"}
        if series:
            major, minor = series.split(".")
            os_version.update(version=series, major=int(major), minor=int(minor))
        return os_version
    match = re.match(r"^(\d+)", version)
    os_version = {"name": "Debian GNU/Linux", "platform": "debian"}
    if match:
        os_version.update(version=match.group(1), major=int(match.group(1)))
    return os_version
