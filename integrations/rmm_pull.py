"""Pull discovery from an RMM's REST API: the client's RMM connections, what the scheduled
discovery reads from each (devices, their software and OS updates) and how it becomes the same
discovery payload an agent pushes, ingested by the same service.

Tactical RMM (``X-API-KEY``): ``GET /agents/`` lists the agents the key may see, ``GET
/agents/<agent_id>/`` has one agent's OS, addresses and WMI detail, ``GET /software/<agent_id>/``
its installed programs (``[]`` when it never reported any: Linux and macOS agents) and ``GET
/winupdate/<agent_id>/`` its Windows updates (installed ones become hotfix rows, missing ones
pending updates).

A pull never half-writes: a listing that fails (refused key, timeout, server error, not JSON)
changes nothing and is one error line; a device whose calls fail or whose fields do not
validate is left out (one line each) and the other devices are ingested in one transaction.
"""

from __future__ import annotations

import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from evidence.services import record_event
from inventory.choices import AssetSource, DiscoveryRunSource, DiscoveryRunStatus
from inventory.hooks import PullResult
from inventory.models import DiscoveryRun
from inventory.payload import PayloadError, validate_payloads
from inventory.services import ingest_payloads

from .choices import PullStatus, RmmKind
from .models import RmmConnection

__all__ = [
    "PullError",
    "PullOutcome",
    "pull_connection",
    "scheduled_pull",
    "save_connection",
    "test_connection",
    "tactical_payload",
    "mask",
]

RESPONSE_MAX_BYTES = 20 * 1024 * 1024
SECRET_FIELDS = ("api_key",)
USER_AGENT = "PatchOps-discovery/1"


class PullError(Exception):
    """One call to the RMM that gave no usable answer (the message says why, for the run)."""


def mask(value: str) -> str:
    if not value:
        return ""
    return "••••" + (value[-4:] if len(value) >= 12 else "")


# --------------------------------------------------------------------------- the connection


