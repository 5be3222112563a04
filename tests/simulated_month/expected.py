"""What the script leaves behind, worked out from it (never from the engine)."""

# ruff: noqa: F403, F405
from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tests.simulated_month.scenario import *

# --- what the script leaves behind, worked out from it --------------------------------------------


@dataclass(frozen=True)
class Expected:
    """One finding as the script leaves it at the end of October."""

    host: str
    patch: str
    tier: str
    os: str
    asset_class: str
    detected: datetime
    due: datetime
    verified: datetime | None
    deployed: datetime | None
    excepted: bool
    risk: Decimal
    cves: frozenset[str]
    kev: tuple[str, ...]
    cvss: str | None
    epss: Decimal | None

    @property
    def ephi(self) -> bool:
        return self.host in EPHI


@dataclass(frozen=True)
class Catalogue:
    kev: frozenset[str]
    kev_as_of: datetime
    epss: dict[str, Decimal]
    epss_as_of: datetime
    msrc_as_of: datetime
    osv_as_of: datetime
    kb_cves: dict[str, frozenset[str]]
    kb_cvss: dict[str, str]


def read_catalogue(realdata: Path) -> Catalogue:
    """What the real files say: KEV's CVEs, EPSS scores, each KB's CVEs and best CVSS score
    for its product, and the as-of date each file states."""
    kev = json.loads((realdata / "cisa-kev/known_exploited_vulnerabilities.json").read_text())
    epss_lines = (realdata / "epss/epss_scores-current.excerpt.csv").read_text().splitlines()
    score_date = re.search(r"score_date:(\d{4}-\d{2}-\d{2})", epss_lines[0]).group(1)
    epss = {r["cve"]: Decimal(r["epss"]) for r in csv.DictReader(epss_lines[1:])}
    ns = {
        "cvrf": "http://www.icasi.org/CVRF/schema/cvrf/1.1",
        "vuln": "http://www.icasi.org/CVRF/schema/vuln/1.1",
        "prod": "http://www.icasi.org/CVRF/schema/prod/1.1",
    }
    root = ET.parse(realdata / "msrc-cvrf/cvrfDocument-2023-Nov.xml").getroot()
    released = root.findtext("cvrf:DocumentTracking/cvrf:CurrentReleaseDate", "", ns)
    products = {p.text: p.get("ProductID") for p in root.iter(f"{{{ns['prod']}}}FullProductName")}
    kb_cves: dict[str, set[str]] = {}
    kb_cvss: dict[str, Decimal] = {}
    for kb, product in PRODUCTS.items():
        pid = products[product]
        for v in root.findall("vuln:Vulnerability", ns):
            fixes = [
                r
                for r in v.findall("vuln:Remediations/vuln:Remediation", ns)
                if r.get("Type") == "Vendor Fix"
                and f"KB{r.findtext('vuln:Description', '', ns)}" == kb
                and pid in [p.text for p in r.findall("vuln:ProductID", ns)]
            ]
            if not fixes:
                continue
            kb_cves.setdefault(kb, set()).add(v.findtext("vuln:CVE", "", ns))
            for score_set in v.findall("vuln:CVSSScoreSets/vuln:ScoreSet", ns):
                if pid in [p.text for p in score_set.findall("vuln:ProductID", ns)]:
                    score = Decimal(score_set.findtext("vuln:BaseScore", "", ns))
                    kb_cvss[kb] = max(kb_cvss.get(kb, score), score)
    osv = json.loads((realdata / "ubuntu-osv/USN-5614-1.json").read_text())
    return Catalogue(
        kev=frozenset(v["cveID"] for v in kev["vulnerabilities"]),
        kev_as_of=datetime.fromisoformat(kev["dateReleased"]),
        epss=epss,
        epss_as_of=datetime.fromisoformat(score_date).replace(tzinfo=UTC),
        msrc_as_of=datetime.fromisoformat(released).replace(tzinfo=UTC),
        osv_as_of=datetime.fromisoformat(osv["modified"]),
        kb_cves={kb: frozenset(cves) for kb, cves in kb_cves.items()},
        kb_cvss={kb: f"{score.normalize()}" for kb, score in kb_cvss.items()},
    )


def risk_of(host: str, cvss: str | None, epss: Decimal | None, kev: bool) -> Decimal:
    """The documented formula (``findings.risk``) on the script's context."""
    score = Decimal(0)
    score += 5 * Decimal(cvss) if cvss else 0
    score += 25 * epss if epss is not None else 0
    score += 10 if host in EPHI else 0
    core = host in SERVERS or host in LINUX
    score += 5 if core else 0  # core server
    score += 5 if core else 0  # role server
    score += 5 if kev else 0
    return min(Decimal(100), score).quantize(Decimal("0.01"))


