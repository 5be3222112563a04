"""Restarting after a patch job, as the job's reboot policy says (the job's ``reboot`` object):

* ``scheduled``: a restart at the policy's time (``at``, computed by the portal in the client's
  zone): ``shutdown /r /t <seconds>`` on Windows, ``shutdown -r +<minutes>`` on macOS and Linux;
* ``user_prompted``: a restart at the deadline, and a notice offering "Restart now" or a snooze
  (a PowerShell popup on Windows, an ``osascript`` dialog on macOS, repeated after each snooze);
  on Linux a ``wall`` message and ``shutdown -r +<minutes>``, which warns logged-in users too;
* ``manual_approval``: no restart until a person approves it in the portal; the approved restart
  arrives as a ``reboot`` job and runs within a minute.

``reboot_plan`` builds the commands (what a dry run prints); ``carry_out`` runs them.
"""

from __future__ import annotations

import math
import platform
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from patchops_agent.base import UTC, run

WINDOWS_REBOOT_KEYS = (
    r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired",
    r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending",
)

# The longest delay Windows' shutdown accepts (ten years, in seconds).
_WINDOWS_MAX_DELAY = 315360000

_NOTICE_CHARS = re.compile(r"[^A-Za-z0-9 .,:;!?()/+@_\-]")

TITLE = "PatchOps"


def restart_pending(
    system: str | None = None, installed: list[dict[str, Any]] | None = None
) -> bool:
    """Whether this machine waits for a restart to finish its updates."""
    system = system or platform.system()
    if system == "Linux":
        if Path("/var/run/reboot-required").exists():
            return True
        if shutil.which("needs-restarting"):
            try:
                done = subprocess.run(
                    ["needs-restarting", "-r"],
                    capture_output=True,
                    timeout=60,
                    stdin=subprocess.DEVNULL,
                )
            except (OSError, subprocess.SubprocessError):
                return False
            return done.returncode == 1
        return False
    if system == "Windows":
        return any(run(["reg", "query", key]) is not None for key in WINDOWS_REBOOT_KEYS)
    if system == "Darwin":
        # softwareupdate ends an install that needs one with "Please restart immediately."
        return any("restart" in str(p.get("message") or "").casefold() for p in installed or [])
    return False


def _clean(text: str) -> str:
    """A notice safe inside any of the shells' quotes."""
    return _NOTICE_CHARS.sub("", text)[:250]


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _restart_in(system: str, seconds: int, notice: str) -> list[str]:
    if system == "Windows":
        delay = min(max(seconds, 0), _WINDOWS_MAX_DELAY)
        return ["shutdown", "/r", "/t", str(delay), "/c", notice]
    minutes = max(1, math.ceil(seconds / 60))
    return ["shutdown", "-r", f"+{minutes}", notice]


def _prompt_script(system: str, notice: str, snoozes: int, snooze_minutes: int) -> list[str]:
    """The notice loop: "Restart now" restarts at once, a snooze asks again later; the restart at
    the deadline stands either way."""
    if system == "Windows":
        script = (
            "$w=New-Object -ComObject WScript.Shell;"
            f"for($i=0;$i -le {snoozes};$i++){{"
            f"$a=$w.Popup('{notice} Restart now? (No: snooze {snooze_minutes} minutes)',"
            f"{snooze_minutes * 60},'{TITLE}',36);"
            "if($a -eq 6){shutdown /a;shutdown /r /t 0;break};"
            f"Start-Sleep -Seconds {snooze_minutes * 60}}}"
        )
        return ["powershell", "-NoProfile", "-NonInteractive", "-Command", script]
    dialog = (
        f'display dialog "{notice}" with title "{TITLE}" '
        f'buttons {{"Snooze {snooze_minutes} min", "Restart now"}} '
        f'default button "Restart now" giving up after {snooze_minutes * 60}'
    )
    loop = (
        f"i=0; while [ $i -le {snoozes} ]; do "
        f"osascript -e '{dialog}' | grep -q 'Restart now' && "
        "{ shutdown -r now; break; }; "
        f"i=$((i+1)); sleep {snooze_minutes * 60}; done"
    )
    return ["/bin/sh", "-c", loop]


