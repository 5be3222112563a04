"""The compliance engine against a hand-built client whose figures are worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from exceptions_register.choices import ExceptionKind, ExceptionState
from exceptions_register.models import RiskException
from inventory.choices import OsFamily
from patchops.choices import FindingState, SeverityTier
from patchops.compliance import compliance_at, compute, run_raw_compliance
from tenants.models import User
from tests.inventory.factories import AssetFactory
from tests.patchops.factories import FindingFactory

T = datetime(2026, 5, 20, 15, 0, tzinfo=UTC)
D = timedelta(days=1)
H = timedelta(hours=1)


def finding(asset, tier, *, detected, due, verified=None):
    extra = {"state": FindingState.VERIFIED, "verified_at": verified} if verified else {}
    return FindingFactory(asset=asset, tier=tier, detected_at=detected, due_at=due, **extra)


@pytest.fixture
def fixture_client(in_tenant_a):
    w1 = AssetFactory(hostname="w1")  # Windows workstation
    w2 = AssetFactory(hostname="w2")  # Windows workstation
    w3 = AssetFactory(hostname="w3", core_server=True)  # Windows core server
    l1 = AssetFactory(hostname="l1", linux=True, core_server=True)
    l2 = AssetFactory(hostname="l2", linux=True, do_not_disrupt=True)
    m1 = AssetFactory(hostname="m1", macos=True)  # macOS workstation
    u1 = AssetFactory(hostname="u1", unknown=True)  # unmanaged: out of scope
    s1 = AssetFactory(hostname="s1", is_stale=True)  # stale: out of scope

    finding(w1, SeverityTier.HIGH, detected=T - 9 * D, due=T - 2 * D)  # overdue
    w2f = finding(w2, SeverityTier.CRITICAL, detected=T - 3 * D, due=T - D)  # overdue, excepted
    finding(w3, SeverityTier.CRITICAL, detected=T - 14 * H, due=T + 10 * H)  # not due yet
    finding(l1, SeverityTier.MEDIUM, detected=T - 17 * D, due=T - 3 * D)  # overdue
    finding(l2, SeverityTier.LOW, detected=T - 12 * D, due=T - 10 * D, verified=T - 11 * D)
    finding(l2, SeverityTier.LOW, detected=T - 25 * D, due=T - 20 * D, verified=T - 15 * D)
    # verified one hour *after* T: at T it was still outstanding and overdue
    finding(m1, SeverityTier.LOW, detected=T - 35 * D, due=T - 5 * D, verified=T + H)
    finding(u1, SeverityTier.CRITICAL, detected=T - 4 * D, due=T - 2 * D)
    finding(s1, SeverityTier.CRITICAL, detected=T - 4 * D, due=T - 2 * D)

    exc = RiskException.objects.create(
        kind=ExceptionKind.DEFERRAL,
        state=ExceptionState.PENDING_SIGNOFF,  # scope is frozen once signed: link, then sign
        reason="Vendor certification pending",
        ticket_reference="PSA-1001",
        approver=User.objects.get(email="owner@a.test"),
        created_at=T - 6 * D,
        starts_at=T - 5 * D,
        expires_at=T + 3 * D,
    )
    exc.findings.add(w2f)
    RiskException.objects.filter(pk=exc.pk).update(state=ExceptionState.ACTIVE)
    exc.refresh_from_db()
    return exc


def pct(value):
    return Decimal(value).quantize(Decimal("0.01"))


@pytest.mark.django_db
def test_compliance_by_client_os_class_and_tier_match_hand_figures(fixture_client):
    c = compliance_at(T)
    # In scope: w1 w2 w3 l1 l2 m1 = 6 (u1 unmanaged, s1 stale are out).
    # Non-compliant: w1 (overdue high), l1 (overdue medium), m1 (overdue low, verified after T).
    # w2's overdue critical is excepted; w3's critical is not due yet; l2's are verified.
    # Client: 3 / 6 = 50.00 %
    assert (c.client.numerator, c.client.denominator, c.client.pct) == (3, 6, pct("50.00"))
    # Windows: w1 w2 w3 → w2 w3 = 2/3 = 66.67; Linux: l1 l2 → l2 = 1/2 = 50; macOS: 0/1 = 0
    assert c.by_os_family[OsFamily.WINDOWS].pct == pct("66.67")
    assert c.by_os_family[OsFamily.LINUX].pct == pct("50.00")
    assert c.by_os_family[OsFamily.MACOS].pct == pct("0.00")
    # Workstation: w1 w2 m1 → w2 = 1/3 = 33.33; core server: w3 l1 → 1/2; do-not-disrupt: 1/1
    assert c.by_asset_class["workstation"].pct == pct("33.33")
    assert c.by_asset_class["core_server"].pct == pct("50.00")
    assert c.by_asset_class["do_not_disrupt"].pct == pct("100.00")
    # By tier (denominator every in-scope asset = 6): critical none bad → 6/6;
    # high w1 → 5/6 = 83.33; medium l1 → 5/6; low m1 → 5/6
    assert c.by_tier[SeverityTier.CRITICAL].pct == pct("100.00")
    assert c.by_tier[SeverityTier.HIGH].pct == pct("83.33")
    assert c.by_tier[SeverityTier.MEDIUM].pct == pct("83.33")
    assert c.by_tier[SeverityTier.LOW].pct == pct("83.33")
    # The raw single-statement reference agrees on the client figure (it ignores exceptions,
    # so w2 counts against it there: 2 / 6).
    assert run_raw_compliance(T) == (2, 6)


@pytest.mark.django_db
def test_sla_attainment_ttr_and_exceptions_match_hand_figures(fixture_client, tenant_a):
    figures = compute(client=tenant_a, at=T, period_days=30)
    # Due in [T-30d, T): w1, w2, l1, l2a, l2b, m1, u1, s1 = 8 (w3 due after T).
    # Verified by due time: only l2a (verified T-11d, due T-10d). l2b verified T-15d > due T-20d,
    # m1 verified after its due. 1 / 8 = 12.50 %
    assert (figures.sla_attainment.numerator, figures.sla_attainment.denominator) == (1, 8)
    assert figures.sla_attainment.pct == pct("12.50")
    # Verified in the period: l2a took 24 h, l2b took 10 d = 240 h (both low).
    # median = (24 + 240) / 2 = 132 h; p90 = 24 + 0.9 × (240 − 24) = 218.4 h
    low = figures.time_to_remediate[SeverityTier.LOW]
    assert low["count"] == 2
    assert low["median"] == timedelta(hours=132)
    assert low["p90"] == timedelta(hours=218.4)
    # One active deferral started 5 days ago, expiring in 3 days, covering one finding.
    ex = figures.exceptions
    assert (ex.active, ex.covered_findings, ex.max_aging_days, ex.min_days_left) == (1, 1, 5, 3)
    # No deployment results and no PSA tickets yet.
    assert (figures.deployments_failed, figures.deployments_attempted) == (0, 0)
    assert figures.patch_failure_rate is None
    # Outstanding on in-scope assets at T: w1 w2 w3 l1 m1 = 5; critical: w2 w3 = 2;
    # overdue: w1 w2 l1 m1 = 4
    assert (figures.open_findings, figures.open_critical, figures.overdue_findings) == (5, 2, 4)


@pytest.mark.django_db
def test_excepted_finding_stops_being_excepted_exactly_at_expiry(fixture_client):
    expiry = fixture_client.expires_at
    just_before = compliance_at(expiry - timedelta(microseconds=1))
    at_expiry = compliance_at(expiry)
    # At T+3d: w3's critical (due T+10h) is overdue too, m1 was verified at T+1h.
    # Just before expiry: bad w1 w3 l1 → 3 / 6; critical: bad w3 → 5 / 6.
    # At the expiry instant w2's deferral no longer covers it: bad w1 w2 w3 l1 → 2 / 6;
    # critical: bad w2 w3 → 4 / 6.
    assert just_before.client.numerator == 3
    assert just_before.by_tier[SeverityTier.CRITICAL].numerator == 5
    assert at_expiry.client.numerator == 2
    assert at_expiry.by_tier[SeverityTier.CRITICAL].numerator == 4


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [ExceptionKind.DEFERRAL, ExceptionKind.ISOLATED_LANE])
def test_engine_exception_rule_matches_the_register_hook(in_tenant_a, kind):
    from exceptions_register.selectors import covered_findings_at
    from patchops.compliance import excepted_q, outstanding_at

    lane_asset = AssetFactory(hostname="mri-console", do_not_disrupt=True)
    on_lane = finding(lane_asset, SeverityTier.HIGH, detected=T - 9 * D, due=T - 2 * D)
    named = finding(AssetFactory(), SeverityTier.HIGH, detected=T - 9 * D, due=T - 2 * D)
    finding(AssetFactory(), SeverityTier.HIGH, detected=T - 9 * D, due=T - 2 * D)  # uncovered
    exc = RiskException.objects.create(
        kind=kind, state=ExceptionState.PENDING_SIGNOFF, reason="Vendor-locked device",
        ticket_reference="PSA-2002", approver=User.objects.get(email="owner@a.test"),
        created_at=T - 2 * D, starts_at=T - D, expires_at=T + D,
    )  # fmt: skip
    exc.assets.add(lane_asset)
    exc.findings.add(named)
    RiskException.objects.filter(pk=exc.pk).update(state=ExceptionState.ACTIVE)
    engine = set(outstanding_at(T).filter(excepted_q(T)).values_list("pk", flat=True))
    hook = set(covered_findings_at(T).values_list("pk", flat=True))
    assert engine == hook == {on_lane.pk, named.pk}
    assert compliance_at(T).client.numerator == 2  # 3 assets, only the uncovered one is overdue
