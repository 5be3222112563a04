"""Software categories: which installed software a client's third-party patching must cover."""

from __future__ import annotations

import re
from functools import lru_cache

from .choices import SoftwareCategory, SoftwareKind

__all__ = ["categorise"]

_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        SoftwareCategory.BROWSER,
        re.compile(
            r"\b(google chrome|chromium|microsoft edge|mozilla firefox|firefox|brave|opera|"
            r"vivaldi|safari|internet explorer)\b",
            re.I,
        ),
    ),
    (
        SoftwareCategory.PDF_TOOL,
        re.compile(
            r"(acrobat|adobe reader|foxit|nitro pro|nitro pdf|pdf-xchange|sumatrapdf|pdf24|"
            r"pdfcreator|bluebeam|poppler|qpdf|ghostscript|evince)",
            re.I,
        ),
    ),
    (
        SoftwareCategory.REMOTE_ACCESS,
        re.compile(
            r"(teamviewer|anydesk|splashtop|screenconnect|connectwise control|logmein|"
            r"vnc|remote desktop manager|bomgar|beyondtrust|rustdesk|chrome remote desktop|"
            r"openssh|zoho assist|gotoassist|parsec)",
            re.I,
        ),
    ),
    (
        SoftwareCategory.JAVA,
        re.compile(
            r"(\bjava\b|\bjre\b|\bjdk\b|openjdk|temurin|corretto|zulu|adoptium|"
            r"java\(tm\)|ca-certificates-java)",
            re.I,
        ),
    ),
    (
        SoftwareCategory.LINE_OF_BUSINESS,
        re.compile(
            r"(epic|hyperspace|cerner|powerchart|athena|eclinicalworks|nextgen|allscripts|"
            r"meditech|dentrix|eaglesoft|open dental|practice fusion|greenway|quickbooks|"
            r"sage 50|sage 100|kareo|carestream|pacs|dicom|sap gui|dynamics gp|"
            r"ezcap|medisoft|centricity)",
            re.I,
        ),
    ),
]


def categorise(*, kind: str, name: str, vendor: str = "") -> str:
    """The category of one software row (hotfixes are OS updates; OS packages stay os_package)."""
    return _categorise(kind, name, vendor)


@lru_cache(maxsize=65536)
def _categorise(kind: str, name: str, vendor: str) -> str:
    if kind == SoftwareKind.HOTFIX:
        return SoftwareCategory.OS_UPDATE
    text = f"{name} {vendor}" if kind == SoftwareKind.PROGRAM else name
    for category, pattern in _RULES:
        if pattern.search(text):
            return category
    if kind in (SoftwareKind.DEB, SoftwareKind.RPM, SoftwareKind.APK):
        return SoftwareCategory.OS_PACKAGE
    return SoftwareCategory.OTHER
