"""Resident device agents: what an agent reads on each run (the client's discovery schedule,
``agent_config``), the one-file agent it downloads (``agent_archive``, built from
``patchops_agent`` and cached), and the per-client installer an MSP admin issues: an agent token
(through ``accounts.tokens``, so audited and in the client's evidence) and, shown once, the
commands per OS that download the agent and install it as a service."""

from __future__ import annotations

import hashlib
import shlex
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from accounts.tokens import create_token, tokens_of
from inventory.models import DiscoverySchedule
from inventory.schedule import last_discovery_slot, next_discovery_slot
from patchops_agent import __version__ as agent_version
from patchops_agent.build import PACKAGE, build_archive
from tenants.choices import TokenScope
from tenants.models import Client
from tenants.services import IssuedToken

__all__ = [
    "agent_config",
    "agent_archive",
    "installer_commands",
    "issue_installer",
    "installer_tokens",
    "Installer",
    "DOWNLOAD_PATH",
]

DOWNLOAD_PATH = "api/v1/agent/download/"
INSTALLER_PREFIX = "Agent installer"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def agent_config(*, client: Client, now: datetime | None = None) -> dict[str, Any]:
    """The settings a resident agent of ``client`` reads on each run (inside its schema).

    ``slots`` are the client's two latest scheduled discovery starts at or before ``now`` (the
    same arithmetic as the scheduled discovery, ``inventory.schedule``), oldest first; each
    device adds its own stable offset within ``jitter_seconds`` so a fleet does not push at once.
    """
    now = now or timezone.now()
    schedule = DiscoverySchedule.current()
    tz = client.tz
    arguments = {
        "tz": tz,
        "cadence": client.discovery_cadence,
        "hour": schedule.local_hour,
        "weekday": schedule.weekday,
    }
    last = last_discovery_slot(now=now, **arguments)
    previous = last_discovery_slot(now=last - timedelta(microseconds=1), **arguments)
    return {
        "client": client.slug,
        "server_time": _iso(now),
        "agent_version": agent_version,
        "discovery": {
            "enabled": schedule.is_enabled,
            "cadence": client.discovery_cadence,
            "local_hour": schedule.local_hour,
            "weekday": schedule.weekday,
            "time_zone": client.timezone,
            "slots": [_iso(previous), _iso(last)],
            "next_slot": _iso(next_discovery_slot(now=now, **arguments)),
            "jitter_seconds": int(settings.AGENT_DISCOVERY_JITTER_MINUTES) * 60,
        },
    }


# --- the downloadable agent ----------------------------------------------------------------------

_build_lock = threading.Lock()


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def agent_archive() -> tuple[Path, str]:
    """The agent archive of this release (built on first request, kept in
    ``AGENT_ARCHIVE_DIR`` under the digest of its sources) and its SHA-256."""
    folder = Path(settings.AGENT_ARCHIVE_DIR or Path(tempfile.gettempdir()) / "patchops-agent")
    target = folder / f"patchops-agent-{agent_version}-{_sources_digest()}.pyz"
    with _build_lock:
        if not target.exists():
            folder.mkdir(parents=True, exist_ok=True)
            staging = target.with_suffix(f".{threading.get_ident()}.tmp")
            build_archive(staging)
            staging.replace(target)
    return target, hashlib.sha256(target.read_bytes()).hexdigest()


# --- the installer -------------------------------------------------------------------------------


def installer_commands(*, client_url: str, token: str) -> dict[str, str]:
    """The commands an MSP runs on a device (as root / Administrator) to install the agent:
    ``posix`` (Linux and macOS shell) and ``windows`` (PowerShell). The token travels on standard
    input and in the Authorization header, never on a command line."""
    base = client_url if client_url.endswith("/") else client_url + "/"
    download = base + DOWNLOAD_PATH
    posix = "\n".join(
        [
            "set -eu",
            f"PATCHOPS_TOKEN={shlex.quote(token)}",
            'tmp="$(mktemp -d)"',
            f"printf 'Authorization: Bearer %s\\n' \"$PATCHOPS_TOKEN\" | curl -fsSL -H @- "
            f'-o "$tmp/patchops-agent.pyz" {shlex.quote(download)}',
            'printf \'%s\\n\' "$PATCHOPS_TOKEN" | sudo python3 "$tmp/patchops-agent.pyz" '
            f"service install --url {shlex.quote(base)} --token-stdin",
            'rm -rf "$tmp"',
        ]
    )

    def ps(value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    windows = "\n".join(
        [
            "$ErrorActionPreference = 'Stop'",
            "[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12",
            f"$token = {ps(token)}",
            "$pyz = Join-Path $env:TEMP 'patchops-agent.pyz'",
            'Invoke-WebRequest -UseBasicParsing -Headers @{ Authorization = "Bearer $token" } '
            f"-Uri {ps(download)} -OutFile $pyz",
            f"$token | py -3 $pyz service install --url {ps(base)} --token-stdin",
            "Remove-Item $pyz",
        ]
    )
    return {"posix": posix, "windows": windows}


@dataclass(frozen=True)
class Installer:
    issued: IssuedToken
    commands: dict[str, str]


def issue_installer(
    *,
    client: Client,
    client_url: str,
    actor: Any,
    name: str = "",
    request: HttpRequest | None = None,
) -> Installer:
    """Issue an agent token for ``client`` (audited, in its evidence) and the installer
    commands that carry it; the plaintext exists only in the returned value."""
    name = (name or "").strip() or f"{INSTALLER_PREFIX} {timezone.localdate():%Y-%m-%d}"
    if not name:
        raise ValidationError({"name": "Name the installer's token."})
    issued = create_token(
        name=name, scope=TokenScope.AGENT, client=client, actor=actor, request=request
    )
    return Installer(
        issued=issued, commands=installer_commands(client_url=client_url, token=issued.plaintext)
    )


def installer_tokens(client: Client) -> QuerySet:
    """The client's agent tokens (issued here or elsewhere), newest first."""
    return tokens_of(client).filter(scope=TokenScope.AGENT)
