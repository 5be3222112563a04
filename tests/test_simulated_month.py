"""October 2026 at a HIPAA clinic, driven through public interfaces only, and every figure of its
three month-end PDFs checked against numbers this file works out from its own script.

Lakeside Family Clinic (``lakeside-clinic``, America/Chicago, HIPAA): October is
[2026-10-01 05:00Z, 2026-11-01 05:00Z), CDT (UTC−5) throughout; staleness window 14 days.

Public interfaces only: the ``create_client``, ``create_api_token`` and ``generate_report``
commands; the catalogue import commands on the real files of ``../shared/realdata`` (CISA KEV,
the FIRST EPSS excerpt, MSRC CVRF November 2023, Ubuntu OSV USN-5614-1); agents push discovery
payloads to ``discovery/`` with an agent token, poll ``agent-jobs/``, report each result and push
a fresh inventory after a job changed the machine; people act through the API with their session
(SLA policy, maintenance window, ring pins, the rollout, its approvals and runbook checks, the
rollback, the exception request) and the client owner signs the deferral on the portal page with
their password. The rollout beat is the rings task itself. The PDFs are read with ``pdftotext``.

The fleet, 40 devices (the Windows 11 machines carry the hotfixes of the real 23H2 ``systeminfo``
of ``windows-hotfix/``, the Ubuntu servers the packages of the real jammy manifest):

    lfc-ws-01 … lfc-ws-30    Windows 11 23H2 workstations, 01 … 12 ePHI: missing KB5032190
    lfc-file-01              Windows Server 2022 file server (core server): missing KB5032198
    lfc-ehr-db               Windows Server 2022 EHR database (core server, ePHI): KB5032198,
                             deferred until the EHR vendor certifies it (signed by the owner)
    lfc-lnx-01 … lfc-lnx-04  Ubuntu 22.04 servers (core servers): libwayland-client0 1.20.0-1
                             (USN-5614-1, medium), upgraded by hand during the month
    lfc-mac-01 … lfc-mac-04  macOS workstations: zoom.us 5.17.0 with 6.0.2 offered (high),
                             updated by their users

The clinic's SLA policy gives critical findings 14 days on workstations and core servers (the
default windows otherwise: medium on a core server 14 days, high on a workstation 7 days). The
MSP admin pins the canary (ws-13 … ws-16, mac-01) and the pilot (ws-17 … ws-20, lnx-01, mac-02)
and re-balances: production holds the rest. One rollout of KB5032190 and KB5032198 runs through
the nightly window (22:00 local, four hours): canary the night of Oct 2, pilot Oct 4, production
(the client owner approves; the file server's snapshot first) Oct 7. Each agent runs its job a
minute after the one before. ws-14's EHR client crashes after the update: it is rolled back
through its agent on Oct 3 and its finding, open again, breaches its SLA. ws-30 goes quiet after
its production install. Every Monday 12:00Z and on Oct 31 every agent online reports.
"""

# ruff: noqa: F403, F405
from __future__ import annotations

import io
import re
import statistics
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command

from tests.simulated_month.expected import *
from tests.simulated_month.pdfs import *
from tests.simulated_month.scenario import *

pytestmark = [pytest.mark.django_db, pytest.mark.realdata]

# --- the month ------------------------------------------------------------------------------------


