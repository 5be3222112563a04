"""Uploads are read by a Celery task; these fixtures catch what a page or the API queues and
deliver it to the real task, as a worker would."""

from __future__ import annotations

import pytest

from uploads.models import FileUpload
from uploads.tasks import read_upload


@pytest.fixture(autouse=True)
def _no_uploads_of_other_tests(db) -> None:
    """Uploads live in the public schema: rows another module committed (and will remove
    itself) are set aside inside this test's transaction, which rolls back."""
    FileUpload.objects.all().delete()


@pytest.fixture
def queued(monkeypatch) -> list[dict]:
    sent: list[dict] = []
    monkeypatch.setattr(read_upload, "apply_async", lambda kwargs=None, **_: sent.append(kwargs))
    return sent


@pytest.fixture
def deliver(queued):
    """Run every queued read (the real task, which finds its client's schema itself)."""

    def _deliver() -> list[dict]:
        results = [read_upload.apply(kwargs=kwargs).get() for kwargs in queued]
        queued.clear()
        return results

    return _deliver
