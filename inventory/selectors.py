"""Read side of the inventory: default-deny querysets and the scope-validation figures.

Call inside the client's schema. Every ``visible_*`` selector returns nothing unless the
principal may view the client; pages and the API both start here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from common.choices import OsFamily
from tenants.models import Client
from tenants.permissions import Capability, has_capability

from .choices import (
    AssetRole,
    DiscoveryRunSource,
    InstallRecordSource,
    RebootApproval,
    SoftwareCategory,
    SoftwareKind,
    UnknownDeviceState,
)
from .models import (
    Asset,
    DiscoveryRun,
    DiscoverySchedule,
    InstalledSoftware,
    InventorySnapshot,
    PatchReport,
    SoftwareChange,
    SoftwarePolicy,
    SoftwarePolicyReview,
    UnknownDevice,
)
from .schedule import discovery_due

__all__ = [
    "visible_assets",
    "visible_software",
    "visible_unknown_devices",
    "visible_discovery_runs",
    "visible_snapshots",
    "visible_software_policies",
    "asset_history",
    "AttributeChange",
    "attribute_history",
    "PATCHABLE_DEVICE",
    "assets_without_patch_source",
    "in_patch_scope",
    "outside_patch_scope",
    "reported_by",
    "unknown_device_summary",
    "ScopeReport",
    "scope_report",
    "THIRD_PARTY_CATEGORIES",
    "is_discovery_due",
]

THIRD_PARTY_CATEGORIES = [
    SoftwareCategory.BROWSER,
    SoftwareCategory.PDF_TOOL,
    SoftwareCategory.REMOTE_ACCESS,
    SoftwareCategory.JAVA,
    SoftwareCategory.LINE_OF_BUSINESS,
    SoftwareCategory.OTHER,
]


def _allowed(principal: Any, client: Client | None) -> bool:
    return client is not None and has_capability(principal, client, Capability.VIEW)


def visible_assets(principal: Any, client: Client | None) -> QuerySet[Asset]:
    qs = Asset.objects.select_related("asset_class", "site")
    return qs if _allowed(principal, client) else qs.none()


def visible_software(principal: Any, client: Client | None) -> QuerySet[InstalledSoftware]:
    qs = InstalledSoftware.objects.select_related("asset")
    return qs if _allowed(principal, client) else qs.none()


def visible_unknown_devices(principal: Any, client: Client | None) -> QuerySet[UnknownDevice]:
    qs = UnknownDevice.objects.select_related("adopted_asset")
    return qs if _allowed(principal, client) else qs.none()


def visible_discovery_runs(principal: Any, client: Client | None) -> QuerySet[DiscoveryRun]:
    qs = DiscoveryRun.objects.all()
    return qs if _allowed(principal, client) else qs.none()


def visible_snapshots(principal: Any, client: Client | None) -> QuerySet[InventorySnapshot]:
    qs = InventorySnapshot.objects.all()
    return qs if _allowed(principal, client) else qs.none()


def visible_software_policies(principal: Any, client: Client | None) -> QuerySet[SoftwarePolicy]:
    qs = SoftwarePolicy.objects.all()
    return qs if _allowed(principal, client) else qs.none()


def asset_history(asset: Asset, *, limit: int = 200) -> QuerySet[SoftwareChange]:
    """Software installed, removed and upgraded on one asset, newest first."""
    return SoftwareChange.objects.filter(asset=asset).select_related("run")[:limit]


ATTRIBUTE_LABELS = {
    "asset_class": "Class",
    "role": "Role",
    "owner": "Owner",
    "location": "Location",
    "site": "Site",
    "is_ephi": "ePHI system",
    "data_flows": "Data flows",
}


@dataclass
class AttributeChange:
    """One recorded change of an asset's business attributes (from the evidence chain)."""

    at: datetime
    actor: str
    source: str
    changes: list[tuple[str, Any, Any]]  # (label, before, after)
    findings: list[dict[str, Any]]
    sequence: int


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return str(value) if value not in (None, "") else "—"