@pytest.fixture
def month(realdata, tmp_path, settings):
    from django.core.files import storage
    from django.utils.functional import empty

    from tenants.choices import MembershipRole
    from tenants.models import Client, User
    from tenants.services import add_membership
    from tests.conftest import PASSWORD

    settings.MEDIA_ROOT = str(tmp_path / "media")
    storage.storages._storages = {}
    storage.default_storage._wrapped = empty
    with time_machine.travel(at(28, 9, month=9), tick=False):
        call_command(
            "create_client", SLUG, "--name", NAME, "--timezone", "America/Chicago", "--hipaa",
            stdout=io.StringIO(),
        )  # fmt: skip
        # Users are made by hand (Django admin) in production too.
        owner = User.objects.create_user(email=OWNER, password=PASSWORD)
        add_membership(
            user=owner, client=Client.objects.get(slug=SLUG), role=MembershipRole.CLIENT_OWNER
        )
        out = io.StringIO()
        call_command(
            "create_api_token", "--name", "lakeside-agents", "--client", SLUG,
            "--scope", "agent", stdout=out, stderr=io.StringIO(),
        )  # fmt: skip
    clinic = Clinic(realdata, out.getvalue().strip())
    for moment, action in script(clinic, realdata):
        with time_machine.travel(moment, tick=False):
            action()
    texts = {}
    with time_machine.travel(REPORTED_AT, tick=False):
        for kind in ("monthly", "hipaa", "qbr"):
            target = tmp_path / f"{kind}.pdf"
            call_command(
                "generate_report", SLUG, "--kind", kind, "--period", "2026-10",
                "--out", str(target), stdout=io.StringIO(),
            )  # fmt: skip
            texts[kind] = read_pdf(target)
    yield {"clinic": clinic, "texts": texts, "catalogue": read_catalogue(realdata)}
    storage.storages._storages = {}
    storage.default_storage._wrapped = empty


def test_a_month_at_a_hipaa_clinic(month):
    clinic, texts, cat = month["clinic"], month["texts"], month["catalogue"]
    findings = expected_findings(cat)
    assert len(findings) == 40
    check_every_report(texts, cat)
    check_chain_heads(texts, clinic)
    check_monthly(texts["monthly"], findings)
    check_hipaa(texts["hipaa"], findings, clinic)
    check_qbr(texts["qbr"], findings)


# --- the figures ----------------------------------------------------------------------------------


def check_every_report(texts: dict[str, Pdf], cat: Catalogue) -> None:
    def age(as_of: datetime) -> str:
        days = (REPORTED_AT - as_of).days
        return f"{days} day{'s' if days != 1 else ''} old"

    footnote = (
        f"Vulnerability data as of: CISA KEV {cat.kev_as_of:%Y-%m-%d} ({age(cat.kev_as_of)}); "
        f"FIRST EPSS {cat.epss_as_of:%Y-%m-%d} ({age(cat.epss_as_of)}); "
        f"MSRC CVRF {cat.msrc_as_of:%Y-%m-%d} ({age(cat.msrc_as_of)}); "
        f"OSV {cat.osv_as_of:%Y-%m-%d} ({age(cat.osv_as_of)})."
    )
    titles = {
        "monthly": ("Monthly compliance report", "2026-10", "1 Oct 2026 – 31 Oct 2026"),
        "hipaa": ("HIPAA-aligned evidence pack", "2026-10", "1 Oct 2026 – 31 Oct 2026"),
        "qbr": ("QBR executive summary", "2026-08 – 2026-10", "1 Aug 2026 – 31 Oct 2026"),
    }
    for kind, pdf in texts.items():
        title, period, days = titles[kind]
        body = squash(pdf.text)
        contains(body, f"{NAME} · {title} · Period {period}", footnote)
        contains(body, f"{NAME} · period {period} ({days}, America/Chicago) · generated "
                       f"{local(REPORTED_AT)}")  # fmt: skip


def event_hash(clinic: Clinic, sequence: int) -> str:
    """The hash of event #``sequence`` as the evidence log's API gives it."""
    path = f"evidence/?ordering=sequence&limit=1&offset={sequence - 1}"
    [event] = clinic.call(ENGINEER, "get", path)["results"]
    assert event["sequence"] == sequence
    return event["hash"]


def check_chain_heads(texts: dict[str, Pdf], clinic: Clinic) -> None:
    """Each PDF names the chain head it was generated at: an event of the client's log, later
    for each report generated after another (generating a report is itself recorded)."""
    heads = []
    for kind in ("monthly", "hipaa", "qbr"):
        found = re.search(
            r"Evidence chain head at generation: event #(\d+), SHA-256 ([0-9a-f]{64})",
            re.sub(r"\s+", " ", texts[kind].text),
        )
        assert found, kind
        sequence, digest = int(found.group(1)), found.group(2)
        assert event_hash(clinic, sequence) == digest
        heads.append(sequence)
    assert heads == sorted(set(heads))