def expected_findings(cat: Catalogue) -> list[Expected]:
    out = []
    for host in WORKSTATIONS + SERVERS + LINUX + MACS:
        if host in WORKSTATIONS or host in SERVERS:
            patch = KB_WS if host in WORKSTATIONS else KB_SRV
            cves = cat.kb_cves[patch]
            kev = tuple(sorted(cves & cat.kev))
            epss = max(cat.epss[c] for c in cves if c in cat.epss)
            detected, window = FIRST_REPORT, timedelta(days=14)
            verified = INSTALLED.get(host)
            deployed = INSTALLED.get(host)
            if host == ROLLED_BACK:
                # The inventory its agent pushed after the rollback shows the KB missing
                # again: the finding is open once more, detected then, on a new clock.
                detected, verified, deployed = ROLLBACK, None, None
            tier, cvss, os_label = "critical", cat.kb_cvss[patch], "Windows"
            klass = "Workstation" if host in WORKSTATIONS else "Core server"
        elif host in LINUX:
            # No CVSS score: none of the catalogues imported (KEV, EPSS, MSRC, OSV) scores
            # CVE-2021-3782 for the catalogue; the EPSS excerpt does not list it either.
            patch, cves, kev, cvss = WAYLAND, frozenset({WAYLAND_CVE}), (), None
            epss = cat.epss.get(WAYLAND_CVE)
            detected, window, tier = FIRST_REPORT, timedelta(days=14), "medium"
            verified, deployed, os_label, klass = FIXED_BY_HAND[host], None, "Linux", "Core server"
        else:
            patch, cves, kev, epss, cvss = ZOOM, frozenset(), (), None, None
            detected, window, tier = FIRST_REPORT, timedelta(days=7), "high"
            verified, deployed, os_label, klass = FIXED_BY_HAND[host], None, "macOS", "Workstation"
        out.append(
            Expected(
                host=host,
                patch=patch,
                tier=tier,
                os=os_label,
                asset_class=klass,
                detected=detected,
                due=detected + window,
                verified=verified,
                deployed=deployed,
                excepted=host == "lfc-ehr-db",
                risk=risk_of(host, cvss, epss, bool(kev)),
                cves=cves,
                kev=kev,
                cvss=cvss,
                epss=epss,
            )  # fmt: skip
        )
    return out


def reports_of(host: str) -> list[datetime]:
    """When the script has the device's agent push a patch or package list."""
    times = [FIRST_REPORT, *WEEKLY]
    if host in INSTALLED:
        times.append(INSTALLED[host])
    if host == ROLLED_BACK:
        times.append(ROLLBACK)
    if host in FIXED_BY_HAND:
        times.append(FIXED_BY_HAND[host])
    if host == QUIET:
        times = [t for t in times if t <= INSTALLED[QUIET]]
    return sorted(times)


def last_report(host: str, moment: datetime) -> datetime | None:
    return max((t for t in reports_of(host) if t <= moment), default=None)


def reporting(host: str, moment: datetime) -> bool:
    last = last_report(host, moment)
    return last is not None and moment - last < STALE


def overdue(f: Expected, moment: datetime) -> bool:
    excepted = f.excepted and SIGNED <= moment < EXPIRES
    done = f.verified is not None and f.verified <= moment
    return f.detected <= moment and f.due < moment and not done and not excepted


@dataclass(frozen=True)
class Ratio:
    compliant: int
    in_scope: int
    not_reporting: int

    @property
    def pct(self) -> Decimal | None:
        if not self.in_scope:
            return None
        return (Decimal(self.compliant) * 100 / self.in_scope).quantize(Decimal("0.01"))


def compliance(findings: list[Expected], moment: datetime, *, tier: str = "", key=None) -> Ratio:
    """Reporting assets in scope with no overdue, un-excepted finding (of ``tier``) ÷ assets
    in scope, for the assets whose ``key`` (OS family or class label) is given."""
    by_host = {f.host: f for f in findings}
    hosts = [h for h in by_host if key is None or key(by_host[h])]
    quiet = [h for h in hosts if not reporting(h, moment)]
    bad = {
        f.host
        for f in findings
        if f.host in hosts and (not tier or f.tier == tier) and overdue(f, moment)
    }
    compliant = [h for h in hosts if h not in quiet and h not in bad]
    return Ratio(len(compliant), len(hosts), len(quiet))


def percentile(values: list[timedelta], q: float) -> timedelta:
    """PostgreSQL's ``percentile_cont``: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def span(value: timedelta) -> str:
    """A duration as the reports print it: "3 d 4 h", "5 h 12 min", "40 min"."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    return f"{hours} h {rest // 60} min" if rest // 60 else f"{hours} h"


def local(moment: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    value = moment.astimezone(CHICAGO)
    return f"{value.strftime(fmt)} {value.tzname()}"


def as_of(moment: datetime) -> str:
    """A report's instant as its "as of" line names it (with the zone's name)."""
    return f"{moment.astimezone(CHICAGO):%Y-%m-%d %H:%M} America/Chicago"


def pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.2f} %"


def chart_value(value: Decimal) -> str:
    number = float(value)
    return f"{number:.0f}" if number.is_integer() else f"{number:.1f}"
