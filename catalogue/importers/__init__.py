"""Catalogue importers: one module per feed, each ``import_<kind>(path, *, progress) -> Counts``."""

from __future__ import annotations

from collections.abc import Callable

from ..choices import ImportKind
from .base import Counts, ImportFileError, Progress
from .cve5 import import_cve5
from .debian import import_debian
from .epss import import_epss
from .kev import import_kev
from .msrc import import_msrc
from .nvd import import_nvd
from .osv import import_osv

__all__ = ["IMPORTERS", "Counts", "ImportFileError", "Progress"]

IMPORTERS: dict[str, Callable[..., Counts]] = {
    ImportKind.KEV: import_kev,
    ImportKind.EPSS: import_epss,
    ImportKind.NVD: import_nvd,
    ImportKind.CVE5: import_cve5,
    ImportKind.MSRC: import_msrc,
    ImportKind.OSV: import_osv,
    ImportKind.DEBIAN: import_debian,
}
