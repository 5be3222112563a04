"""Accepting an uploaded file, reading it in a task, and what its page shows meanwhile.

``accept_inventory_upload`` and ``accept_catalogue_upload`` check what can be checked at once
(size, emptiness, format, and for inventory files the whole parse, with the ``ingest``
command's messages) and refuse with ``UploadRejected`` — nothing is recorded then. An accepted
file is stored and queued in one transaction (when the queue is down, nothing is recorded:
``QueueUnavailable``). ``run_upload`` claims it, reads it through the same service as the
command (``inventory.services.files``, ``catalogue.services.run_import``), and records the
summary or the reason it failed; the stored file is removed once it has been read.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from catalogue.choices import ImportKind
from catalogue.importers.base import ImportFileError
from catalogue.services import run_import
from evidence.services import actor_label
from inventory.parsers import PARSERS
from inventory.services.files import FileRejected, ingest_file, read_file
from tenants.models import Client

from .models import FileUpload, UploadState, UploadTarget

__all__ = [
    "UploadRejected",
    "accept_inventory_upload",
    "accept_catalogue_upload",
    "run_upload",
    "fail_upload",
    "fail_stale_uploads",
    "progress_of",
    "max_upload_bytes",
    "visible_uploads",
    "INVENTORY_FORMATS",
    "CATALOGUE_KINDS",
    "ARCHIVE_KINDS",
]

Queue = Callable[[FileUpload], Any]
ACTIVE = (UploadState.QUEUED, UploadState.RUNNING)
# Longer than any upload may wait and run (the task's time limit plus its redelivery).
STALE_AFTER = timedelta(minutes=30)
INVENTORY_FORMATS = sorted(PARSERS)
CATALOGUE_KINDS = [kind.value for kind in ImportKind]
# Feeds published as one JSON file per record, uploaded as a ZIP archive of them.
ARCHIVE_KINDS = (ImportKind.OSV.value, ImportKind.CVE5.value)
MAX_ARCHIVE_MEMBERS = 500_000
MAX_ARCHIVE_RATIO = 200  # uncompressed bytes per compressed byte, beyond which it is a bomb
PROGRESS_TTL = 3600


class UploadRejected(ValueError):
    """The file cannot be read as given; nothing was recorded. ``field`` names the form field."""

    def __init__(self, message: str, *, field: str = "file") -> None:
        super().__init__(message)
        self.field = field


def max_upload_bytes() -> int:
    return int(settings.UPLOAD_MAX_BYTES)


def _read_upload(uploaded: UploadedFile | None) -> tuple[bytes, str]:
    if uploaded is None:
        raise UploadRejected("Choose a file to upload.")
    limit = max_upload_bytes()
    if uploaded.size > limit:
        raise UploadRejected(f"The file is larger than {limit // 2**20} MB.")
    data = uploaded.read()
    name = PurePosixPath((uploaded.name or "upload").replace("\\", "/")).name[:255] or "upload"
    if not data.strip():
        raise UploadRejected(f"{name} is empty.")
    return data, name


def _store(
    *,
    target: str,
    client: Client | None,
    kind: str,
    hostname: str,
    data: bytes,
    name: str,
    actor: Any,
    queue: Queue,
) -> FileUpload:
    with transaction.atomic():
        upload = FileUpload(
            target=target,
            client=client,
            kind=kind,
            hostname=hostname,
            name=name,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            uploaded_by=actor if getattr(actor, "pk", None) and hasattr(actor, "email") else None,
            uploaded_by_label=actor_label(actor)[:254],
            uploaded_at=timezone.now(),
        )
        upload.file.save(name, ContentFile(data), save=False)
        upload.save()
        queue(upload)
    return upload


def accept_inventory_upload(
    *,
    client: Client,
    uploaded: UploadedFile | None,
    fmt: str = "",
    hostname: str = "",
    actor: Any,
    queue: Queue,
) -> FileUpload:
    """Check an inventory file as the ``ingest`` command would and queue it (in the client's
    schema)."""
    data, name = _read_upload(uploaded)
    hostname = (hostname or "").strip()
    if len(hostname) > 255:
        raise UploadRejected("A host name has at most 255 characters.", field="hostname")
    try:
        parsed = read_file(
            data, name=name, fmt=fmt or None, hostname=hostname, ask_format="choose the format"
        )
    except FileRejected as exc:
        raise UploadRejected(str(exc)) from exc
    return _store(
        target=UploadTarget.INVENTORY,
        client=client,
        kind=parsed.fmt,
        hostname=hostname,
        data=data,
        name=name,
        actor=actor,
        queue=queue,
    )


def accept_catalogue_upload(
    *, uploaded: UploadedFile | None, kind: str, actor: Any, queue: Queue
) -> FileUpload:
    """Check a catalogue file's kind and size and queue its import (public schema)."""
    if kind not in CATALOGUE_KINDS:
        raise UploadRejected(
            f"Choose what the file is ({', '.join(CATALOGUE_KINDS)}).", field="kind"
        )
    data, name = _read_upload(uploaded)
    if data[:4] == b"PK\x03\x04":
        if kind not in ARCHIVE_KINDS:
            raise UploadRejected(
                f"{name} is a ZIP archive; only {' and '.join(ARCHIVE_KINDS)} are read from "
                "archives. Upload the feed file itself."
            )
        _check_archive(data, name)
    return _store(
        target=UploadTarget.CATALOGUE,
        client=None,
        kind=kind,
        hostname="",
        data=data,
        name=name,
        actor=actor,
        queue=queue,
    )


