from __future__ import annotations

from pathlib import Path

import pytest

from catalogue.models import CatalogueImport
from catalogue.services import run_import


@pytest.fixture
def load(db):
    """``load(kind, path)`` imports a file and returns its CatalogueImport row."""

    def _load(kind: str, path: Path) -> CatalogueImport:
        return run_import(kind=kind, path=Path(path))

    return _load