def attribute_history(asset: Asset, *, limit: int = 100) -> list[AttributeChange]:
    """Who changed the asset's class, role, owner, location, site, ePHI flag or data flows, when
    and how (before → after, and the findings it re-scored), newest first: the
    ``asset.attributes_changed`` events naming it (imports and people's edits) and its
    ``asset.tagged`` events."""
    from evidence.models import EvidenceEvent

    uid = str(asset.uuid)
    events = (
        EvidenceEvent.objects.filter(
            Q(kind="asset.attributes_changed", payload__assets__contains=[{"id": uid}])
            | Q(kind="asset.tagged", subject_type="asset", subject_id=uid)
        )
        .only("sequence", "kind", "occurred_at", "actor", "payload")
        .order_by("-sequence")[:limit]
    )
    out: list[AttributeChange] = []
    for event in events:
        payload = event.payload or {}
        if event.kind == "asset.tagged":
            before, after = payload.get("before", {}), payload.get("after", {})
            changes = {
                k: {"before": before.get(k), "after": after.get(k)}
                for k in ("is_ephi", "data_flows")
                if before.get(k) != after.get(k)
            }
            source, findings = "portal or API (tags)", payload.get("findings", [])
        else:
            entry = next((a for a in payload.get("assets", []) if a.get("id") == uid), {})
            changes, findings = entry.get("changes", {}), entry.get("findings", [])
            source = payload.get("source", "")
        out.append(
            AttributeChange(
                at=event.occurred_at,
                actor=event.actor,
                source=source,
                changes=[
                    (ATTRIBUTE_LABELS.get(k, k), _shown(v.get("before")), _shown(v.get("after")))
                    for k, v in changes.items()
                ],
                findings=findings,
                sequence=event.sequence,
            )
        )
    return out


# Devices a patch source is expected to cover: computers (Windows, macOS, Linux) that are not
# network gear. A managed device of this kind that never reported a patch list is not reporting
# (it counts against compliance); any other device that never reported one (a printer or switch
# adopted from a scan) is outside patch scope.
PATCHABLE_DEVICE = Q(os_family__in=[OsFamily.WINDOWS, OsFamily.MACOS, OsFamily.LINUX]) & ~Q(
    role=AssetRole.NETWORK
)


def reported_by(at: datetime, since: datetime | None = None) -> Exists:
    """The asset reported a patch or package list at or before ``at`` (after ``since``)."""
    reports = PatchReport.objects.filter(asset=OuterRef("pk"), reported_at__lte=at)
    if since is not None:
        reports = reports.filter(reported_at__gt=since)
    return Exists(reports)


def in_patch_scope(at: datetime | None = None) -> QuerySet[Asset]:
    """Managed assets seen by ``at`` that a patch source covers or is expected to cover: those
    that reported a patch or package list by then, and every computer (``PATCHABLE_DEVICE``)
    whether it reported one or not (one that never did is not reporting)."""
    at = at or timezone.now()
    return Asset.objects.filter(
        Q(reported_by(at)) | PATCHABLE_DEVICE, is_managed=True, first_seen__lte=at
    )


def outside_patch_scope(at: datetime | None = None) -> QuerySet[Asset]:
    """Managed assets seen by ``at`` that no patch source covers: not computers and never a
    patch or package list (printers, switches adopted from a scan). Listed, never counted
    compliant."""
    at = at or timezone.now()
    return Asset.objects.filter(is_managed=True, first_seen__lte=at).exclude(
        Q(reported_by(at)) | PATCHABLE_DEVICE
    )


def assets_without_patch_source(assets: QuerySet[Asset] | None = None) -> QuerySet[Asset]:
    """Managed assets that never reported pending updates nor any software table."""
    qs = Asset.objects.all() if assets is None else assets
    return qs.filter(is_managed=True, has_reported_updates=False, software_tables=[])


def unknown_device_summary() -> dict[str, Any]:
    counts = dict(
        UnknownDevice.objects.values_list("state").annotate(n=Count("pk")).values_list("state", "n")
    )
    vendors = (
        UnknownDevice.objects.filter(state=UnknownDeviceState.NEW)
        .exclude(mac_vendor="")
        .values("mac_vendor")
        .annotate(count=Count("pk"))
        .order_by("-count", "mac_vendor")[:10]
    )
    last = UnknownDevice.objects.order_by("-last_seen").values_list("last_seen", flat=True).first()
    return {
        "new": counts.get(UnknownDeviceState.NEW, 0),
        "adopted": counts.get(UnknownDeviceState.ADOPTED, 0),
        "dismissed": counts.get(UnknownDeviceState.DISMISSED, 0),
        "top_vendors": list(vendors),
        "last_seen": last,
    }


