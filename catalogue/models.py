"""Reference catalogue (public schema, shared by every client): CVEs and vendor advisories."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

from .choices import AdvisorySource, SeverityTier

__all__ = ["Vulnerability", "Advisory"]


class Vulnerability(models.Model):
    """A CVE with its scores (NVD / CNA)."""

    cve_id = models.CharField(max_length=30, unique=True)
    description = models.TextField(blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    cvss3_vector = models.CharField(max_length=200, blank=True)
    cvss3_score = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    cvss4_vector = models.CharField(max_length=300, blank=True)
    cvss4_score = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    vendor_severity = models.CharField(
        max_length=10, choices=SeverityTier.choices, default=SeverityTier.UNKNOWN
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
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-release_date", "identifier"]
        verbose_name_plural = "advisories"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "identifier"], name="%(app_label)s_%(class)s_unique_identifier"
            )
        ]

    def __str__(self) -> str:
        return self.identifier
