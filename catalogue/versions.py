"""Version comparison per ecosystem, never by string.

Distribution and language ecosystems use ``univers`` (dpkg rules with epochs and ``~`` for Debian
and Ubuntu, rpmvercmp with epoch/release for RPM, Maven, PyPI, semver for npm/cargo, …). Windows
builds (``10.0.22631.2715``) and macOS application versions (``14.1.2``, ``120.0.6099.129``) are
dotted numeric versions compared field by field as integers, with missing fields read as 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import total_ordering
from typing import Any

from univers import versions as uv

__all__ = [
    "InvalidVersion",
    "normalise_ecosystem",
    "parse",
    "compare",
    "is_affected",
    "fixed_version_for",
]


class InvalidVersion(ValueError):
    """A version string that the ecosystem's rules cannot read."""


@total_ordering
class DottedVersion:
    """Windows build / macOS app version: numeric fields, trailing text ignored per field."""

    _field = re.compile(r"^(\d+)")

    def __init__(self, text: str) -> None:
        raw = text.strip()
        if not raw or not raw[0].isdigit():
            raise InvalidVersion(f"not a dotted numeric version: {text!r}")
        parts: list[int] = []
        for chunk in re.split(r"[.]", raw.split(" ")[0]):
            m = self._field.match(chunk)
            if not m:
                break
            parts.append(int(m.group(1)))
        while len(parts) > 1 and parts[-1] == 0:
            parts.pop()
        self.parts = tuple(parts)
        self.string = raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DottedVersion) and self.parts == other.parts

    def __lt__(self, other: DottedVersion) -> bool:
        width = max(len(self.parts), len(other.parts))
        return self.parts + (0,) * (width - len(self.parts)) < other.parts + (0,) * (
            width - len(other.parts)
        )

    def __hash__(self) -> int:
        return hash(self.parts)

    def __repr__(self) -> str:
        return f"DottedVersion({self.string!r})"


_UNIVERS: dict[str, type] = {
    "ubuntu": uv.DebianVersion,
    "debian": uv.DebianVersion,
    "deb": uv.DebianVersion,
    "rpm": uv.RpmVersion,
    "alpine": uv.AlpineLinuxVersion,
    "maven": uv.MavenVersion,
    "pypi": uv.PypiVersion,
    "npm": uv.SemverVersion,
    "cargo": uv.SemverVersion,
    "go": uv.GolangVersion,
    "nuget": uv.NugetVersion,
    "gem": uv.RubygemsVersion,
    "composer": uv.ComposerVersion,
    "other": uv.GenericVersion,
}
_DOTTED = {"windows", "macos"}

# OSV ecosystem names and common aliases → catalogue Ecosystem values.
_ALIASES = {
    "dpkg": "debian",
    "deb": "debian",
    "redhat": "rpm",
    "rhel": "rpm",
    "almalinux": "rpm",
    "rocky linux": "rpm",
    "rocky": "rpm",
    "centos": "rpm",
    "fedora": "rpm",
    "oracle linux": "rpm",
    "mageia": "rpm",
    "opensuse leap": "rpm",
    "suse": "rpm",
    "opensuse": "rpm",
    "red hat": "rpm",
    "crates.io": "cargo",
    "rubygems": "gem",
    "packagist": "composer",
    "homebrew": "macos",
    "mac": "macos",
    "darwin": "macos",
    "win": "windows",
}


def normalise_ecosystem(ecosystem: str) -> str:
    """``Ubuntu:22.04:LTS`` → ``ubuntu``, ``Maven`` → ``maven``, ``Debian:12`` → ``debian``."""
    head = (ecosystem or "").split(":", 1)[0].strip().lower()
    head = _ALIASES.get(head, head)
    if head in _UNIVERS or head in _DOTTED:
        return head
    raise InvalidVersion(f"unknown ecosystem {ecosystem!r}")


def parse(ecosystem: str, version: str) -> Any:
    """A comparable version object for ``version`` under ``ecosystem``'s rules."""
    eco = normalise_ecosystem(ecosystem)
    text = (version or "").strip()
    if not text:
        raise InvalidVersion(f"empty {eco} version")
    if eco in _DOTTED:
        return DottedVersion(text)
    try:
        return _UNIVERS[eco](text)
    except Exception as exc:  # univers raises several types (ValueError, InvalidVersion…)
        raise InvalidVersion(f"invalid {eco} version {text!r}: {exc}") from exc


def compare(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to or newer than ``b``."""
    va, vb = parse(ecosystem, a), parse(ecosystem, b)
    if va == vb:
        return 0
    return -1 if va < vb else 1


def _is_zero(value: str) -> bool:
    return value.strip() in {"0", ""}


def _range_contains(ecosystem: str, installed: Any, events: Iterable[Mapping[str, str]]) -> bool:
    """OSV semantics: walk events in version order; introduced opens, fixed/last_affected close."""
    keyed: list[tuple[int, Any, str]] = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected", "limit"):
            if kind in event:
                value = str(event[kind])
                if kind == "introduced" and _is_zero(value):
                    keyed.append((0, None, kind))
                else:
                    keyed.append((1, parse(ecosystem, value), kind))
    keyed.sort(key=lambda item: (item[0], _SortKey(item[1])))
    affected = False
    for _rank, version, kind in keyed:
        if kind == "introduced":
            if version is None or installed >= version:
                affected = True
        elif kind == "fixed":
            if installed >= version:
                affected = False
        elif kind == "last_affected":
            if installed > version:
                affected = False
        elif kind == "limit" and installed >= version:
            affected = False
    return affected


@total_ordering
class _SortKey:
    def __init__(self, version: Any) -> None:
        self.version = version

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SortKey) and self.version == other.version

    def __lt__(self, other: _SortKey) -> bool:
        if self.version is None:
            return other.version is not None
        if other.version is None:
            return False
        return self.version < other.version


def is_affected(
    ecosystem: str,
    installed: str,
    fixed: str | None = None,
    ranges: Iterable[Mapping[str, Any]] | None = None,
) -> bool:
    """Whether ``installed`` still needs the fix.

    With OSV ``ranges`` (``ECOSYSTEM``/``SEMVER`` types; ``GIT`` ranges are skipped) the version is
    affected when any range contains it. Otherwise it is affected when older than ``fixed``. With
    neither there is nothing to compare against and the answer is False.
    """
    current = parse(ecosystem, installed)
    usable = [r for r in (ranges or []) if str(r.get("type", "ECOSYSTEM")).upper() != "GIT"]
    if usable:
        return any(_range_contains(ecosystem, current, r.get("events", [])) for r in usable)
    if fixed:
        return current < parse(ecosystem, fixed)
    return False


def fixed_version_for(
    ecosystem: str, installed: str, ranges: Iterable[Mapping[str, Any]] | None
) -> str | None:
    """The ``fixed`` event of the range that contains ``installed`` (the version to move to)."""
    current = parse(ecosystem, installed)
    for r in ranges or []:
        if str(r.get("type", "ECOSYSTEM")).upper() == "GIT":
            continue
        events = r.get("events", [])
        if _range_contains(ecosystem, current, events):
            fixes = [e["fixed"] for e in events if "fixed" in e]
            later = [f for f in fixes if parse(ecosystem, f) > current]
            if later:
                return min(later, key=lambda f: _SortKey(parse(ecosystem, f)))
    return None