def rollout_lines(findings: list[Expected]) -> list[str]:
    deployed = {ring: len(installs(ring)) for ring in RINGS}
    waves = " ".join(f"{RING_NAMES[r]}: passed, {deployed[r]} / 0" for r in RINGS)
    return [
        "1 rollout was under way in the period.",
        f"October cumulative updates Created {local(ROLLOUT_CREATED)} · {KB_WS}, {KB_SRV}",
        f"Completed {local(SOAK_OVER['production'])} {waves} Deployed Failed "
        f"{sum(deployed.values())} 0",
        f"Rollback {local(ROLLBACK)} by {ENGINEER}: {ROLLBACK_WHAT} — Succeeded, 1 device",
    ]


def ratio_row(label: str, r: Ratio) -> str:
    return f"{label} {r.compliant} {r.in_scope} {r.not_reporting} {pct(r.pct)}"


OS_LABELS = ("Windows", "macOS", "Linux")
TIERS = ("critical", "high", "medium", "low")


def check_monthly(pdf: Pdf, findings: list[Expected]) -> None:
    end, text = PERIOD_END, pdf.text
    headline = compliance(findings, end)
    assert (headline.compliant, headline.in_scope, headline.not_reporting) == (38, 40, 1)
    due = [f for f in findings if PERIOD_START <= f.due < end]
    on_time = [f for f in due if f.verified is not None and f.verified <= f.due]
    sla = Ratio(len(on_time), len(due), 0)
    attempted = sum(len(installs(r)) for r in RINGS)
    body = squash(text)
    contains(body, f"Point-in-time figures as of {as_of(end)}, the end of the period.")
    # The stat boxes: values first, then their labels.
    contains(
        body,
        f"{pct(headline.pct)} {headline.not_reporting} {pct(sla.pct)} 1 0.00 % "
        f"Compliance % ({headline.compliant} of {headline.in_scope} assets) Not reporting (no "
        f"patch list for 14 days) SLA attainment ({sla.compliant} of {sla.in_scope} due) Active "
        "exceptions Patch failure rate",
    )
    by_os = {os: compliance(findings, end, key=lambda f, o=os: f.os == o) for os in OS_LABELS}
    section = between(text, "Compliance by OS family", "Compliance by tier")
    contains(section, f"The headline {pct(headline.pct)} is never the only figure")
    contains(section, *(f"{os} {chart_value(r.pct)} %" for os, r in by_os.items()))
    pdf.rows(*(ratio_row(os, r) for os, r in by_os.items()))
    by_tier = {t: compliance(findings, end, tier=t) for t in TIERS}
    section = between(text, "Compliance by tier", "Compliance by asset class")
    contains(section, *(f"{t.title()} {chart_value(r.pct)} %" for t, r in by_tier.items()))
    pdf.rows(*(ratio_row(t.title(), r) for t, r in by_tier.items()))
    by_class = {
        c: compliance(findings, end, key=lambda f, k=c: f.asset_class == k)
        for c in ("Core server", "Workstation")
    }
    pdf.rows(*(ratio_row(c, r) for c, r in by_class.items()))
    assert by_class["Workstation"].pct == Decimal("94.12")

    section = between(text, "Assets not reporting", "SLA attainment")
    contains(section, f"1 asset in scope sent no patch or package list in the 14 days before "
                      f"{as_of(end)}")  # fmt: skip
    pdf.rows(f"{QUIET} Windows Workstation {local(last_report(QUIET, end))}")

    section = between(text, "SLA attainment", "Exceptions active with aging")
    contains(section, f"{sla.compliant} of {sla.in_scope} findings due in the period were "
                      f"verified by their due time: SLA attainment {pct(sla.pct)}.")  # fmt: skip
    for tier in ("critical", "high", "medium"):
        due_t = [f for f in due if f.tier == tier]
        ok_t = [f for f in on_time if f.tier == tier]
        pdf.rows(
            f"{tier.title()} {len(ok_t)} {len(due_t)} {pct(Ratio(len(ok_t), len(due_t), 0).pct)}"
        )

    section = between(text, "Exceptions active with aging", "Time to remediate")
    aging, left = (end - SIGNED).days, (EXPIRES - end).days
    contains(
        section,
        f"1 active exception covering 1 outstanding finding; the oldest began {aging} days ago "
        f"and the next hard expiry is in {left} days.",
        "PSA-2231 v1 Deferral Active lfc-ehr-db",
        "Extra monitoring: EDR alerts reviewed daily.",
        "Network segmentation: EHR database on VLAN 40, no internet access.",
        f"{OWNER} Aging (days) Days to expiry {aging} {left} Hard expiry {local(EXPIRES)}",
    )

    verified = [f for f in findings if f.verified and PERIOD_START <= f.verified < end]
    for tier in ("critical", "high", "medium"):
        spans = [f.verified - f.detected for f in verified if f.tier == tier]
        median, p90 = percentile(spans, 0.5), percentile(spans, 0.9)
        assert median == statistics.median(spans)
        pdf.rows(f"{tier.title()} {len(spans)} {span(median)} {span(p90)}")

    contains(squash(text), f"0 failed of {attempted} attempted deployments: failure rate 0.00 %.")
    pdf.rows(*(f"{RING_NAMES[r]} 0 {len(installs(r))} 0.00 %" for r in RINGS))

    section = between(text, "Rollouts", "Top remediated risks")
    in_order(section, *rollout_lines(findings))

    section = between(text, "Top remediated risks")
    top = sorted(verified, key=lambda f: (TIERS.index(f.tier), -f.risk, f.verified, f.host))[:10]
    assert [f.host for f in top] == WORKSTATIONS[:10]  # ePHI first, installed in that order
    contains(section, f"{len(verified)} findings verified as fixed in the period; the riskiest 10:")
    for f in top:
        ephi = " ePHI" if f.ephi else ""
        head = squash(f"{f.host}{ephi} {f.patch} {f.tier.title()} · KEV {f.risk}")
        tail = squash(f"{local(f.detected)} {local(f.verified)}")
        found = re.search(re.escape(head) + r"((?:CVE\d+,)*CVE\d+)" + re.escape(tail), section)
        assert found, f"top remediated row of {f.host}"
        assert set(found.group(1).split(",")) == {squash(c) for c in f.cves}
    rows = [section.index(squash(f"{f.host}{' ePHI' if f.ephi else ''}{f.patch}")) for f in top]
    assert rows == sorted(rows)


