"""Write side of the catalogue: run an import in one transaction, sync feeds from URLs."""

from __future__ import annotations

import logging
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from django.db import DatabaseError, transaction
from django.utils import timezone

from .choices import ImportKind, ImportStatus
from .importers import IMPORTERS, ImportFileError, Progress
from .importers.base import sha256_of
from .models import CatalogueImport
from .signals import catalogue_changed

__all__ = ["run_import", "record_failed_import", "sync_feeds", "ImportFileError"]

log = logging.getLogger(__name__)


def run_import(
    *,
    kind: str,
    path: Path,
    progress: Progress | None = None,
    source_url: str = "",
    force: bool = False,
) -> CatalogueImport:
    """Import one file (or directory for OSV / CVE 5) of ``kind``; all or nothing.

    Raises ImportFileError for a wrong or corrupt file; nothing is written then. ``force``
    (KEV only) accepts a snapshot older than the one already imported; even then it only adds
    entries the catalogue has never seen and never overwrites newer facts.
    """
    if kind not in IMPORTERS:
        raise ImportFileError(f"unknown import kind {kind!r}")
    path = Path(path)
    if not path.exists():
        raise ImportFileError(f"{path}: no such file or directory")
    started = timezone.now()
    sha = sha256_of(path) if path.is_file() else ""
    try:
        with transaction.atomic():
            options = {"force": True} if force else {}
            if force and kind != ImportKind.KEV:
                raise ImportFileError("--force applies to KEV snapshots only")
            counts = IMPORTERS[kind](path, progress=progress, **options)
            details = dict(counts.tables)
            if counts.notes:
                details["notes"] = counts.notes
            record = CatalogueImport.objects.create(
                kind=kind,
                file_name=str(path.name)[:500],
                source_url=source_url[:1000],
                sha256=sha,
                status=ImportStatus.SUCCEEDED,
                created=counts.created,
                updated=counts.updated,
                unchanged=counts.unchanged,
                details=details,
                as_of=counts.as_of,
                version=counts.version[:100],
                started_at=started,
                finished_at=timezone.now(),
            )
            if record.created or record.updated:
                transaction.on_commit(
                    lambda: catalogue_changed.send(sender=CatalogueImport, record=record)
                )
            return record
    except DatabaseError as exc:
        raise ImportFileError(f"{path.name}: the catalogue refused a value ({exc})") from exc
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        # A file of the right general shape with fields of the wrong type: still a bad file.
        raise ImportFileError(
            f"{path.name}: unexpected content ({exc.__class__.__name__}: {exc})"
        ) from exc


def record_failed_import(
    *, kind: str, file_name: str, error: str, source_url: str = "", started_at=None
) -> CatalogueImport:
    with transaction.atomic():
        return CatalogueImport.objects.create(
            kind=kind,
            file_name=file_name[:500],
            source_url=source_url[:1000],
            status=ImportStatus.FAILED,
            error=error[:4000],
            started_at=started_at or timezone.now(),
            finished_at=timezone.now(),
        )


def _download(url: str, dest: Path, *, timeout: float) -> None:
    if urlparse(url).scheme not in {"http", "https"}:
        raise ImportFileError(f"{url}: only http(s) feed URLs are fetched")
    request = urllib.request.Request(url, headers={"User-Agent": "PatchOps catalogue sync"})
    with urllib.request.urlopen(request, timeout=timeout) as response, dest.open("wb") as fh:  # noqa: S310
        while block := response.read(1 << 20):
            fh.write(block)


def sync_feeds(
    *, feeds: dict[str, str | list[str]], timeout: float = 60.0
) -> dict[str, list[dict]]:
    """Download every configured feed URL and import it; a failure is recorded, never raised.

    ``feeds`` maps an import kind (kev, epss, nvd, cve5, msrc, osv, debian) to one URL or a list.
    Returns {kind: [{"url", "status", "created", "updated", "unchanged" | "error"}]}.
    """
    results: dict[str, list[dict]] = {}
    for kind, urls in feeds.items():
        for url in [urls] if isinstance(urls, str) else list(urls):
            started = timezone.now()
            name = Path(urlparse(url).path).name or f"{kind}-feed"
            outcome: dict = {"url": url}
            try:
                if kind not in ImportKind.values:
                    raise ImportFileError(f"unknown feed kind {kind!r}")
                with tempfile.TemporaryDirectory() as tmp:
                    target = Path(tmp) / name
                    _download(url, target, timeout=timeout)
                    record = run_import(kind=kind, path=target, source_url=url)
                outcome.update(
                    status=ImportStatus.SUCCEEDED,
                    created=record.created,
                    updated=record.updated,
                    unchanged=record.unchanged,
                )
            except (ImportFileError, urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", None) or exc
                log.warning("catalogue feed %s (%s) failed: %s", kind, url, reason)
                record_failed_import(
                    kind=kind if kind in ImportKind.values else ImportKind.OSV,
                    file_name=name,
                    source_url=url,
                    error=str(reason),
                    started_at=started,
                )
                outcome.update(status=ImportStatus.FAILED, error=str(reason))
            results.setdefault(kind, []).append(outcome)
    return results
