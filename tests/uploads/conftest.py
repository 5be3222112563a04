"""Uploads are read by a Celery task; these fixtures catch what a page or the API queues and
deliver it to the real task, as a worker would."""

from __future__ import annotations

import pytest

from uploads.tasks import read_upload


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