@dataclass
class ScopeReport:
    os_families: list[dict[str, Any]] = field(default_factory=list)
    categories: list[dict[str, Any]] = field(default_factory=list)
    without_patch_source: list[dict[str, Any]] = field(default_factory=list)
    without_patch_source_count: int = 0
    policies: list[dict[str, Any]] = field(default_factory=list)
    unlisted_products: list[dict[str, Any]] = field(default_factory=list)
    last_review: date | None = None
    next_review_due: date | None = None
    review_overdue: bool = True


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


# How each family is patched, by the software table its assets report (the agent's job tools).
_PATCH_METHODS = {
    OsFamily.WINDOWS: [(SoftwareKind.HOTFIX, "Windows Update (KB updates; wusa for rollbacks)")],
    OsFamily.MACOS: [
        (SoftwareKind.APP, "softwareupdate (Apple updates)"),
        (SoftwareKind.HOMEBREW, "Homebrew"),
    ],
    OsFamily.LINUX: [
        (SoftwareKind.DEB, "apt (Debian, Ubuntu)"),
        (SoftwareKind.RPM, "dnf / yum (RHEL family)"),
        (SoftwareKind.APK, "apk (Alpine)"),
    ],
}


def _verification(report: ScopeReport) -> None:
    """Per OS family: the patch method in use (assets by software table), the verification
    source (each OS install record source, with how many assets send it) and how many assets
    provide OS records at all; families without any are verified by inventory alone."""
    methods: dict[tuple[str, str], int] = {}
    sources: dict[tuple[str, str], int] = {}
    providing: dict[str, int] = {}
    # One query: each managed asset's family, software tables and OS record sources (if any).
    for family, tables, names in Asset.objects.filter(is_managed=True).values_list(
        "os_family", "software_tables", "install_record_coverage__sources"
    ):
        for table in tables:
            methods[(family, table)] = methods.get((family, table), 0) + 1
        if names is None:
            continue
        providing[family] = providing.get(family, 0) + 1
        for name in names:
            sources[(family, name)] = sources.get((family, name), 0) + 1
    labels = dict(InstallRecordSource.choices)
    for row in report.os_families:
        family = row["os_family"]
        row["patch_methods"] = [
            {"method": label, "assets": methods[(family, table)]}
            for table, label in _PATCH_METHODS.get(family, [])
            if methods.get((family, table))
        ]
        row["verification_sources"] = [
            {"source": name, "label": labels.get(name, name), "assets": count}
            for (fam, name), count in sorted(sources.items())
            if fam == family
        ]
        row["assets_with_os_records"] = providing.get(family, 0)
        row["verification"] = (
            "inventory and the OS's install records" if providing.get(family) else "inventory only"
        )


