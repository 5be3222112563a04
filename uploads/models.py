"""Files people upload for PatchOps to read: a client's inventory files (Nmap XML, CSV,
systeminfo, qfe, dpkg, osquery) and the MSP's catalogue files (KEV, EPSS, NVD, CVE 5, MSRC,
OSV, Debian). Each upload is read by the same parsers and importers as the commands, in a
Celery task, and keeps its state, progress and result for the page that shows it.

One public-schema table: a client's uploads name their client (and are read and written inside
its schema); catalogue uploads name none.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from tenants.models import Client


class UploadTarget(models.TextChoices):
    INVENTORY = "inventory", "Inventory file"
    CATALOGUE = "catalogue", "Catalogue file"


class UploadState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Reading"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"

    @property
    def color(self) -> str:
        return {"queued": "gray", "running": "blue", "done": "green", "failed": "red"}[self.value]


def _stored_name(upload: FileUpload, filename: str) -> str:
    return f"uploads/{upload.target}/{upload.uuid}"


class FileUpload(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    target = models.CharField(max_length=10, choices=UploadTarget.choices)
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="uploads"
    )
    kind = models.CharField(
        max_length=20, help_text="the inventory format or the catalogue import kind"
    )
    hostname = models.CharField(max_length=255, blank=True)
    name = models.CharField(max_length=255, help_text="the file's name as uploaded")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to=_stored_name, blank=True, max_length=300)
    state = models.CharField(max_length=10, choices=UploadState.choices, default=UploadState.QUEUED)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_by_label = models.CharField(max_length=254)
    uploaded_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    summary = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # Moves on every change (also through QuerySet.update()): the API's ?updated_since=.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [
            models.Index(fields=["target", "client", "-uploaded_at"]),
            models.Index(fields=["state", "uploaded_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(target="inventory", client__isnull=False)
                    | models.Q(target="catalogue", client__isnull=True)
                ),
                name="%(app_label)s_%(class)s_client_iff_inventory",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_state_display()})"

    @property
    def state_color(self) -> str:
        return UploadState(self.state).color

    @property
    def is_active(self) -> bool:
        return self.state in (UploadState.QUEUED, UploadState.RUNNING)
