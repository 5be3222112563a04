"""Run the jobs PatchOps queues — install, snapshot, rollback with the platform's package tool,
an approved restart, a network scan with ``nmap`` on a scanner agent — and report their result."""

from __future__ import annotations

import ipaddress
import os
import platform
import re
import shutil
import subprocess
from datetime import datetime
from typing import Any

from patchops_agent.base import INSTALL_TIMEOUT, UTC, now_iso
from patchops_agent.parsers.powershell import _as_list
from patchops_agent.reboot import carry_out, describe, reboot_plan, restart_pending

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._:~@/\-]{0,200}$")


_SAFE_LABEL = re.compile(r"^[A-Za-z0-9][^\x00-\x1f]{0,200}$")


_JOB_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")

_PORTS = re.compile(r"^\d{1,5}(-\d{1,5})?(,\d{1,5}(-\d{1,5})?)*$")
# The portal's limits (integrations.scans): the largest subnet one job scans, the most XML sent.
SCAN_MIN_PREFIX = {4: 16, 6: 112}
NMAP_XML_MAX_BYTES = 768 * 1024
SCAN_TIMEOUT = 3 * 3600


def package_tool() -> str | None:
    system = platform.system()
    if system == "Linux":
        if shutil.which("apt-get"):
            return "apt"
        if shutil.which("dnf") or shutil.which("yum"):
            return "dnf"
    if system == "Darwin" and shutil.which("softwareupdate"):
        return "softwareupdate"
    if system == "Windows":
        return "windows"
    return None


def job_command(tool: str, action: str, package: dict[str, Any], dry_run: bool) -> list[str]:
    """The command that applies one package of a job (or simulates it)."""
    name = str(package.get("name") or "")
    version = package.get("version") or None  # the server sends "" when it knows no version
    pattern = _SAFE_LABEL if tool in ("softwareupdate", "windows") else _SAFE_NAME
    if not pattern.match(name) or (version is not None and not _SAFE_NAME.match(str(version))):
        raise ValueError(f"refusing unsafe package name or version {name!r} {version!r}")
    if tool == "apt":
        if action == "rollback" and not version:
            raise ValueError(f"rolling back {name} with apt needs the version to return to")
        spec = f"{name}={version}" if version else name
        command = ["apt-get", "-s" if dry_run else "-y", "install", "--no-install-recommends"]
        if action == "rollback":
            command.append("--allow-downgrades")
        return command + [spec]
    if tool == "dnf":
        exe = "dnf" if shutil.which("dnf") else "yum"
        spec = f"{name}-{version}" if version else name
        verb = "downgrade" if action == "rollback" else "install"
        return [exe, verb, "--assumeno" if dry_run else "-y", spec]
    if tool == "softwareupdate":
        if action == "rollback":
            raise ValueError("macOS updates cannot be rolled back with softwareupdate")
        return ["softwareupdate", "--list"] if dry_run else ["softwareupdate", "-i", name]
    if tool == "windows":
        kb = re.fullmatch(r"KB(\d+)", package.get("advisory") or name, re.IGNORECASE)
        if kb:
            number = kb.group(1)
            if action == "rollback":
                return ["wusa.exe", "/uninstall", f"/kb:{number}", "/quiet", "/norestart"]
            return _windows_update_command(number, dry_run)
        if action == "rollback" and not version:
            raise ValueError(f"rolling back {name} with winget needs the version to return to")
        command = [
            "winget",
            "upgrade" if action == "install" else "install",
            "--id",
            name,
            "--exact",
        ]
        if version:
            command += ["--version", str(version)]
        command += ["--silent", "--accept-package-agreements", "--accept-source-agreements"]
        return ["winget", "show", "--id", name, "--exact"] if dry_run else command
    raise ValueError(f"no package tool for {tool}")


def _windows_update_command(kb: str, dry_run: bool) -> list[str]:
    script = (
        "$ErrorActionPreference='Stop';"
        "$s=New-Object -ComObject Microsoft.Update.Session;"
        "$r=$s.CreateUpdateSearcher().Search('IsInstalled=0');"
        f"$u=@($r.Updates|Where-Object {{$_.KBArticleIDs -contains '{kb}'}});"
        f"if($u.Count -eq 0){{Write-Error 'KB{kb} is not offered to this machine'}};"
    )
    if not dry_run:
        script += (
            "$c=New-Object -ComObject Microsoft.Update.UpdateColl;$u|%{$c.Add($_)|Out-Null};"
            "$d=$s.CreateUpdateDownloader();$d.Updates=$c;$d.Download()|Out-Null;"
            "$i=$s.CreateUpdateInstaller();$i.Updates=$c;$res=$i.Install();"
            "if($res.ResultCode -ne 2){Write-Error ('install result '+$res.ResultCode)}"
        )
    exe = shutil.which("powershell") or "powershell"
    return [exe, "-NoProfile", "-NonInteractive", "-Command", script]