def scope_report(*, today: date | None = None, product_limit: int = 200) -> ScopeReport:
    """Coverage by OS family and third-party category, assets without a patch source, and the
    supported/unsupported software list with its quarterly review (current client schema)."""
    today = today or timezone.localdate()
    report = ScopeReport()
    no_source = Q(has_reported_updates=False, software_tables=[])
    rows = {
        r["os_family"]: r
        for r in Asset.objects.filter(is_managed=True)
        .values("os_family")
        .annotate(
            assets=Count("pk"),
            stale=Count("pk", filter=Q(is_stale=True)),
            without_source=Count("pk", filter=no_source),
        )
    }
    for family in OsFamily:
        r = rows.get(family.value, {"assets": 0, "stale": 0, "without_source": 0})
        covered = r["assets"] - r["without_source"]
        report.os_families.append(
            {
                "os_family": family.value,
                "label": family.label,
                "assets": r["assets"],
                "stale": r["stale"],
                "with_patch_source": covered,
                "without_patch_source": r["without_source"],
                "coverage_pct": _pct(covered, r["assets"]),
            }
        )
    _verification(report)
    policies = list(SoftwarePolicy.objects.all())
    products: dict[tuple[str, str], dict[str, Any]] = {}
    for name, category, assets in (
        InstalledSoftware.objects.filter(category__in=THIRD_PARTY_CATEGORIES)
        .values_list("name", "category")
        .annotate(assets=Count("asset", distinct=True))
    ):
        products[(name, category)] = {"name": name, "category": category, "assets": assets}
    by_category: dict[str, dict[str, int]] = {}
    for product in products.values():
        policy = next((p for p in policies if p.matches(product["name"])), None)
        product["status"] = (
            "unlisted"
            if policy is None
            else ("supported" if policy.is_supported else "unsupported")
        )
        bucket = by_category.setdefault(
            product["category"], {"supported": 0, "unsupported": 0, "unlisted": 0}
        )
        bucket[product["status"]] += 1
    asset_counts = dict(
        InstalledSoftware.objects.filter(category__in=THIRD_PARTY_CATEGORIES)
        .values("category")
        .annotate(n=Count("asset", distinct=True))
        .values_list("category", "n")
    )
    total_assets = Asset.objects.filter(is_managed=True).count()
    for category in THIRD_PARTY_CATEGORIES:
        bucket = by_category.get(category, {"supported": 0, "unsupported": 0, "unlisted": 0})
        listed = bucket["supported"] + bucket["unsupported"]
        total = listed + bucket["unlisted"]
        report.categories.append(
            {
                "category": category.value,
                "label": category.label,
                "assets": asset_counts.get(category.value, 0),
                "assets_pct": _pct(asset_counts.get(category.value, 0), total_assets),
                "products": total,
                "supported_products": bucket["supported"],
                "unsupported_products": bucket["unsupported"],
                "unlisted_products": bucket["unlisted"],
                "listed_pct": _pct(listed, total),
            }
        )
    missing = outside_patch_scope().order_by("hostname", "pk")
    report.without_patch_source_count = missing.count()
    report.without_patch_source = [
        {
            "id": str(a.uuid),
            "hostname": a.hostname,
            "os_family": a.os_family,
            "os_family_label": a.get_os_family_display(),
            "role_label": a.get_role_display(),
            "source": a.source,
            "source_label": a.get_source_display(),
        }
        for a in missing.order_by("hostname")[:product_limit]
    ]
    for policy in policies:
        matched = [p for p in products.values() if policy.matches(p["name"])]
        report.policies.append(
            {
                "id": str(policy.uuid),
                "name_pattern": policy.name_pattern,
                "is_supported": policy.is_supported,
                "notes": policy.notes,
                "matching_products": len(matched),
                "matching_assets": sum(p["assets"] for p in matched),
            }
        )
    report.unlisted_products = sorted(
        (p for p in products.values() if p["status"] == "unlisted"),
        key=lambda p: (-p["assets"], p["name"]),
    )[:product_limit]
    review = SoftwarePolicyReview.objects.order_by("-reviewed_on").first()
    if review:
        report.last_review = review.reviewed_on
        report.next_review_due = review.next_review_due
        report.review_overdue = review.is_overdue(today=today)
    return report


def is_discovery_due(*, client: Client, now: Any) -> bool:
    """Whether the current schema's client is due its scheduled discovery at ``now``."""

    schedule = DiscoverySchedule.current()
    if not schedule.is_enabled:
        return False
    last = (
        DiscoveryRun.objects.filter(source=DiscoveryRunSource.SCHEDULE)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    return discovery_due(
        now=now,
        tz=client.tz,
        cadence=client.discovery_cadence,
        hour=schedule.local_hour,
        weekday=schedule.weekday,
        last_started=last,
    )


def reboot_counts() -> dict[str, int]:
    """How many of the client's assets report a restart pending, and how many of those await a
    person's approval (one query)."""
    return Asset.objects.aggregate(
        pending=Count("pk", filter=Q(reboot_pending=True)),
        awaiting=Count(
            "pk", filter=Q(reboot_pending=True, reboot_approval=RebootApproval.AWAITING)
        ),
    )