def reboot_plan(
    reboot: dict[str, Any], system: str, *, now: datetime, action: str = "install"
) -> dict[str, Any]:
    """What the policy does on ``system`` (``Windows``, ``Darwin``, ``Linux``): a summary line,
    the commands run in order and, for the notice, the one run in the background."""
    policy = str(reboot.get("policy") or "manual_approval")
    plan: dict[str, Any] = {"policy": policy, "commands": [], "background": None}
    if action == "reboot" or (policy == "manual_approval" and reboot.get("approved")):
        by = _clean(str(reboot.get("approved_by") or "a person"))
        notice = _clean(f"Restart approved by {by}: this computer restarts in one minute.")
        plan["commands"] = [_restart_in(system, 60, notice)]
        plan["summary"] = f"restart approved by {by}: restarting in one minute"
        return plan
    if policy == "scheduled":
        at = _parse(reboot.get("at"))
        if at is None:
            plan["summary"] = "scheduled restart without a time: not restarting"
            return plan
        seconds = max(0, int((at - now).total_seconds()))
        where = f"{reboot.get('local', '')} {reboot.get('timezone', '')}".strip()
        notice = _clean(f"Scheduled restart for updates at {where}.")
        plan["commands"] = [_restart_in(system, seconds, notice)]
        plan["at"] = at.isoformat()
        plan["summary"] = f"scheduled restart at {where} ({at.astimezone(UTC).isoformat()})"
        if reboot.get("within_window") is False:
            plan["summary"] += ", after the job's maintenance window closes"
        return plan
    if policy == "user_prompted":
        deadline_minutes = int(reboot.get("deadline_minutes") or 240)
        snoozes = int(reboot.get("snoozes") or 0)
        snooze_minutes = int(reboot.get("snooze_minutes") or 60)
        deadline = now + timedelta(minutes=deadline_minutes)
        notice = _clean(
            f"{reboot.get('message') or 'Updates were installed.'} "
            f"Deadline {deadline.strftime('%H:%M')} UTC."
        )
        plan["at"] = deadline.isoformat()
        restart = _restart_in(system, deadline_minutes * 60, notice)
        if system in ("Windows", "Darwin"):
            plan["commands"] = [restart]
            plan["background"] = _prompt_script(system, notice, snoozes, snooze_minutes)
            plan["summary"] = (
                f"notice with a deadline of {deadline_minutes} minutes and "
                f"{snoozes} snoozes of {snooze_minutes} minutes"
            )
        else:
            plan["commands"] = [["wall", notice], restart]
            plan["summary"] = f"wall message, restart in {deadline_minutes} minutes"
        return plan
    plan["summary"] = "restart awaits approval in the portal: not restarting"
    return plan


def describe(plan: dict[str, Any], system: str) -> list[str]:
    """The plan as log lines."""
    lines = [f"reboot policy {plan['policy']} on {system}: {plan['summary']}"]
    lines += ["would run: " + " ".join(c) for c in plan["commands"]]
    if plan.get("background"):
        lines.append("would run in the background: " + " ".join(plan["background"]))
    return lines


def carry_out(plan: dict[str, Any], log_lines: list[str]) -> bool:
    """Run the plan's commands (and start its notice loop); False when one fails."""
    for command in plan["commands"]:
        log_lines.append("$ " + " ".join(command))
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=120, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.SubprocessError) as exc:
            log_lines.append(f"{command[0]}: {exc}")
            return False
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode("utf-8", errors="replace")
            log_lines.append(f"exit {done.returncode}: {output.strip()[-300:]}")
            return False
    if plan.get("background"):
        log_lines.append("$ " + " ".join(plan["background"]) + " &")
        try:
            subprocess.Popen(
                plan["background"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            log_lines.append(f"{plan['background'][0]}: {exc}")
            return False
    return True