def snapshot_command(dry_run: bool) -> list[str] | None:
    system = platform.system()
    if system == "Windows":
        script = (
            "Checkpoint-Computer -Description 'PatchOps pre-patch'"
            " -RestorePointType MODIFY_SETTINGS"
        )
        return None if dry_run else ["powershell", "-NoProfile", "-Command", script]
    if system == "Darwin":
        return None if dry_run else ["tmutil", "localsnapshot"]
    if shutil.which("snapper"):
        return None if dry_run else ["snapper", "create", "--description", "PatchOps pre-patch"]
    if shutil.which("timeshift"):
        return None if dry_run else ["timeshift", "--create", "--comments", "PatchOps pre-patch"]
    raise ValueError(
        "no snapshot tool on this machine (snapper, timeshift, tmutil or System Restore)"
    )


def _run_logged(command: list[str], log_lines: list[str], timeout: int) -> tuple[bool, str]:
    log_lines.append("$ " + " ".join(command))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            command, capture_output=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        message = f"{command[0]} is not installed"
        log_lines.append(message)
        return False, message
    except subprocess.TimeoutExpired:
        message = f"{command[0]} did not finish within {timeout} s"
        log_lines.append(message)
        return False, message
    output = (done.stdout + done.stderr).decode("utf-8", errors="replace")
    log_lines.append(output.rstrip()[-4000:])
    ok = done.returncode == 0
    if not ok and "--assumeno" in command and "Operation aborted" in output:
        ok = True  # dnf --assumeno answers "no" on purpose and exits 1
    lines = [line for line in output.strip().splitlines() if line.strip()]
    message = (lines[-1] if lines else "")[:300]
    if not ok:
        message = f"exit {done.returncode}: {message}"
    return ok, message


def scan_command(scan: Any) -> list[str]:
    """The ``nmap`` command of a network scan job: fixed arguments, the subnet and options
    checked again here (``ValueError`` names what is refused), XML on standard output."""
    if not isinstance(scan, dict):
        raise ValueError("the job names no scan")
    subnet = scan.get("subnet")
    try:
        network = ipaddress.ip_network(str(subnet or ""))
    except ValueError:
        raise ValueError(f"refusing to scan {subnet!r}: not a network in CIDR form") from None
    if network.prefixlen < SCAN_MIN_PREFIX[network.version]:
        raise ValueError(f"refusing to scan {network}: larger than the /{SCAN_MIN_PREFIX[4]} limit")
    timing = scan.get("timing", 3)
    if not isinstance(timing, int) or isinstance(timing, bool) or not 0 <= timing <= 5:
        raise ValueError(f"refusing timing {timing!r}: expected 0 to 5")
    command = ["nmap", "-oX", "-", "-T" + str(timing)]
    ports, top = scan.get("ports") or "", scan.get("top_ports")
    if ports:
        if not isinstance(ports, str) or len(ports) > 200 or not _PORTS.match(ports):
            raise ValueError(f"refusing ports {ports!r}")
        command += ["-p", ports]
    else:
        if not isinstance(top, int) or isinstance(top, bool) or not 1 <= top <= 1000:
            raise ValueError(f"refusing top ports {top!r}: expected 1 to 1000")
        command += ["--top-ports", str(top)]
    if network.version == 6:
        command.append("-6")
    return command + [str(network)]


