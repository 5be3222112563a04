"""Debian security tracker: the tracker JSON (``security-tracker.debian.org/tracker/data/json``)
and the DSA list (``data/DSA/list``), detected from content.

Tracker JSON: one ``DEBIAN-CVE-…`` advisory per CVE, one fix row per package × release that is
resolved with a real fixed version ("0" means never affected and is skipped; open issues have no
fix to install). DSA list: one ``DSA-…`` advisory per entry with a fix row per ``[release] - pkg
version`` line; entries without CVEs or packages (end-of-life and key-change notices) are kept as
advisories without fixes.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from ..choices import AdvisorySource, Ecosystem, SeverityTier
from .base import Counts, ImportFileError, Progress, read_text, severity_from_text
from .msrc import worst
from .osv import _upsert_advisories, _upsert_fixes

CODENAMES = {
    "woody": "3.0",
    "sarge": "3.1",
    "etch": "4",
    "lenny": "5",
    "squeeze": "6",
    "wheezy": "7",
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
}
HEADER = re.compile(r"^\[(\d{1,2} \w{3} \d{4})\] ((?:DSA|DLA)-[\w-]+) (.*)$")
FIX = re.compile(r"^\s+\[(\w+)\] - (\S+) (\S+)")
CVES = re.compile(r"^\s+\{([^}]*)\}")


def release_number(codename: str) -> str:
    return CODENAMES.get(codename.lower(), codename.lower())


def _urgency(text: str) -> str:
    word = (text or "").rstrip("*").strip().lower()
    if word == "unimportant":
        return SeverityTier.LOW
    return severity_from_text(word)


def _fix_row(advisory_key, package, codename, version, severity, cves) -> dict[str, Any]:
    release = release_number(codename)
    return {
        "key": advisory_key,
        "product": f"Debian:{release}",
        "package_name": package[:300],
        "binaries": [],
        "product_id": "",
        "os_family": "linux",
        "ecosystem": Ecosystem.DEBIAN,
        "release": release,
        "fixed_version": version[:200],
        "affected_ranges": [
            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": version}]}
        ],
        "severity": severity,
        "cves": cves,
        "exploited_cves": [],
        "supersedes": [],
        "subtype": "",
        "is_hotpatch": False,
        "reboot_required": None,
    }


def _from_tracker(doc: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    advisories: dict[str, dict[str, Any]] = {}
    fixes = []
    for package, cves in doc.items():
        if not isinstance(cves, dict):
            raise ImportFileError("not a Debian tracker JSON ({package: {CVE: …}})")
        for cve, info in cves.items():
            if not isinstance(info, dict) or "releases" not in info:
                raise ImportFileError(f"{package}/{cve}: no 'releases' (not a Debian tracker JSON)")
            identifier = f"DEBIAN-{cve}"
            adv = advisories.setdefault(
                identifier,
                {
                    "source": AdvisorySource.DEBIAN,
                    "identifier": identifier[:100],
                    "title": (info.get("description") or cve)[:500],
                    "vendor": "Debian",
                    "release_date": None,
                    "vendor_severity": SeverityTier.UNKNOWN,
                    "reboot_required": False,
                    "cves": [cve] if cve.startswith("CVE-") else [],
                    "exploited_cves": [],
                    "aliases": [],
                    "os_family": "linux",
                    "document": "",
                    "url": f"https://security-tracker.debian.org/tracker/{cve}",
                },
            )
            for codename, rel in (info.get("releases") or {}).items():
                version = str(rel.get("fixed_version") or "")
                if rel.get("status") != "resolved" or version in {"", "0"}:
                    continue
                severity = _urgency(rel.get("urgency", ""))
                adv["vendor_severity"] = worst(adv["vendor_severity"], severity)
                fixes.append(
                    _fix_row(
                        (AdvisorySource.DEBIAN, identifier),
                        package,
                        codename,
                        version,
                        severity,
                        adv["cves"],
                    )
                )
    return list(advisories.values()), fixes


def _from_dsa_list(text: str) -> tuple[list[dict], list[dict]]:
    advisories: list[dict[str, Any]] = []
    fixes: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        head = HEADER.match(line)
        if head:
            when, identifier, title = head.groups()
            current = {
                "source": AdvisorySource.DEBIAN,
                "identifier": identifier[:100],
                "title": title[:500],
                "vendor": "Debian",
                "release_date": datetime.strptime(when, "%d %b %Y").date(),
                "vendor_severity": SeverityTier.UNKNOWN,
                "reboot_required": False,
                "cves": [],
                "exploited_cves": [],
                "aliases": [],
                "os_family": "linux",
                "document": "",
                "url": f"https://security-tracker.debian.org/tracker/{identifier}",
            }
            advisories.append(current)
            continue
        if current is None:
            if line.strip():
                raise ImportFileError(f"not a Debian DSA list (unexpected line {line[:60]!r})")
            continue
        if m := CVES.match(line):
            current["cves"] = sorted(set(re.findall(r"CVE-\d{4}-\d+", m.group(1))))
        elif m := FIX.match(line):
            codename, package, version = m.groups()
            fixes.append(
                _fix_row(
                    (AdvisorySource.DEBIAN, current["identifier"]),
                    package,
                    codename,
                    version,
                    SeverityTier.UNKNOWN,
                    current["cves"],
                )
            )
    if not advisories:
        raise ImportFileError("not a Debian DSA list (no '[DD Mon YYYY] DSA-…' entries)")
    return advisories, fixes


def import_debian(path: Path, *, progress: Progress | None = None) -> Counts:
    text = read_text(path)
    if text.lstrip().startswith("{"):
        import json

        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportFileError(f"{path.name}: not valid JSON ({exc.msg})") from exc
        advisories, fixes = _from_tracker(doc)
    else:
        advisories, fixes = _from_dsa_list(text)
    if not advisories:
        raise ImportFileError(f"{path.name}: no entries")
    counts = Counts()
    ids = _upsert_advisories(advisories, counts)
    # cves of a fix row are those of its advisory once the DSA's {CVE} line has been read
    by_identifier = {a["identifier"]: a for a in advisories}
    rows = []
    for spec in fixes:
        key = spec.pop("key")
        spec["cves"] = by_identifier[key[1]]["cves"]
        rows.append({"advisory_id": ids[key], **spec})
    _upsert_fixes(rows, counts, progress)
    return counts
