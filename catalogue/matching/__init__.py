"""Matching primitives for findings: which catalogue fixes a host is missing, and the inputs of
its tier and risk score.

Windows hosts are matched through MSRC's own product names and FixedBuild values, never through
NVD CPE ranges. NVD's configurations for Windows 11 23H2 carry ``versionEndExcluding
10.0.22621.2715`` (the 22H2 build prefix) while MSRC gives ``FixedBuild 10.0.22631.2715``: a
matcher comparing a 23H2 host's build 22631.x to the NVD bound would call it fixed. Here the host
is mapped to the MSRC product ("Windows 11 Version 23H2 for x64-based Systems"), and a build is
only compared with a FixedBuild of the same major build number (22631 with 22631).

One module per kind of host or program: ``windows`` (MSRC products and cumulative updates),
``packages`` (Linux releases' advisories), ``programs`` (NVD CPE ranges), ``tiers`` (tier and risk
inputs), ``base`` (the shared result). Callers import from ``catalogue.matching``.
"""

from .base import MatchResult
from .packages import missing_package_fixes, release_filter
from .programs import ApplicationMatch, missing_application_fixes, verified_application_fixes
from .tiers import cve_signals, order_by_epss, severity_tier
from .windows import (
    is_cumulative,
    missing_windows_fixes,
    newness,
    satisfied_windows_kbs,
    update_line,
    windows_fixes_for,
    windows_product_for,
)

__all__ = [
    "MatchResult",
    "windows_product_for",
    "missing_windows_fixes",
    "windows_fixes_for",
    "satisfied_windows_kbs",
    "update_line",
    "is_cumulative",
    "newness",
    "missing_package_fixes",
    "severity_tier",
    "cve_signals",
    "order_by_epss",
    "ApplicationMatch",
    "missing_application_fixes",
    "verified_application_fixes",
    "release_filter",
]