def _run_scan(command: list[str], log_lines: list[str]) -> tuple[str, str]:
    """Run nmap; ``(xml, "")`` or ``("", the reason it failed)``."""
    log_lines.append("$ " + " ".join(command))
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            timeout=SCAN_TIMEOUT,
            env={**os.environ, "LC_ALL": "C"},
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return "", "nmap is not installed on this scanner"
    except subprocess.TimeoutExpired:
        return "", f"nmap did not finish within {SCAN_TIMEOUT} s"
    errors = done.stderr.decode("utf-8", errors="replace").strip()
    if errors:
        log_lines.append(errors[-4000:])
    if done.returncode != 0:
        last = errors.splitlines()[-1] if errors else ""
        return "", f"nmap exit {done.returncode}: {last[:300]}"
    if len(done.stdout) > NMAP_XML_MAX_BYTES:
        return "", (
            f"nmap printed {len(done.stdout):,} bytes of XML, more than the "
            f"{NMAP_XML_MAX_BYTES:,} a scan may report: scan a smaller subnet"
        )
    xml = done.stdout.decode("utf-8", errors="replace")
    log_lines.append(f"nmap printed {len(done.stdout):,} bytes of XML")
    return xml, ""


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_job(
    job: dict[str, Any], agent: str, *, dry_run: bool, system: str | None = None
) -> dict[str, Any]:
    """Run one job and return the result body the server expects.

    ``system`` (``platform.system()`` by default) names the OS family whose restart commands
    the job's reboot policy uses."""
    system = system or platform.system()
    started = now_iso()
    action = job.get("action")
    packages = [p for p in _as_list(job.get("packages")) if isinstance(p, dict)]
    log_lines: list[str] = [f"job {job.get('id')} action={action} dry_run={dry_run}"]
    results: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    not_after = _parse_time(job.get("not_after"))
    tool = package_tool()
    reboot = job.get("reboot") if isinstance(job.get("reboot"), dict) else {}
    if not reboot.get("policy"):
        reboot = {**reboot, "policy": job.get("reboot_policy") or "manual_approval"}

    pending = {"restart": False}

    def finish(status: str) -> dict[str, Any]:
        return {
            "agent_id": agent,
            "status": status,
            "dry_run": dry_run,
            "started_at": started,
            "finished_at": now_iso(),
            "packages": results,
            "log": "\n".join(log_lines)[-60000:],
            "reboot_required": pending["restart"],
        }

    def skip_all(message: str) -> dict[str, Any]:
        log_lines.append(message)
        for package in packages:
            results.append(
                {
                    "name": package.get("name"),
                    "version": package.get("version"),
                    "status": "skipped",
                    "message": message,
                }
            )
        return finish("failed")

    if not_after is not None and now > not_after:
        return skip_all(f"the job's window closed at {job.get('not_after')}; nothing was run")
    if action == "reboot":
        plan = reboot_plan(reboot, system, now=now, action="reboot")
        log_lines.extend(describe(plan, system))
        if dry_run:
            return finish("succeeded")
        return finish("succeeded" if carry_out(plan, log_lines) else "failed")
    if action == "network_scan":
        try:
            command = scan_command(job.get("scan"))
        except ValueError as exc:
            log_lines.append(str(exc))
            return finish("failed")
        if dry_run:
            log_lines.append("would run: " + " ".join(command))
            return finish("succeeded")
        xml, failure = _run_scan(command, log_lines)
        if failure:
            log_lines.append(failure)
            return finish("failed")
        return {**finish("succeeded"), "nmap_xml": xml}
    if action == "snapshot":
        try:
            command = snapshot_command(dry_run)
        except ValueError as exc:
            log_lines.append(str(exc))
            return finish("failed")
        if command is None:
            log_lines.append("dry run: a snapshot would be taken")
            return finish("succeeded")
        ok, _message = _run_logged(command, log_lines, INSTALL_TIMEOUT)
        return finish("succeeded" if ok else "failed")
    if action not in ("install", "rollback"):
        return skip_all(f"unknown action {action!r}")
    if tool is None:
        return skip_all(f"no supported package tool on {platform.system()}")
    # A package of an install job ends "installed", one of a rollback job "rolled_back".
    done = "rolled_back" if action == "rollback" else "installed"
    for package in packages:
        entry = {"name": package.get("name"), "version": package.get("version")}
        try:
            command = job_command(tool, action, package, dry_run)
        except ValueError as exc:
            log_lines.append(str(exc))
            results.append({**entry, "status": "failed", "message": str(exc)})
            continue
        ok, message = _run_logged(command, log_lines, INSTALL_TIMEOUT)
        results.append({**entry, "status": done if ok else "failed", "message": message})
    ok = bool(results) and all(r["status"] == done for r in results)
    installed = [r for r in results if r["status"] == done]
    pending["restart"] = restart_pending(system, installed)
    plan = reboot_plan(reboot, system, now=datetime.now(UTC), action=action)
    log_lines.extend(describe(plan, system))
    if dry_run:
        log_lines.append(
            "a restart is pending now" if pending["restart"] else "no restart is pending now"
        )
    elif pending["restart"] and plan["commands"] and not carry_out(plan, log_lines):
        log_lines.append("the restart could not be arranged; it stays pending")
    return finish("succeeded" if ok else "failed")