def _check_archive(data: bytes, name: str) -> list[zipfile.ZipInfo]:
    """The archive's JSON members, refusing a corrupt archive, a bomb or an escaping path."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise UploadRejected(f"{name} is not a readable ZIP archive: {exc}") from exc
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise UploadRejected(f"{name} holds more than {MAX_ARCHIVE_MEMBERS} files.")
    total = sum(m.file_size for m in members)
    if total > max(len(data), 1) * MAX_ARCHIVE_RATIO or total > max_upload_bytes() * 20:
        raise UploadRejected(f"{name} expands to {total // 2**20} MB, too much to read.")
    for member in members:
        path = PurePosixPath(member.filename)
        if path.is_absolute() or ".." in path.parts:
            raise UploadRejected(f"{name} holds a file outside the archive ({member.filename}).")
    if not any(m.filename.lower().endswith(".json") for m in members):
        raise UploadRejected(f"{name} holds no JSON files.")
    return members


def progress_of(upload: FileUpload) -> dict[str, int] | None:
    """``{"done", "total"}`` of an upload being read, when its reader reports progress."""
    value = cache.get(f"upload-progress:{upload.uuid}") if upload.is_active else None
    return {"done": value[0], "total": value[1]} if value else None


def _reporter(upload: FileUpload) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        cache.set(f"upload-progress:{upload.uuid}", (done, total), PROGRESS_TTL)

    return report


def run_upload(uuid: str) -> FileUpload:
    """Read the upload ``uuid`` unless it is already done or failed (call in its schema).

    Raises ``FileUpload.DoesNotExist`` while the transaction that queued it has not committed.
    """
    claimed = FileUpload.objects.filter(uuid=uuid, state__in=ACTIVE).update(
        state=UploadState.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now()
    )
    upload = FileUpload.objects.select_related("uploaded_by").get(uuid=uuid)
    if not claimed:
        return upload
    actor = upload.uploaded_by or upload.uploaded_by_label
    try:
        with upload.file.open("rb") as stored:
            data = stored.read()
        if upload.target == UploadTarget.INVENTORY:
            summary, result = _read_inventory(upload, data, actor)
        else:
            summary, result = _read_catalogue(upload, data)
    except (FileRejected, ImportFileError, UploadRejected) as exc:
        fail_upload(uuid=uuid, reason=str(exc))
    else:
        FileUpload.objects.filter(pk=upload.pk, state=UploadState.RUNNING).update(
            state=UploadState.DONE,
            finished_at=timezone.now(),
            summary=summary,
            result=result,
            error="",
        )
        _discard(upload)
    upload.refresh_from_db()
    return upload


def _read_inventory(upload: FileUpload, data: bytes, actor: Any) -> tuple[str, dict]:
    parsed = read_file(data, name=upload.name, fmt=upload.kind, hostname=upload.hostname or None)
    run, summary = ingest_file(parsed, actor=actor, progress=_reporter(upload))
    counts = summary.as_counts() if parsed.produces != "hosts" else asdict(summary)
    return str(summary), {"run": str(run.uuid), "produces": parsed.produces, "counts": counts}


def _read_catalogue(upload: FileUpload, data: bytes) -> tuple[str, dict]:
    with tempfile.TemporaryDirectory(prefix="patchops-upload-") as workdir:
        if data[:4] == b"PK\x03\x04":
            path = Path(workdir) / Path(upload.name).stem
            members = _check_archive(data, upload.name)
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for member in members:
                    target = path / PurePosixPath(member.filename)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with archive.open(member) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        else:
            path = Path(workdir) / upload.name
            path.write_bytes(data)
        record = run_import(kind=upload.kind, path=path, progress=_reporter(upload))
    summary = (
        f"Imported {upload.name}: {record.created} created, {record.updated} updated, "
        f"{record.unchanged} unchanged."
    )
    notes = (record.details.get("notes") or {}).get("messages", [])
    tables = {k: v for k, v in record.details.items() if k != "notes"}
    return summary, {"import": record.pk, "tables": tables, "notes": notes}


def _discard(upload: FileUpload) -> None:
    if upload.file:
        upload.file.delete(save=False)
        FileUpload.objects.filter(pk=upload.pk).update(file="")


def fail_upload(*, uuid: str, reason: str) -> None:
    """The upload could not be read; its reason is kept and the stored file removed."""
    FileUpload.objects.filter(uuid=uuid, state__in=ACTIVE).update(
        state=UploadState.FAILED, finished_at=timezone.now(), error=reason[:4000]
    )
    upload = FileUpload.objects.filter(uuid=uuid).first()
    if upload is not None and upload.state == UploadState.FAILED:
        _discard(upload)


def fail_stale_uploads(*, now: Any = None) -> int:
    """Uploads queued or reading for longer than any task may: failed, to be uploaded again."""
    now = now or timezone.now()
    cutoff = now - STALE_AFTER
    return FileUpload.objects.filter(
        Q(state=UploadState.QUEUED, uploaded_at__lt=cutoff)
        | Q(state=UploadState.RUNNING, started_at__lt=cutoff)
    ).update(
        state=UploadState.FAILED,
        finished_at=now,
        error=(
            "The file was not read within 30 minutes (its worker may have stopped); "
            "nothing was written. Upload it again."
        ),
    )


def visible_uploads(*, target: str, client: Client | None) -> Any:
    qs = FileUpload.objects.filter(target=target).select_related("uploaded_by")
    return qs.filter(client=client) if client is not None else qs.filter(client__isnull=True)