def _validate(conn: RmmConnection) -> None:
    errors: dict[str, str] = {}
    if conn.kind not in RmmKind.values:
        errors["kind"] = "Choose Tactical RMM."
    if not (conn.name or "").strip():
        errors["name"] = "Give the connection a name."
    parsed = urllib.parse.urlparse(conn.base_url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        errors["base_url"] = "Give the API root, e.g. https://api.rmm.example.com."
    if not (conn.api_key or "").strip():
        errors["api_key"] = "The RMM needs its API key to answer."
    if conn.site_filter and not conn.site_filter.strip().isdigit():
        errors["site_filter"] = "A Tactical RMM client id is a number."
    if not 1 <= int(conn.timeout_seconds or 0) <= 120:
        errors["timeout_seconds"] = "Between 1 and 120 seconds."
    if errors:
        raise ValidationError(errors)


def save_connection(
    *, data: dict[str, Any], actor: Any, instance: RmmConnection | None = None
) -> RmmConnection:
    """Create or change the client's RMM connection. An API key left blank on a change keeps
    its value (the page never shows it back)."""
    now = timezone.now()
    conn = instance or RmmConnection(created_at=now)
    for name, value in data.items():
        if name in SECRET_FIELDS and instance is not None and not value:
            continue
        setattr(conn, name, value.strip() if isinstance(value, str) else value)
    _validate(conn)
    conn.updated_at = now
    with transaction.atomic():
        conn.save()
        record_event(
            kind="rmm_connection.saved",
            subject_type="rmm_connection",
            subject_id=conn.uuid,
            actor=actor,
            payload={
                "name": conn.name,
                "kind": conn.kind,
                "base_url": conn.base_url,
                "enabled": conn.is_enabled,
                "created": instance is None,
            },
            occurred_at=now,
        )
    return conn


# --------------------------------------------------------------------------- transport


def _get(conn: RmmConnection, path: str) -> Any:
    """GET one API path; its JSON, or PullError with a line a person can act on."""
    url = conn.base_url.rstrip("/") + path
    request = urllib.request.Request(
        url,
        headers={
            "X-API-KEY": conn.api_key,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        },
        method="GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=conn.timeout_seconds) as response:  # noqa: S310
            body = response.read(RESPONSE_MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise PullError(f"{path}: the API key was refused (HTTP {exc.code}).") from exc
        if exc.code == 404:
            raise PullError(f"{path}: not found (HTTP 404).") from exc
        raise PullError(f"{path}: the RMM answered HTTP {exc.code}.") from exc
    except TimeoutError as exc:
        raise PullError(f"{path}: no answer within {conn.timeout_seconds} s.") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            raise PullError(f"{path}: no answer within {conn.timeout_seconds} s.") from exc
        raise PullError(f"{path}: the RMM could not be reached ({reason}).") from exc
    if len(body) > RESPONSE_MAX_BYTES:
        raise PullError(f"{path}: the answer is larger than {RESPONSE_MAX_BYTES} bytes.")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PullError(f"{path}: the answer is not JSON.") from exc


# --------------------------------------------------------------------------- Tactical RMM → payload


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _wmi_values(rows: Any, key: str) -> list[Any]:
    """Values of ``key`` in a Windows WMI section (a list of objects, each a list of
    one-property dicts, as the Tactical agent sends them)."""
    out: list[Any] = []
    for item in rows if isinstance(rows, list) else []:
        for prop in item if isinstance(item, list) else [item]:
            if isinstance(prop, dict) and key in prop:
                out.append(prop[key])
    return out


_WINDOWS_OS = re.compile(
    r"^(?P<name>[^,]+?)\s*,\s*(?P<bits>\d+\s*bit)?\s*(?:v(?P<release>\S+))?\s*"
    r"\(build\s+(?P<build>[\d.]+)\)"
)


def _os_version(plat: str, text: str, goarch: str) -> dict[str, str]:
    """The agent's ``operating_system`` line as the payload's ``os_version``.

    Windows: ``Windows 11 Pro, 64 bit v23H2 (build 22631.2861)``; Linux and macOS: platform,
    version, architecture and kernel (``Ubuntu 22.04 x86_64 5.15.0-91-generic``,
    ``Darwin 14.2.1 arm64 23.2.0``)."""
    plat = plat.lower()
    if plat == "windows":
        m = _WINDOWS_OS.match(text)
        if not m:
            return {"name": text, "platform": "windows"} if text else {"platform": "windows"}
        build = m.group("build")
        major = build.split(".")[0]
        bits = (m.group("bits") or "").replace(" ", "")
        arch = {"64bit": "x86_64", "32bit": "x86"}.get(bits, goarch or "")
        if (goarch or "").lower() == "arm64":
            arch = "arm64"
        os_info = {
            "name": m.group("name").strip(),
            "build": build,
            "platform": "windows",
            "arch": arch,
        }
        if major.isdigit() and int(major) >= 10240:
            os_info["version"] = f"10.0.{build}"
        return os_info
    parts = text.split()
    if len(parts) >= 2:
        name = parts[0]
        if plat == "darwin" or name.lower() == "darwin":
            name = "macOS"
        os_info = {"name": name, "version": parts[1], "platform": plat or "linux"}
        arch = parts[2] if len(parts) >= 3 else goarch
        if arch:
            os_info["arch"] = arch
        return os_info
    return {"name": text, "platform": plat} if text else ({"platform": plat} if plat else {})


def _addresses(detail: dict[str, Any]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """MACs and IPs: Windows from the WMI network configuration, Linux and macOS from the
    agent's ``local_ips`` (``10.1.2.3/24``)."""
    wmi = detail.get("wmi_detail") if isinstance(detail.get("wmi_detail"), dict) else {}
    macs: list[dict[str, str]] = []
    ips: list[str] = []
    if str(detail.get("plat", "")).lower() == "windows":
        config = wmi.get("network_config")
        for mac in _wmi_values(config, "MACAddress"):
            if isinstance(mac, str) and mac:
                macs.append({"mac": mac})
        for group in _wmi_values(config, "IPAddress"):
            for ip in group if isinstance(group, list) else [group]:
                if isinstance(ip, str):
                    ips.append(ip)
    else:
        for ip in wmi.get("local_ips") or [] if isinstance(wmi.get("local_ips"), list) else []:
            if isinstance(ip, str):
                ips.append(ip.split("/")[0])
    if not ips and isinstance(detail.get("local_ips"), str):
        ips = [p.strip() for p in detail["local_ips"].split(",")]
    clean: list[dict[str, str]] = []
    for ip in ips:
        try:
            ipaddress.ip_address(ip.split("%")[0])
        except ValueError:
            continue  # "error getting local ips" and the like
        clean.append({"address": ip})
    return macs, clean


def _serial(detail: dict[str, Any]) -> str:
    wmi = detail.get("wmi_detail") if isinstance(detail.get("wmi_detail"), dict) else {}
    if str(detail.get("plat", "")).lower() == "windows":
        values = _wmi_values(wmi.get("bios"), "SerialNumber")
        return _text(values[0]) if values else ""
    return _text(wmi.get("serialnumber"))


_SEVERITY = {
    "critical": "critical",
    "important": "high",
    "moderate": "medium",
    "low": "low",
}


def _kb(value: Any) -> str:
    text = _text(value).upper()
    if text and not text.startswith("KB"):
        text = "KB" + text
    return text if re.fullmatch(r"KB\d{5,8}", text) else ""


def tactical_payload(
    agent: dict[str, Any], detail: dict[str, Any], software: Any, updates: Any
) -> dict[str, Any]:
    """One Tactical RMM agent as the discovery payload (DESIGN "The discovery payload")."""
    plat = _text(detail.get("plat") or agent.get("plat"))
    macs, ips = _addresses(detail)
    payload: dict[str, Any] = {
        "system_info": {
            "hostname": detail.get("hostname", agent.get("hostname")),
            "hardware_serial": _serial(detail),
        },
        "os_version": _os_version(
            plat, _text(detail.get("operating_system")), _text(detail.get("goarch"))
        ),
        "interface_details": macs,
        "interface_addresses": ips,
        "collected_at": detail.get("last_seen") or agent.get("last_seen"),
    }
    make_model = _text(detail.get("make_model"))
    if make_model and not make_model.startswith(("error", "unknown")):
        payload["system_info"]["hardware_model"] = make_model
    if isinstance(detail.get("needs_reboot"), bool):
        payload["reboot_pending"] = detail["needs_reboot"]
    # ``[]``: the agent never reported a software list (not collected, nothing removed).
    if isinstance(software, dict):
        rows = software.get("software")
        payload["programs"] = (
            [
                {
                    "name": row.get("name"),
                    "version": row.get("version"),
                    "publisher": row.get("publisher"),
                    "install_date": row.get("install_date"),
                }
                if isinstance(row, dict)
                else row
                for row in rows
            ]
            if isinstance(rows, list)
            else rows
        )
    elif software not in (None, []):
        payload["programs"] = software  # neither shape: the validation says so
    if isinstance(updates, list) and plat.lower() == "windows":
        patches, pending = [], []
        for row in updates:
            if not isinstance(row, dict):
                pending.append(row)
                continue
            kb = _kb(row.get("kb"))
            if row.get("installed") is True:
                if kb:
                    patches.append({"hotfix_id": kb, "installed_on": row.get("date_installed")})
            elif row.get("action") != "ignore":
                pending.append(
                    {
                        "name": row.get("title") or kb,
                        "advisory": kb,
                        "source": "windows_update",
                        "severity": _SEVERITY.get(_text(row.get("severity")).lower(), "unknown"),
                    }
                )
        payload["patches"] = patches
        payload["pending_updates"] = pending
    elif updates is not None and not isinstance(updates, list):
        payload["pending_updates"] = updates
    return payload


# --------------------------------------------------------------------------- the pull


@dataclass
class PullOutcome:
    """What one connection's pull did."""

    devices_listed: int = 0
    devices_ingested: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    run: DiscoveryRun | None = None

    @property
    def status(self) -> str:
        if self.errors and not self.devices_ingested:
            return PullStatus.FAILED
        return PullStatus.PARTIAL if self.errors else PullStatus.SUCCEEDED

    def summary(self) -> str:
        text = f"{self.devices_ingested} of {self.devices_listed} device(s) ingested"
        created = self.counts.get("assets_created", 0)
        if created:
            text += f", {created} new asset(s)"
        opened = self.counts.get("findings_opened", 0)
        if opened:
            text += f", {opened} finding(s) opened"
        if self.errors:
            text += f"; {len(self.errors)} error(s): {self.errors[0]}"
        return text


def _agents(conn: RmmConnection) -> list[dict[str, Any]]:
    query = {"detail": "true"}
    if conn.site_filter:
        query["client"] = conn.site_filter
    body = _get(conn, "/agents/?" + urllib.parse.urlencode(query))
    if not isinstance(body, list):
        raise PullError("/agents/: expected a list of agents.")
    return body


def _device_payload(conn: RmmConnection, agent: dict[str, Any]) -> dict[str, Any]:
    agent_id = urllib.parse.quote(str(agent["agent_id"]), safe="")
    detail = _get(conn, f"/agents/{agent_id}/")
    if not isinstance(detail, dict):
        raise PullError(f"/agents/{agent_id}/: expected an agent object.")
    software = _get(conn, f"/software/{agent_id}/")
    updates = None
    if str(detail.get("plat") or agent.get("plat") or "").lower() == "windows":
        updates = _get(conn, f"/winupdate/{agent_id}/")
    return tactical_payload(agent, detail, software, updates)


def _label(agent: dict[str, Any]) -> str:
    host = agent.get("hostname")
    agent_id = agent.get("agent_id")
    return f"{host} ({agent_id})" if isinstance(host, str) and host else f"agent {agent_id!r}"


def pull_connection(conn: RmmConnection, *, now: datetime | None = None) -> PullOutcome:
    """Read every device of one connection and ingest the valid ones (one transaction, one
    DiscoveryRun named after the connection); the connection's last pull status follows."""
    now = now or timezone.now()
    outcome = PullOutcome()
    prefix = conn.source_name
    devices = []
    try:
        agents = _agents(conn)
    except PullError as exc:
        outcome.errors.append(f"{prefix}: {exc}")
        agents = []
    outcome.devices_listed = len(agents)
    for index, agent in enumerate(agents):
        if not isinstance(agent, dict) or not isinstance(agent.get("agent_id"), str | int):
            outcome.errors.append(f"{prefix}: /agents/ item {index} has no agent_id; left out.")
            continue
        try:
            payload = _device_payload(conn, agent)
            devices.extend(validate_payloads(payload))
        except PullError as exc:
            outcome.errors.append(f"{prefix}: {_label(agent)}: {exc} Left out.")
        except PayloadError as exc:
            outcome.errors.append(f"{prefix}: {_label(agent)}: {exc}. Left out.")
    started = timezone.now()
    try:
        with transaction.atomic():
            run = _record(conn, outcome, devices, started=started, now=now)
    except Exception as exc:  # noqa: BLE001 - the ingest wrote nothing; said on the run
        outcome.counts, outcome.devices_ingested = {}, 0
        outcome.errors.append(f"{prefix}: the devices could not be recorded ({exc}).")
        with transaction.atomic():
            run = _record(conn, outcome, [], started=started, now=now)
    outcome.run = run
    return outcome


def _record(
    conn: RmmConnection,
    outcome: PullOutcome,
    devices: list[Any],
    *,
    started: datetime,
    now: datetime,
) -> DiscoveryRun:
    """Ingest the pulled devices and record the pull (inside the caller's transaction)."""
    run = DiscoveryRun.objects.create(
        source=DiscoveryRunSource.RMM,
        source_name=conn.source_name,
        format=conn.kind,
        actor="system:discovery",
        started_at=started,
    )
    if devices:
        summary = ingest_payloads(
            devices=devices,
            source=AssetSource.RMM,
            actor="system:discovery",
            run=run,
            business_attributes=False,
        )
        outcome.counts = summary.as_counts()
        outcome.devices_ingested = len(devices)
    run.counts = {"devices_listed": outcome.devices_listed, **outcome.counts}
    run.errors = list(outcome.errors)
    run.status = {
        PullStatus.SUCCEEDED: DiscoveryRunStatus.SUCCEEDED,
        PullStatus.PARTIAL: DiscoveryRunStatus.PARTIAL,
        PullStatus.FAILED: DiscoveryRunStatus.FAILED,
    }[outcome.status]
    run.finished_at = max(timezone.now(), started)
    run.save(update_fields=["counts", "errors", "status", "finished_at"])
    RmmConnection.objects.filter(pk=conn.pk).update(
        last_pull_at=now,
        last_pull_status=outcome.status,
        last_pull_summary=outcome.summary()[:2000],
    )
    return run


def scheduled_pull(*, client: Any, now: datetime) -> PullResult:
    """The RMM part of the client's scheduled discovery (``inventory.hooks``): every enabled
    connection, its counts under ``rmm_…`` and its errors as lines of the run."""
    result = PullResult()
    for conn in RmmConnection.objects.filter(is_enabled=True).order_by("pk"):
        try:
            outcome = pull_connection(conn, now=now)
        except Exception as exc:  # noqa: BLE001 - one connection never stops the others
            result.sources += 1
            result.errors.append(f"{conn.source_name}: the pull failed ({exc}).")
            continue
        result.sources += 1
        result.counts["rmm_devices_listed"] = (
            result.counts.get("rmm_devices_listed", 0) + outcome.devices_listed
        )
        result.counts["rmm_devices_ingested"] = (
            result.counts.get("rmm_devices_ingested", 0) + outcome.devices_ingested
        )
        for name, value in outcome.counts.items():
            if name == "devices":
                continue
            key = f"rmm_{name}"
            result.counts[key] = result.counts.get(key, 0) + int(value)
        result.errors.extend(outcome.errors)
    return result


def test_connection(conn: RmmConnection) -> tuple[bool, str]:
    """One read of the agent list: whether the RMM answers this key, and how many agents it
    lists (nothing is written)."""
    try:
        agents = _agents(conn)
    except PullError as exc:
        return False, str(exc)
    return True, f"{conn.get_kind_display()} answered: {len(agents)} agent(s) listed."


test_connection.__test__ = False  # type: ignore[attr-defined] - not a pytest test
