"""Version comparison by each ecosystem's own rules (through ``univers``), never as strings.

The kinds are the inventory's package kinds:
deb → Debian (epochs, tildes), rpm → RPM (epoch:version-release), apk → Alpine, everything
else (Windows programs, macOS apps, Homebrew) → numeric dotted fields, as NVD's CPE ranges
compare them (``catalogue.cpe.CpeVersion``: ``10.0`` is newer than ``9.9``).
"""

from __future__ import annotations

import re

from univers.versions import (
    AlpineLinuxVersion,
    DebianVersion,
    GenericVersion,
    InvalidVersion,
    RpmVersion,
)

from catalogue.cpe import CpeVersion

__all__ = ["compare", "is_at_least"]

_BY_KIND = {"deb": DebianVersion, "rpm": RpmVersion, "apk": AlpineLinuxVersion}


def compare(a: str, b: str, *, kind: str) -> int:
    """-1, 0 or 1 as ``a`` is older, equal or newer than ``b`` in the ``kind`` ecosystem.

    Raises ``ValueError`` for a version the ecosystem cannot parse.
    """
    if kind not in _BY_KIND:
        if not re.search(r"\d", a or "") or not re.search(r"\d", b or ""):
            raise ValueError(f"cannot compare {a!r} and {b!r} as {kind} versions")
        va, vb = CpeVersion(a), CpeVersion(b)
        return (va > vb) - (va < vb)
    cls = _BY_KIND.get(kind, GenericVersion)
    try:
        va, vb = cls(a.strip()), cls(b.strip())
    except (InvalidVersion, ValueError, TypeError) as exc:
        raise ValueError(f"cannot compare {a!r} and {b!r} as {kind} versions: {exc}") from exc
    return (va > vb) - (va < vb)


def is_at_least(installed: str, fixed: str, *, kind: str) -> bool:
    """True when ``installed`` ≥ ``fixed``; False when either cannot be parsed."""
    try:
        return compare(installed, fixed, kind=kind) >= 0
    except ValueError:
        return False
