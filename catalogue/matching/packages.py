"""Linux packages against their release's advisories (Ubuntu with Pro/ESM, Debian, Alpine, the
RHEL family with Red Hat's for rebuilds)."""

from __future__ import annotations

import re

from django.db.models import Q

from catalogue.importers.debian import release_number
from catalogue.importers.osv import release_of
from catalogue.matching.base import MatchResult, log
from catalogue.matching.tiers import order_by_epss
from catalogue.models import AdvisoryFix
from catalogue.versions import InvalidVersion, fixed_version_for, is_affected, normalise_ecosystem

_ARCH = re.compile(r":(amd64|i386|arm64|armhf|armel|all|ppc64el|s390x|x86_64|noarch|aarch64)$")


_RPM_UPSTREAM = {"almalinux", "rocky", "centos", "oracle"}  # rebuilds of Red Hat Enterprise Linux


def release_filter(ecosystem: str) -> list[str] | None:
    """The ``AdvisoryFix.release`` values that apply to a host of ``ecosystem``, or None for an
    ecosystem without releases (every fix applies).

    Ubuntu: the release and its Ubuntu Pro / ESM fixes (``16.04`` and ``pro/16.04``: past
    standard support, 14.04, 16.04 and 18.04 get their fixes only through ESM). Debian: the
    release number (a codename is translated). RHEL family: the distribution's own advisories
    and, for rebuilds (AlmaLinux, Rocky, CentOS, Oracle Linux), Red Hat's. Alpine: ``3.18``.
    """
    parts = [p for p in ecosystem.split(":")[1:] if p]
    if not parts:
        return None

    family = normalise_ecosystem(ecosystem)
    release = release_of(ecosystem)
    if family == "debian":
        return [release_number(release)]
    if family == "ubuntu" and release and "/" not in release:
        return [release, f"pro/{release}"]
    if family == "rpm" and ":" in release:
        distro, major = release.split(":", 1)
        return [release, f"rhel:{major}"] if distro in _RPM_UPSTREAM else [release]
    return [release]


def missing_package_fixes(ecosystem: str, packages: list[tuple[str, str]]) -> list[MatchResult]:
    """Fixes whose OSV ranges (or fixed version) still contain an installed package version.

    ``ecosystem`` is an OSV ecosystem: ``Ubuntu:22.04:LTS``, ``Debian:12`` (or ``Debian:bookworm``),
    ``Ubuntu:Pro:16.04:LTS``, ``Rocky Linux:9``, ``Alpine:v3.18``, ``Maven``, ``PyPI``, ``npm``…;
    ``release_filter`` says which releases' fixes apply; withdrawn records never match.
    Package names may carry a dpkg/rpm arch suffix (``libssl3:amd64``); Ubuntu binary package
    names match through the advisory's binaries list. Versions that do not parse are skipped.
    """
    eco = normalise_ecosystem(ecosystem)
    releases = release_filter(ecosystem)
    installed: dict[str, str] = {}
    for name, version in packages:
        installed[_ARCH.sub("", name.strip())] = version
    if not installed:
        return []
    names = list(installed)
    qs = AdvisoryFix.objects.filter(ecosystem=eco, advisory__withdrawn_at__isnull=True).filter(
        Q(package_name__in=names) | Q(binaries__overlap=names)
    )
    if releases is not None:
        qs = qs.filter(release__in=releases)
    results: list[MatchResult] = []
    seen: set[tuple[int, str]] = set()
    for fix in qs.select_related("advisory").order_by("advisory__identifier", "package_name"):
        for name in [fix.package_name, *fix.binaries]:
            if name not in installed or (fix.advisory_id, name) in seen:
                continue
            version = installed[name]
            try:
                if not is_affected(
                    eco, version, fixed=fix.fixed_version, ranges=fix.affected_ranges
                ):
                    continue
                fixed = fixed_version_for(eco, version, fix.affected_ranges) or fix.fixed_version
            except InvalidVersion as exc:
                log.info("skipping %s %s: %s", name, version, exc)
                continue
            seen.add((fix.advisory_id, name))
            results.append(
                MatchResult(
                    advisory=fix.advisory,
                    fix=fix,
                    cves=order_by_epss(fix.cves or fix.advisory.cves),
                    fixed_version=fixed,
                    reboot_required=bool(fix.reboot_required),
                    exploited_cves=list(fix.exploited_cves),
                    package_name=name,
                    installed_version=version,
                )
            )
    return results
