"""Celery entry points of the uploads app (thin: one service call each)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django_tenants.utils import schema_context

from common.dependencies import DEPENDENCY_ERRORS, RETRY_ON_DEPENDENCY_ERRORS

from . import services
from .models import FileUpload

__all__ = ["read_upload", "fail_stale_uploads"]


@shared_task(
    name="uploads.read_upload",
    bind=True,
    acks_late=True,
    soft_time_limit=1080,
    time_limit=1140,
    **RETRY_ON_DEPENDENCY_ERRORS,
)
def read_upload(self: Any, *, upload: str) -> dict[str, Any]:
    """Read one uploaded file, in its client's schema (or the public one for catalogues).

    A lost database or broker retries (backoff); any other error fails the upload with its
    reason, so the page never waits on a task that has given up."""
    try:
        found = FileUpload.objects.select_related("client").get(uuid=upload)
    except FileUpload.DoesNotExist:
        # The transaction that queued it has not committed yet; it will in a moment.
        raise self.retry(countdown=1, max_retries=30) from None
    schema = found.client.schema_name if found.client_id else "public"
    with schema_context(schema):
        try:
            done = services.run_upload(upload)
        except DEPENDENCY_ERRORS:
            if self.request.retries >= self.max_retries:
                services.fail_upload(uuid=upload, reason="The database or queue stayed down.")
            raise
        except Exception as exc:
            services.fail_upload(uuid=upload, reason=f"{type(exc).__name__}: {exc}")
            raise
    return {"upload": upload, "state": done.state}


@shared_task(name="uploads.fail_stale_uploads", **RETRY_ON_DEPENDENCY_ERRORS)
def fail_stale_uploads() -> dict[str, Any]:
    return {"failed": services.fail_stale_uploads()}
