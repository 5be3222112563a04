"""The compliance engine against a client built through its producers (agent reports through
ingest, a scan and an adoption, a deferral signed in the register), whose figures are worked out
by hand from the script below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from common.choices import OsFamily
from compliance.engine import compliance_at, compute, not_reporting_assets, run_raw_compliance
from exceptions_register.choices import ExceptionKind
from findings.choices import SeverityTier
from findings.models import Finding
from tests.exceptions_register.factories import make_active
from tests.producers import Device, adopt, push, scan

T = datetime(2026, 5, 20, 15, 0, tzinfo=UTC)
D = timedelta(days=1)
H = timedelta(hours=1)


def pct(value):
    return Decimal(value).quantize(Decimal("0.01"))


@pytest.fixture
def fixture_client(in_tenant_a, personas):
    """Default SLA windows: workstation critical 48 h, high 7 d, low 30 d; core server critical
    24 h, medium 14 d; do-not-disrupt critical 72 h, high 7 d. Staleness window 14 days.

    w1   Windows workstation   high detected T-9d → due T-2d, open: overdue
    w2   Windows workstation   critical T-3d → T-1d, open: overdue, excepted (deferral
                               signed T-5d… named finding; hard expiry T+3d)
    w3   Windows core server   critical T-14h → T+10h: not due yet
    l1   Linux core server     medium T-17d → T-3d, open: overdue (reports again T-1d)
    l2   Linux do-not-disrupt  critical T-12d → T-9d verified T-11d; high T-25d → T-18d
                               verified T-15d (reports again T-1d)
    m1   macOS workstation     low T-35d → T-5d, verified T+1h (reports again T-2d)
    s1   Windows workstation   critical T-20d → T-18d; last report T-20d: not reporting
    a printer found on a scan and adopted: no patch source, outside patch scope
    """
    w1, w2 = Device("w1"), Device("w2")
    w3 = Device("w3", os="windows_server")
    l1 = Device("l1", os="ubuntu", packages={"openssl": "3.0.2-0ubuntu1.15"})
    l2 = Device(
        "l2", os="ubuntu", asset_class="do_not_disrupt",
        packages={"sudo": "1.9.9-1ubuntu2.3", "curl": "7.81.0-1ubuntu1.15"},
    )  # fmt: skip
    m1 = Device("m1", os="macos", packages={"Zoom": "5.17.0"})
    s1 = Device("s1")
    script = [
        (T - 35 * D, lambda: push(m1.missing_package("Zoom", "6.0.2", severity="low",
                                                     source="other"))),
        (T - 25 * D, lambda: push(l2.missing_package("curl", "7.81.0-1ubuntu1.16",
                                                     severity="high"))),
        (T - 20 * D, lambda: push(s1.missing_kb("KB5001001", severity="critical"))),
        (T - 17 * D, lambda: push(l1.missing_package("openssl", "3.0.2-0ubuntu1.16"))),
        (T - 15 * D, lambda: push(l2.upgrade("curl", "7.81.0-1ubuntu1.16"))),
        (T - 12 * D, lambda: push(l2.missing_package("sudo", "1.9.9-1ubuntu2.4",
                                                     severity="critical"))),
        (T - 11 * D, lambda: push(l2.upgrade("sudo", "1.9.9-1ubuntu2.4"))),
        (T - 9 * D, lambda: push(w1.missing_kb("KB5002001", severity="high"))),
        (T - 8 * D, lambda: scan([{"status": "up", "ip": "10.1.9.20", "mac": "AA:BB:CC:01:09:20",
                                   "hostnames": ["printer-1"]}])),
        (T - 7 * D, lambda: adopt("10.1.9.20", actor=personas.engineer, hostname="printer-1")),
        (T - 3 * D, lambda: push(w2.missing_kb("KB5002002", severity="critical"))),
        (T - 2 * D, lambda: push(m1)),
        (T - D, lambda: push([l1, l2])),
        (T - 14 * H, lambda: push(w3.missing_kb("KB5002003", severity="critical"))),
    ]  # fmt: skip
    for moment, action in script:
        with time_machine.travel(moment, tick=False):
            action()
    w2_finding = Finding.objects.get(asset__hostname="w2")
    with time_machine.travel(T - 5 * D, tick=False):
        exception = make_active(
            client=in_tenant_a,
            approver=personas.owner_a,
            actor=personas.engineer,
            assets=[],
            findings=[w2_finding],
            expires_at=T + 3 * D,
        )
    with time_machine.travel(T + H, tick=False):
        push(m1.upgrade("Zoom", "6.0.2"))  # verified one hour *after* T
    return exception


@pytest.mark.django_db
def test_compliance_by_client_os_class_and_tier_match_hand_figures(fixture_client):
    c = compliance_at(T)
    # In scope: w1 w2 w3 l1 l2 m1 s1 = 7 (the printer never reported a patch list).
    # Compliant: w2 (its overdue critical is excepted), w3 (not due yet), l2 (both verified).
    # Against: w1, l1, m1 (overdue at T: verified only after T), s1 (not reporting).
    assert (c.client.numerator, c.client.denominator, c.client.pct) == (3, 7, pct("42.86"))
    assert c.not_reporting == 1 and c.outside_patch_scope == 1
    # Windows: w1 w2 w3 s1 → w2 w3 = 2/4; Linux: l1 l2 → l2 = 1/2; macOS: 0/1
    win = c.by_os_family[OsFamily.WINDOWS]
    assert (win.numerator, win.denominator, win.not_reporting) == (2, 4, 1)
    assert c.by_os_family[OsFamily.LINUX].pct == pct("50.00")
    assert c.by_os_family[OsFamily.MACOS].pct == pct("0.00")
    # Workstation: w1 w2 m1 s1 → w2 = 1/4; core server: w3 l1 → 1/2; do-not-disrupt: 1/1
    assert c.by_asset_class["workstation"].pct == pct("25.00")
    assert c.by_asset_class["core_server"].pct == pct("50.00")
    assert c.by_asset_class["do_not_disrupt"].pct == pct("100.00")
    # By tier the denominator is every in-scope asset (7) and the silent s1 never counts:
    # critical none bad among the reporting → 6/7; high w1 → 5/7; medium l1 → 5/7; low m1 → 5/7
    assert c.by_tier[SeverityTier.CRITICAL].numerator == 6
    assert c.by_tier[SeverityTier.HIGH].pct == pct("71.43")
    assert c.by_tier[SeverityTier.MEDIUM].pct == pct("71.43")
    assert c.by_tier[SeverityTier.LOW].pct == pct("71.43")
    # The raw single-statement reference agrees on the client figure (it ignores exceptions,
    # so w2 counts against it there: 2 / 7).
    assert run_raw_compliance(T) == (2, 7)


@pytest.mark.django_db
def test_not_reporting_list_names_the_silent_asset_and_its_last_report(fixture_client):
    silent = list(not_reporting_assets(T))
    assert [a.hostname for a in silent] == ["s1"]
    assert silent[0].last_report_at == T - 20 * D
    # Reporting again brings it back; a past instant is still recomputed exactly.
    s1 = Device("s1").missing_kb("KB5001001", severity="critical")
    with time_machine.travel(T + 2 * H, tick=False):
        push(s1)
    assert [a.hostname for a in not_reporting_assets(T)] == ["s1"]
    assert list(not_reporting_assets(T + 3 * H)) == []


@pytest.mark.django_db
def test_sla_attainment_ttr_and_exceptions_match_hand_figures(fixture_client, tenant_a):
    figures = compute(client=tenant_a, at=T, period_days=30)
    # Due in [T-30d, T): w1, w2, l1, l2 critical (T-9d), l2 high (T-18d), m1 (T-5d), s1
    # (T-18d) = 7 (w3 due after T). Verified by its due time: only l2's critical.
    assert (figures.sla_attainment.numerator, figures.sla_attainment.denominator) == (1, 7)
    assert figures.sla_attainment.pct == pct("14.29")
    # Verified in the period: l2's critical took 24 h, l2's high 10 d = 240 h.
    assert figures.time_to_remediate[SeverityTier.CRITICAL]["median"] == timedelta(hours=24)
    assert figures.time_to_remediate[SeverityTier.HIGH]["median"] == timedelta(hours=240)
    # One active deferral started 5 days ago, expiring in 3 days, covering one finding.
    ex = figures.exceptions
    assert (ex.active, ex.covered_findings, ex.max_aging_days, ex.min_days_left) == (1, 1, 5, 3)
    assert (figures.deployments_failed, figures.deployments_attempted) == (0, 0)
    assert figures.patch_failure_rate is None
    # Outstanding on in-scope assets at T: w1 w2 w3 l1 m1 s1 = 6; critical w2 w3 s1 = 3;
    # overdue w1 w2 l1 m1 s1 = 5
    assert (figures.open_findings, figures.open_critical, figures.overdue_findings) == (6, 3, 5)
    body = figures.as_dict()
    assert body["compliance"] == {"compliant": 3, "in_scope": 7, "pct": 42.86, "not_reporting": 1}
    assert body["outside_patch_scope"] == 1 and body["staleness_window_days"] == 14


@pytest.mark.django_db
def test_excepted_finding_stops_being_excepted_exactly_at_expiry(fixture_client):
    expiry = fixture_client.expires_at
    just_before = compliance_at(expiry - timedelta(microseconds=1))
    at_expiry = compliance_at(expiry)
    # At T+3d: w3's critical (due T+10h) is overdue too, m1 was verified at T+1h.
    # Just before expiry: against w1 w3 l1 (overdue), s1 (silent) → 3 of 7; critical: w3 → 5.
    # At the expiry instant w2's deferral no longer covers it: 2 of 7; critical: w2 w3 → 4.
    assert just_before.client.numerator == 3
    assert just_before.by_tier[SeverityTier.CRITICAL].numerator == 5
    assert at_expiry.client.numerator == 2
    assert at_expiry.by_tier[SeverityTier.CRITICAL].numerator == 4


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [ExceptionKind.DEFERRAL, ExceptionKind.ISOLATED_LANE])
def test_engine_exception_rule_matches_the_register_hook(in_tenant_a, personas, kind):
    from compliance.engine import outstanding_at
    from exceptions_register.selectors import covered_findings_at, excepted_q

    lane = Device("mri-console", asset_class="do_not_disrupt").missing_kb("KB5003001")
    named = Device("ws-named").missing_kb("KB5003002")
    other = Device("ws-other").missing_kb("KB5003003")
    with time_machine.travel(T - 9 * D, tick=False):
        push([lane, named, other])  # high: due T-2d on all three
    with time_machine.travel(T - D, tick=False):
        push([lane, named, other])
        make_active(
            client=in_tenant_a,
            approver=personas.owner_a,
            kind=kind,
            assets=[lane.asset],
            findings=[Finding.objects.get(asset__hostname="ws-named")],
            expires_at=T + D,
        )
    on_lane = Finding.objects.get(asset__hostname="mri-console")
    named_finding = Finding.objects.get(asset__hostname="ws-named")
    engine = set(outstanding_at(T).filter(excepted_q(T)).values_list("pk", flat=True))
    hook = set(covered_findings_at(T).values_list("pk", flat=True))
    assert engine == hook == {on_lane.pk, named_finding.pk}
    assert compliance_at(T).client.numerator == 2  # 3 assets, only the uncovered one is overdue


@pytest.mark.django_db
def test_a_computer_known_only_from_a_csv_inventory_counts_against_compliance(
    in_tenant_a, tmp_path
):
    """No silent compliance: a laptop an operator imported from a spreadsheet, whose agent
    never sent a patch list, is not reporting (in the denominator, never compliant); a switch
    from the same file is outside patch scope."""
    from django.core.management import call_command

    sheet = tmp_path / "assets.csv"
    sheet.write_text(
        "hostname,os_family,os_name,role,serial\n"
        "lap-07,windows,Microsoft Windows 11 Pro,workstation,SN-7\n"
        "core-sw-1,other,,network,SN-8\n",
        encoding="utf-8",
    )
    push(Device("w-ok"))  # a reporting Windows device with nothing missing
    call_command("ingest", in_tenant_a.slug, str(sheet), "--format", "csv", verbosity=0)
    at = datetime.now(UTC)
    c = compliance_at(at)
    assert (c.client.numerator, c.client.denominator) == (1, 2)
    assert c.not_reporting == 1 and c.outside_patch_scope == 1
    assert [a.hostname for a in not_reporting_assets(at)] == ["lap-07"]
    win = c.by_os_family[OsFamily.WINDOWS]
    assert (win.numerator, win.denominator, win.not_reporting) == (1, 2, 1)