def check_hipaa(pdf: Pdf, findings: list[Expected], clinic: Clinic) -> None:
    end, text = PERIOD_END, pdf.text
    ephi = sorted(h for h in EPHI)
    outstanding = [f for f in findings if not (f.verified and f.verified <= end)]
    complete = [f for f in findings if f.deployed and f.verified]
    assert len(complete) == 30 and len(outstanding) == 2
    body = squash(text)
    contains(
        body,
        "kept patched during October 2026",
        f"Point-in-time artefacts are taken as of {as_of(end)}.",
        f"1. ePHI asset inventory {len(ephi)} ePHI systems of 40 managed assets in scope",
        f"2. Risk-based prioritization log {len(outstanding)} findings outstanding",
        f"3. Patch evidence chain {len(complete)} of {len(findings)} findings with detection",
        "4. Compensating controls register 1 signed exception in force during the period",
    )
    # The chain head and the events: the evidence log's own API says the same.
    head = re.search(r"log held (\d+) events; recomputing every hash confirmed the chain is "
                     r"intact\. Head event #(\d+) Head hash \(SHA-256\) ([0-9a-f]{64})",
                     re.sub(r"\s+", " ", text))  # fmt: skip
    assert head and head.group(1) == head.group(2)
    sequence, digest = int(head.group(2)), head.group(3)
    assert event_hash(clinic, sequence) == digest
    contains(body, f"Evidence log head: event #{sequence}, hash {digest}")

    section = between(text, "ePHI asset inventory 13 systems", "Risk-based prioritization log")
    contains(section, f"{len(ephi)} systems create, receive, store or transmit",
             f"Windows {len(ephi)}")  # fmt: skip
    for host in ephi:
        system = ("Microsoft Windows Server 2022 Standard 10.0.20348 Core server Server"
                  if host in SERVERS else
                  "Microsoft Windows 11 Enterprise 10.0.22631 Workstation Workstation")  # fmt: skip
        contains(section, f"{host} Windows · {system} {local(last_report(host, end))}")

    section = between(text, "Risk-based prioritization log Findings outstanding", "Patch evidence")
    contains(section, f"{len(outstanding)} findings outstanding.")
    first, second = sorted(outstanding, key=lambda f: f.excepted)  # uncovered work first

    def reason(f: Expected) -> str:
        context = "; ePHI system; core server; role server" if f.excepted else ""
        late = f"overdue by {span(end - f.due)}"
        return (
            f"tier critical (raised: {', '.join(f.kev)} in CISA KEV); CVSS {f.cvss}; "
            f"EPSS {f.epss:.4f}{context}; risk score {f.risk}; {late}"
        )

    until = f"excepted until {local(EXPIRES)}"
    in_order(
        section,
        f"1 {first.host} {first.patch} Critical {first.risk} {local(first.due)} {reason(first)}",
        f"2 {second.host} {second.patch} Critical {until} {second.risk} {local(second.due)} "
        f"{reason(second)}; {until}, ranked after uncovered work",
    )
    assert first.kev == ("CVE-2023-36025", "CVE-2023-36033", "CVE-2023-36036")

    section = between(text, "Patch evidence chain Detection", "Rollouts in the period")
    contains(section, f"{len(complete)} of {len(findings)} findings have a complete chain.")
    listing = clinic.call(ENGINEER, "get", "findings/?limit=100")["results"]
    ids = {(item["asset"]["hostname"], item["patch_identifier"]): item["id"] for item in listing}
    assert len(ids) == len(findings)
    for f in findings:
        chain = clinic.call(ENGINEER, "get", f"findings/{ids[(f.host, f.patch)]}/chain/")
        assert chain["complete"] is (f in complete)
        detected = f"{local(FIRST_REPORT)} #{chain['detection']['sequence']}"
        if f.deployed:
            [attempt] = chain["deployments"]
            deployed = f"{local(f.deployed)} #{attempt['event']['sequence']}"
            verified = f"{local(f.verified)} #{chain['verification']['sequence']}"
        elif f.host == ROLLED_BACK:  # deployed, rolled back, open again: no verification
            [attempt] = chain["deployments"]
            deployed = f"{local(INSTALLED[f.host])} #{attempt['event']['sequence']}"
            verified = "—"
        else:
            deployed = "—"
            verified = (
                f"{local(f.verified)} #{chain['verification']['sequence']}" if f.verified else "—"
            )
        contains(section, f"{f.host} {f.patch} {f.tier.title()} {detected} {deployed} {verified}")

    section = between(text, "Rollouts in the period", "Compensating controls register")
    in_order(section, *rollout_lines(findings))

    section = between(text, "Compensating controls register 1 exception")
    contains(
        section,
        f"1 exception in force during the period (1 still active at {as_of(end)}).",
        "PSA-2231 · Deferral · version 1 · Active",
        "Reason The EHR vendor certifies the November update on its database server first.",
        "Scope Assets: lfc-ehr-db",
        f"PSA ticket PSA-2231 Requested by {ENGINEER} Approver {OWNER}",
        f"Signed at {local(SIGNED, '%Y-%m-%d %H:%M:%S')} by {OWNER}",
        f"Signed text SHA-256 {clinic.signed_sha256}",
        f"In force {local(SIGNED)} → hard expiry {local(EXPIRES)}; {(EXPIRES - SIGNED).days} days",
    )


