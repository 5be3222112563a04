"""CPE 2.3 formatted strings (``cpe:2.3:a:google:chrome:*:*:*:*:*:*:*:*``) and NVD version
bounds.

A formatted string has eleven attributes after ``cpe:2.3``: part, vendor, product, version,
update, edition, language, sw_edition, target_sw, target_hw, other. A colon inside a value is
escaped (``\\:``), as are other punctuation characters (``notepad\\+\\+``); ``*`` is ANY and
``-`` is NA. Versions are compared the way NVD's ranges mean them: numeric fields as numbers,
other fields as text (``univers``' generic ordering is not used: NVD bounds such as
``119.0.6045.159`` or ``23.01`` are plain dotted versions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

__all__ = ["Cpe", "CpeError", "parse_cpe", "CpeVersion", "in_range"]

_FIELDS = (
    "part",
    "vendor",
    "product",
    "version",
    "update",
    "edition",
    "language",
    "sw_edition",
    "target_sw",
    "target_hw",
    "other",
)


class CpeError(ValueError):
    """Not a CPE 2.3 formatted string."""


@dataclass(frozen=True)
class Cpe:
    part: str
    vendor: str
    product: str
    version: str = "*"
    update: str = "*"
    edition: str = "*"
    language: str = "*"
    sw_edition: str = "*"
    target_sw: str = "*"
    target_hw: str = "*"
    other: str = "*"


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def parse_cpe(text: str) -> Cpe:
    """``cpe:2.3:a:notepad-plus-plus:notepad\\+\\+:8.5:*:*:*:*:*:*:*`` → Cpe(...)."""
    if not text or not text.startswith("cpe:2.3:"):
        raise CpeError(f"not a CPE 2.3 formatted string: {text!r}")
    parts = re.split(r"(?<!\\):", text[len("cpe:2.3:") :])
    if len(parts) < 3 or parts[0] not in {"a", "o", "h", "*"}:
        raise CpeError(f"not a CPE 2.3 formatted string: {text!r}")
    parts = (parts + ["*"] * len(_FIELDS))[: len(_FIELDS)]
    return Cpe(
        **{name: _unescape(value).lower() for name, value in zip(_FIELDS, parts, strict=True)}
    )


@total_ordering
class CpeVersion:
    """A version as NVD compares it: split on ``.``, ``-``, ``_`` and ``+`` and letter/digit
    boundaries; numbers compare as numbers, words as text, a number after a word; missing
    trailing fields count as zero."""

    def __init__(self, text: str) -> None:
        self.text = (text or "").strip().lower()
        tokens = re.findall(r"\d+|[a-z]+", self.text)
        parts: list[tuple[int, int | str]] = [
            (1, int(t)) if t.isdigit() else (0, t) for t in tokens
        ]
        while parts and parts[-1] == (1, 0):
            parts.pop()
        self.parts = tuple(parts)

    def _padded(self, width: int) -> tuple:
        return self.parts + ((1, 0),) * (width - len(self.parts))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CpeVersion) and self.parts == other.parts

    def __lt__(self, other: CpeVersion) -> bool:
        width = max(len(self.parts), len(other.parts))
        return self._padded(width) < other._padded(width)

    def __hash__(self) -> int:
        return hash(self.parts)

    def __repr__(self) -> str:
        return f"CpeVersion({self.text!r})"


def in_range(
    version: str,
    *,
    exact: str = "*",
    start_including: str = "",
    start_excluding: str = "",
    end_including: str = "",
    end_excluding: str = "",
) -> bool:
    """Whether ``version`` falls in an NVD cpeMatch: the criteria's own version (``*`` = any,
    ``-`` = none) and the optional start/end bounds."""
    if not version or not re.search(r"\d", version):
        return False
    v = CpeVersion(version)
    bounded = any((start_including, start_excluding, end_including, end_excluding))
    if not bounded:
        if exact in ("*", ""):
            return False  # "every version" without bounds says nothing a version can be held to
        if exact == "-":
            return False
        return v == CpeVersion(exact)
    if start_including and v < CpeVersion(start_including):
        return False
    if start_excluding and v <= CpeVersion(start_excluding):
        return False
    if end_including and v > CpeVersion(end_including):
        return False
    return not (end_excluding and v >= CpeVersion(end_excluding))
