"""Reference catalogue (public schema, shared by every client).

CVEs with their CVSS scores, CISA KEV entries, FIRST EPSS scores, vendor advisories and the per
product / per package fix rows that findings are matched against, plus a ledger of imports.
"""

from __future__ import annotations

import uuid
from datetime import date

from django.contrib.postgres.fields import ArrayField
from django.db import models

from common.choices import OsFamily

from .choices import (
    AdvisorySource,
    Ecosystem,
    ImportKind,
    ImportStatus,
    SeverityTier,
    SsvcExploitation,
)

__all__ = [
    "Vulnerability",
    "Advisory",
    "AdvisoryFix",
    "KevEntry",
    "EpssScore",
    "CatalogueImport",
    "CpeMatch",
    "KevEntryQuerySet",
]


class Vulnerability(models.Model):
    """A CVE with its scores (NVD / CNA).

    ``cvss3_*`` holds CVSS v3.1 (or v3.0 when that is all a record has), ``cvss4_*`` CVSS v4.0.
    ``cvss_severity`` is the qualitative rating of the chosen score; it stays ``unknown`` while
    NVD has not analysed the record. ``vendor_severity`` is the vendor's own rating (MSRC).
    """

    cve_id = models.CharField(max_length=30, unique=True)
    description = models.TextField(blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    last_modified_at = models.DateTimeField(null=True, blank=True)
    nvd_status = models.CharField(max_length=40, blank=True, help_text="NVD vulnStatus")
    cvss3_vector = models.CharField(max_length=200, blank=True)
    cvss3_score = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    cvss3_source = models.CharField(max_length=100, blank=True)
    cvss4_vector = models.CharField(max_length=300, blank=True)
    cvss4_score = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    cvss4_source = models.CharField(max_length=100, blank=True)
    cvss2_vector = models.CharField(max_length=100, blank=True)
    cvss2_score = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    cvss2_source = models.CharField(max_length=100, blank=True)
    cvss_severity = models.CharField(
        max_length=10, choices=SeverityTier.choices, default=SeverityTier.UNKNOWN
    )
    severity_score = models.CharField(
        max_length=60,
        blank=True,
        help_text='Which score gave cvss_severity: CVSS version and whose ("3.1 NVD")',
    )
    scores = models.JSONField(
        default=list,
        blank=True,
        help_text="Every CVSS score seen: [{version, score, severity, vector, provider "
        "(NVD, CNA, CISA-ADP), source, type}]",
    )
    is_rejected = models.BooleanField(
        default=False, help_text="Rejected by its CNA or NVD: never raises a finding."
    )
    vendor_severity = models.CharField(
        max_length=10, choices=SeverityTier.choices, default=SeverityTier.UNKNOWN
    )
    cwes = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    ssvc_exploitation = models.CharField(
        max_length=10,
        choices=SsvcExploitation.choices,
        default=SsvcExploitation.UNKNOWN,
        blank=True,
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cve_id"]
        verbose_name_plural = "vulnerabilities"

    def __str__(self) -> str:
        return self.cve_id


class Advisory(models.Model):
    """A vendor fix: a Windows KB, a USN/DSA/RHSA, a GitHub/OSV advisory."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    source = models.CharField(max_length=10, choices=AdvisorySource.choices)
    identifier = models.CharField(max_length=100, help_text="KB5032190, USN-6000-1, DSA-5500-1…")
    title = models.CharField(max_length=500, blank=True)
    vendor = models.CharField(max_length=200, blank=True)
    release_date = models.DateField(null=True, blank=True)
    vendor_severity = models.CharField(
        max_length=10, choices=SeverityTier.choices, default=SeverityTier.UNKNOWN
    )
    reboot_required = models.BooleanField(default=False)
    cves = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    exploited_cves = ArrayField(
        models.CharField(max_length=30),
        default=list,
        blank=True,
        help_text="CVEs the vendor reports as exploited (MSRC 'Exploited:Yes').",
    )
    aliases = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    os_family = models.CharField(max_length=10, choices=OsFamily.choices, blank=True)
    document = models.CharField(
        max_length=100, blank=True, help_text="Source document, e.g. the MSRC release 2023-Nov"
    )
    url = models.URLField(max_length=500, blank=True)
    withdrawn_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="OSV 'withdrawn': the record no longer stands and matches nothing.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-release_date", "identifier"]
        verbose_name_plural = "advisories"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "identifier"], name="%(app_label)s_%(class)s_unique_identifier"
            )
        ]
        indexes = [models.Index(fields=["identifier"], name="catalogue_advisory_identifier")]

    def __str__(self) -> str:
        return self.identifier


class AdvisoryFix(models.Model):
    """One advisory applied to one product or package.

    MSRC: one row per KB × product (``product`` = "Windows 11 Version 23H2 for x64-based Systems",
    ``fixed_version`` = the FixedBuild, ``supersedes`` = the KB ids it replaces). OSV / Debian: one
    row per ecosystem release × package with the fixed version and the OSV ``ranges``.
    """

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="fixes")
    product = models.CharField(
        max_length=300, help_text="MSRC product name or OSV ecosystem (Ubuntu:22.04:LTS, Maven)"
    )
    product_id = models.CharField(max_length=30, blank=True, help_text="MSRC ProductID")
    os_family = models.CharField(max_length=10, choices=OsFamily.choices, blank=True)
    ecosystem = models.CharField(max_length=10, choices=Ecosystem.choices)
    release = models.CharField(
        max_length=60, blank=True, help_text="Distribution release: 22.04, bookworm…"
    )
    package_name = models.CharField(max_length=300, blank=True)
    binaries = ArrayField(
        models.CharField(max_length=300),
        default=list,
        blank=True,
        help_text="Binary packages built from package_name (Ubuntu/Debian source packages)",
    )
    fixed_version = models.CharField(max_length=200, blank=True)
    affected_ranges = models.JSONField(
        default=list, blank=True, help_text="OSV ranges: [{type, events: [{introduced|fixed}]}]"
    )
    supersedes = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    subtype = models.CharField(max_length=60, blank=True, help_text="MSRC SubType")
    is_hotpatch = models.BooleanField(default=False)
    reboot_required = models.BooleanField(null=True, blank=True)
    severity = models.CharField(
        max_length=10, choices=SeverityTier.choices, default=SeverityTier.UNKNOWN
    )
    cves = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    exploited_cves = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["advisory_id", "product", "package_name"]
        verbose_name_plural = "advisory fixes"
        constraints = [
            models.UniqueConstraint(
                fields=["advisory", "product", "package_name"],
                name="%(app_label)s_%(class)s_one_per_product_package",
            )
        ]
        indexes = [
            models.Index(fields=["product"], name="catalogue_fix_product"),
            models.Index(fields=["ecosystem", "package_name"], name="catalogue_fix_package"),
        ]

    def __str__(self) -> str:
        what = self.package_name or self.product
        return f"{self.advisory_id}: {what} {self.fixed_version}".strip()


class KevEntryQuerySet(models.QuerySet):
    def listed(self) -> KevEntryQuerySet:
        """Entries the newest imported snapshot still lists (removed ones raise no tier)."""
        return self.filter(removed_on__isnull=True)


class KevEntry(models.Model):
    """A CISA Known Exploited Vulnerabilities entry. ``due_date`` is taken from the file.

    CISA's 2021-11-03 launch batch holds entries whose due date precedes the date they were
    added: they are kept, with ``is_overdue_on_add`` set.
    """

    cve_id = models.CharField(max_length=30, unique=True)
    vendor = models.CharField(max_length=200, blank=True)
    product = models.CharField(max_length=200, blank=True)
    name = models.CharField(max_length=500, blank=True)
    short_description = models.TextField(blank=True)
    date_added = models.DateField()
    due_date = models.DateField()
    known_ransomware = models.BooleanField(default=False)
    required_action = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    cwes = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    is_overdue_on_add = models.BooleanField(
        default=False, help_text="The due date precedes the date added (kept, treated as overdue)."
    )
    removed_on = models.DateField(
        null=True,
        blank=True,
        help_text="Date of the first snapshot that no longer lists the entry (CISA removed it).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = KevEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-date_added", "cve_id"]
        verbose_name = "KEV entry"
        verbose_name_plural = "KEV entries"

    def __str__(self) -> str:
        return self.cve_id

    def is_overdue(self, *, on: date) -> bool:
        return self.is_overdue_on_add or self.due_date < on


class EpssScore(models.Model):
    """The latest FIRST EPSS score of a CVE."""

    cve_id = models.CharField(max_length=30, unique=True)
    score = models.DecimalField(max_digits=6, decimal_places=5)
    percentile = models.DecimalField(max_digits=6, decimal_places=5)
    score_date = models.DateField()
    model_version = models.CharField(max_length=40, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-score", "cve_id"]
        verbose_name = "EPSS score"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    score__gte=0, score__lte=1, percentile__gte=0, percentile__lte=1
                ),
                name="%(app_label)s_%(class)s_probability",
                violation_error_message="EPSS score and percentile lie between 0 and 1.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.cve_id} {self.score}"


class CatalogueImport(models.Model):
    """One import run: what file, what it changed."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=ImportKind.choices)
    file_name = models.CharField(max_length=500)
    source_url = models.URLField(max_length=1000, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.RUNNING
    )
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    details = models.JSONField(default=dict, blank=True, help_text="Counts per catalogue table")
    error = models.TextField(blank=True)
    as_of = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the imported data was current (KEV dateReleased, newest MSRC document, "
        "EPSS score date, newest NVD/CVE/OSV modification)",
    )
    version = models.CharField(
        max_length=100, blank=True, help_text="KEV catalogVersion, MSRC document id, EPSS model"
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["kind", "-started_at"], name="catalogue_import_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.file_name} ({self.status})"


class CpeMatch(models.Model):
    """One vulnerable CPE 2.3 match of an NVD record: an application (or OS) and a version range.

    ``version`` is the criteria's own version field (``*`` for any, or one exact version);
    the ``version_start_*`` / ``version_end_*`` bounds come from NVD's cpeMatch. ``platforms``
    are the non-vulnerable CPEs an AND configuration requires beside it ("Chrome running on
    Windows"): the host's OS must be one of them.
    """

    cve_id = models.CharField(max_length=30)
    criteria = models.CharField(max_length=500)
    part = models.CharField(max_length=1, help_text="a (application), o (OS) or h (hardware)")
    vendor = models.CharField(max_length=200)
    product = models.CharField(max_length=200)
    version = models.CharField(max_length=100, blank=True)
    update = models.CharField(max_length=100, blank=True)
    target_sw = models.CharField(max_length=100, blank=True)
    version_start_including = models.CharField(max_length=100, blank=True)
    version_start_excluding = models.CharField(max_length=100, blank=True)
    version_end_including = models.CharField(max_length=100, blank=True)
    version_end_excluding = models.CharField(max_length=100, blank=True)
    platforms = ArrayField(models.CharField(max_length=500), default=list, blank=True)
    match_criteria_id = models.CharField(max_length=60, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["vendor", "product", "cve_id"]
        verbose_name = "CPE match"
        verbose_name_plural = "CPE matches"
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "cve_id",
                    "criteria",
                    "version_start_including",
                    "version_start_excluding",
                    "version_end_including",
                    "version_end_excluding",
                ],
                name="%(app_label)s_%(class)s_one_per_range",
            )
        ]
        indexes = [
            models.Index(fields=["vendor", "product"], name="catalogue_cpe_vendor_product"),
            models.Index(fields=["cve_id"], name="catalogue_cpe_cve"),
        ]

    def __str__(self) -> str:
        return f"{self.cve_id}: {self.criteria}"

    def range_text(self) -> str:
        """The affected versions as a person reads them: ``>= 1.0, < 2.3`` or ``= 4.1``."""
        bounds = []
        if self.version_start_including:
            bounds.append(f">= {self.version_start_including}")
        if self.version_start_excluding:
            bounds.append(f"> {self.version_start_excluding}")
        if self.version_end_including:
            bounds.append(f"<= {self.version_end_including}")
        if self.version_end_excluding:
            bounds.append(f"< {self.version_end_excluding}")
        if not bounds and self.version not in ("", "*", "-"):
            exact = self.version + (f" {self.update}" if self.update not in ("", "*") else "")
            bounds.append(f"= {exact}")
        return ", ".join(bounds) or "all versions"
