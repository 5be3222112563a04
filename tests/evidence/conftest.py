"""Evidence tests write report files under a temporary MEDIA_ROOT."""

from __future__ import annotations

import pytest
from django.core.files import storage
from django.utils.functional import empty


def _reset_default_storage() -> None:
    # The tenant-aware storage keeps its location once computed: start each test afresh.
    storage.storages._storages = {}
    storage.default_storage._wrapped = empty


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    _reset_default_storage()
    yield settings.MEDIA_ROOT
    _reset_default_storage()
