"""Tier and risk score (findings.risk) and version comparison (findings.versions)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from findings.risk import RiskInput, explain, is_kev, risk_score, tier_for
from findings.versions import compare, is_at_least


@pytest.mark.parametrize(
    ("severity", "kev", "expected"),
    [
        ("low", ["CVE-2023-36033"], "critical"),  # KEV raises any tier to critical
        ("high", [], "high"),
        ("Important", [], "high"),  # Microsoft's word
        ("moderate", [], "medium"),
        ("", [], "unknown"),
        ("bogus", [], "unknown"),
    ],
)
def test_tier_from_vendor_severity_raised_by_kev(severity, kev, expected):
    assert tier_for(severity, kev) == expected


def base(**kw) -> RiskInput:
    values = {"cvss": None, "epss": None, "is_kev": False, "is_ephi": False,
              "asset_class_key": "workstation", "role": "workstation"}  # fmt: skip
    return RiskInput(**(values | kw))


def test_risk_score_formula():
    # 5 × 9.8 + 25 × 0.9 + 10 (ePHI) + 5 (core server) + 5 (server) + 5 (KEV)
    # = 49 + 22.5 + 10 + 5 + 5 + 5 = 96.5
    r = base(cvss=Decimal("9.8"), epss=Decimal("0.9"), is_kev=True, is_ephi=True,
             asset_class_key="core_server", role="server")  # fmt: skip
    assert risk_score(r) == Decimal("96.50")
    assert risk_score(base()) == Decimal("0.00")
    assert risk_score(base(cvss=Decimal("7.5"))) < risk_score(
        base(cvss=Decimal("7.5"), is_ephi=True)
    )


def test_explain_names_the_reasons():
    text = explain(base(cvss=Decimal("9.8"), is_ephi=True), tier="critical", kev_cves=["CVE-1"])
    assert "CVE-1 in CISA KEV" in text and "CVSS 9.8" in text and "ePHI system" in text


@pytest.mark.django_db
def test_is_kev_is_empty_without_catalogue_entries():
    assert is_kev(["CVE-2099-0001"]) == set()


@pytest.mark.parametrize(
    ("a", "b", "kind", "expected"),
    [
        ("1:1.0", "2.0", "deb", 1),  # epoch wins
        ("2.0~rc1", "2.0", "deb", -1),  # tilde sorts before release
        ("3.0.2-0ubuntu1.10", "3.0.2-0ubuntu1.9", "deb", 1),
        ("1.2-3.el8", "1.10-1.el8", "rpm", -1),
        ("1:1.0-1", "2.0-1", "rpm", 1),
        ("10.0.19041.3693", "10.0.19041.3570", "program", 1),
        ("23.01", "23.01", "program", 0),
    ],
)
def test_version_comparison_per_ecosystem(a, b, kind, expected):
    assert compare(a, b, kind=kind) == expected


def test_unparseable_version_is_never_at_least():
    assert is_at_least("", "1.0", kind="deb") is False