def check_qbr(pdf: Pdf, findings: list[Expected]) -> None:
    end, text = PERIOD_END, pdf.text
    score = compliance(findings, end)
    due = [f for f in findings if QUARTER_START <= f.due < end]
    on_time = [f for f in due if f.verified is not None and f.verified <= f.due]
    sla = Ratio(len(on_time), len(due), 0)
    verified = [f for f in findings if f.verified and QUARTER_START <= f.verified < end]
    open_critical = [f for f in findings if f.tier == "critical" and f.verified is None]
    # The weekly trend: the end of each week (Monday 00:00 local) with assets, then the end.
    weeks = [at(5, 5) + timedelta(weeks=n) for n in range(4)]
    points = [(t, compliance(findings, t)) for t in [*weeks, end]]
    assert [p.pct for _, p in points] == [100, 100, Decimal("97.50"), 95, 95]
    first = points[0]
    change = score.pct - first[1].pct
    body = squash(text)
    contains(body, "This summary covers August – October 2026; its figures are taken as of "
                   f"{as_of(end)}, the end of the quarter.")  # fmt: skip
    contains(
        body,
        f"{pct(score.pct)} {score.not_reporting} {pct(sla.pct)} {len(verified)} 1 "
        f"Compliance score ({score.compliant} of {score.in_scope} systems) Systems not reporting "
        "Patches on time this quarter Fixes verified this quarter Approved exceptions",
    )
    for os in OS_LABELS:
        pdf.rows(ratio_row(os, compliance(findings, end, key=lambda f, o=os: f.os == o)))
    first_day = (first[0] - timedelta(microseconds=1)).astimezone(CHICAGO)
    contains(
        body,
        f"At the end of the quarter, {score.compliant} of your {score.in_scope} managed systems "
        f"reported their updates and had every security update installed within the agreed "
        f"time: a compliance score of {pct(score.pct)}. That is down {-change:.2f} points from "
        f"{pct(first[1].pct)} on {first_day.day} {first_day:%B}. 1 system sent no update list "
        f"for 14 days; until it reports again we cannot vouch for it, so it counts against the "
        f"score. {sla.compliant} of the {sla.in_scope} updates that fell due this quarter were "
        f"installed and confirmed on time ({pct(sla.pct)}). {len(open_critical)} critical "
        "updates are still open and being worked first.",
    )
    section = between(text, "Compliance score and its trend", "The score is the share")
    day = [(t - timedelta(microseconds=1)).astimezone(CHICAGO) for t, _ in points]
    contains(section, *(f"{d:%d %b}" for d in day))
    in_order(section, *(f"{chart_value(p.pct)} %" for _, p in points))
    for tier in TIERS:
        r = compliance(findings, end, tier=tier)
        pdf.rows(f"{tier.title()} {r.compliant} {r.in_scope} {pct(r.pct)}")
    section = between(text, "Systems not reporting 1 asset", "Top risks reduced")
    contains(section, f"1 asset in scope sent no patch or package list in the 14 days before "
                      f"{as_of(end)}")  # fmt: skip
    pdf.rows(f"{QUIET} Windows Workstation {local(last_report(QUIET, end))}")

    section = between(text, "Top risks reduced this quarter", "Update rollouts this quarter")
    critical = [f for f in verified if f.tier == "critical"]
    in_order(
        section,
        f"{len(critical)} critical Windows updates closed on {len(critical)} systems "
        f"({sum(f.ephi for f in critical)} of them ePHI systems); {len(critical)} fixed a flaw "
        "attackers are known to exploit (CISA KEV).",
        "4 high macOS updates closed on 4 systems.",
        "4 medium Linux updates closed on 4 systems.",
    )
    for tier in ("critical", "high", "medium"):
        spans = [f.verified - f.detected for f in verified if f.tier == tier]
        pdf.rows(f"{tier.title()} {len(spans)} {span(percentile(spans, 0.5))} "
                 f"{span(percentile(spans, 0.9))}")  # fmt: skip

    section = between(text, "Update rollouts this quarter", "Approved exceptions and their")
    in_order(section, *rollout_lines(findings))
    section = between(text, "Approved exceptions and their expiry dates")
    contains(
        section,
        "PSA-2231 lfc-ehr-db",
        "Extra monitoring",
        "Network segmentation",
        f"Days active {(end - SIGNED).days}",
        f"Expires 30 November 2026 18:00 CST ({(EXPIRES - end).days} days left)",
    )
