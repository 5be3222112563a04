"""``patchops-agent service install|uninstall|status``: the agent as a resident service.

Per operating system it writes what the system's own scheduler runs every few minutes
(``patchops-agent run-once``, which decides what is due):

* Linux: a systemd service (``Type=oneshot``) and its timer in ``/etc/systemd/system``;
* macOS: a launchd daemon ``/Library/LaunchDaemons/com.patchops.agent.plist``;
* Windows: a Task Scheduler task (schema 1.2, registered with ``schtasks /Create /XML``) that runs
  as SYSTEM.

Beside it the agent's configuration (server URL, where the token and the state are) and the token
file, readable by the agent's user only (POSIX: folder 700, file 600; Windows: ``icacls`` leaves
SYSTEM and Administrators). ``--root`` writes everything below another folder (a staging image,
a test) and runs no command; ``--dry-run`` prints the files and commands and writes nothing.
``uninstall`` stops the service and removes units, configuration, token, state and the
installed program, naming each path it removed; run again it finds nothing and says so.
"""

from __future__ import annotations

import json
import os
import platform
import plistlib
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from patchops_agent.base import EXIT_OK, EXIT_USAGE, AgentError, log

LINUX, MACOS, WINDOWS = "linux", "macos", "windows"
OSES = (LINUX, MACOS, WINDOWS)
UNIT = "patchops-agent"
LAUNCHD_LABEL = "com.patchops.agent"
TASK_NAME = r"\PatchOps\PatchOps Agent"
TASK_NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"
ARCHIVE_NAME = "patchops-agent.pyz"
# Well-known SIDs, so the ACL is right whatever the system's language: LocalSystem, Administrators.
SYSTEM_SID, ADMINISTRATORS_SID = "S-1-5-18", "S-1-5-32-544"
DEFAULT_INTERVAL_MINUTES = 5
DEFAULT_PYTHON = {
    LINUX: "/usr/bin/python3",
    MACOS: "/usr/bin/python3",
    WINDOWS: r"C:\Windows\py.exe",
}


def host_os() -> str:
    system = platform.system()
    return {"Darwin": MACOS, "Windows": WINDOWS}.get(system, LINUX)


@dataclass(frozen=True)
class Layout:
    """Where the installed agent lives on a device of ``os_name`` (device paths, as the service
    definition names them)."""

    os_name: str
    program_dir: str
    config_dir: str
    state_dir: str
    units: tuple[str, ...]
    log_dir: str = ""

    @property
    def _sep(self) -> str:
        return "\\" if self.os_name == WINDOWS else "/"

    def join(self, folder: str, name: str) -> str:
        return folder.rstrip("\\/") + self._sep + name

    @property
    def config_file(self) -> str:
        return self.join(self.config_dir, "agent.json")

    @property
    def token_file(self) -> str:
        return self.join(self.config_dir, "token")

    @property
    def program(self) -> str:
        return self.join(self.program_dir, ARCHIVE_NAME)


LAYOUTS = {
    LINUX: Layout(
        LINUX,
        program_dir="/opt/patchops-agent",
        config_dir="/etc/patchops-agent",
        state_dir="/var/lib/patchops-agent",
        units=(
            f"/etc/systemd/system/{UNIT}.service",
            f"/etc/systemd/system/{UNIT}.timer",
        ),
    ),
    MACOS: Layout(
        MACOS,
        program_dir="/usr/local/libexec/patchops-agent",
        config_dir="/Library/Application Support/PatchOps/agent",
        state_dir="/Library/Application Support/PatchOps/agent/state",
        units=(f"/Library/LaunchDaemons/{LAUNCHD_LABEL}.plist",),
        log_dir="/Library/Logs/PatchOps",
    ),
    WINDOWS: Layout(
        WINDOWS,
        program_dir=r"C:\Program Files\PatchOps\Agent",
        config_dir=r"C:\ProgramData\PatchOps\agent",
        state_dir=r"C:\ProgramData\PatchOps\agent\state",
        units=(r"C:\ProgramData\PatchOps\agent\patchops-agent-task.xml",),
    ),
}


def host_path(device_path: str, os_name: str, root: Path | None) -> Path:
    """The real path of ``device_path``: itself, or below ``root`` (``C:\\X`` → ``root/C/X``)."""
    if root is None:
        return Path(device_path)
    if os_name == WINDOWS:
        pure = PureWindowsPath(device_path)
        return root.joinpath(pure.drive.rstrip(":") or "_", *pure.parts[1:])
    return root.joinpath(*PurePosixPath(device_path).parts[1:])


# --- what the scheduler runs -----------------------------------------------------------------


def running_archive() -> Path | None:
    """The .pyz this agent runs from, or None when it runs from an installed package."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if parent.is_file():
            return parent
    return None


def run_command(layout: Layout, python: str, from_archive: bool) -> list[str]:
    """The command line the scheduler starts."""
    program = [layout.program] if from_archive else ["-m", "patchops_agent"]
    return [python, *program, "run-once", "--config", layout.config_file]


def _systemd_quote(arg: str) -> str:
    arg = arg.replace("%", "%%")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_units(command: list[str], interval_minutes: int) -> dict[str, str]:
    """The service and timer files, by file name."""
    service = "\n".join(
        [
            "[Unit]",
            "Description=PatchOps agent: inventory and patch jobs",
            "Wants=network-online.target",
            "After=network-online.target",
            "",
            "[Service]",
            "Type=oneshot",
            "ExecStart=" + " ".join(_systemd_quote(a) for a in command),
            # Install jobs may take long; the next timer start waits for this run to end.
            "TimeoutStartSec=6h",
            "Nice=10",
            "UMask=0077",
            "",
        ]
    )
    timer = "\n".join(
        [
            "[Unit]",
            f"Description=Start the PatchOps agent every {interval_minutes} minutes",
            "",
            "[Timer]",
            "OnBootSec=2min",
            f"OnUnitInactiveSec={interval_minutes}min",
            "RandomizedDelaySec=1min",
            "AccuracySec=30s",
            f"Unit={UNIT}.service",
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ]
    )
    return {f"{UNIT}.service": service, f"{UNIT}.timer": timer}


def launchd_plist(command: list[str], layout: Layout, interval_minutes: int) -> bytes:
    log_file = layout.join(layout.log_dir, "agent.log")
    return plistlib.dumps(
        {
            "Label": LAUNCHD_LABEL,
            "ProgramArguments": command,
            "StartInterval": interval_minutes * 60,
            "RunAtLoad": True,
            "ProcessType": "Background",
            "Nice": 10,
            "Umask": 0o077,
            "WorkingDirectory": layout.state_dir,
            "StandardOutPath": log_file,
            "StandardErrorPath": log_file,
        }
    )


def task_xml(command: list[str], layout: Layout, interval_minutes: int) -> bytes:
    """A Task Scheduler 1.2 task: at boot and every ``interval_minutes``, as SYSTEM, one
    instance at a time. UTF-16 with its byte order mark, as ``schtasks /XML`` reads it best."""
    ET.register_namespace("", TASK_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        element = ET.SubElement(parent, f"{{{TASK_NS}}}{tag}")
        if text is not None:
            element.text = text
        return element

    task = ET.Element(f"{{{TASK_NS}}}Task", {"version": "1.2"})
    info = sub(task, "RegistrationInfo")
    sub(info, "Author", "PatchOps")
    sub(info, "Description", "PatchOps agent: inventory and patch jobs (patchops-agent run-once)")
    sub(info, "URI", TASK_NAME)
    triggers = sub(task, "Triggers")
    boot = sub(triggers, "BootTrigger")
    sub(boot, "Enabled", "true")
    sub(boot, "Delay", "PT2M")
    timer = sub(triggers, "TimeTrigger")
    repetition = sub(timer, "Repetition")
    sub(repetition, "Interval", f"PT{interval_minutes}M")
    sub(repetition, "StopAtDurationEnd", "false")
    sub(timer, "StartBoundary", "2000-01-01T00:00:00")
    sub(timer, "Enabled", "true")
    sub(timer, "RandomDelay", "PT1M")
    principal = sub(sub(task, "Principals"), "Principal", None)
    principal.set("id", "Author")
    sub(principal, "UserId", SYSTEM_SID)
    sub(principal, "RunLevel", "HighestAvailable")
    settings = sub(task, "Settings")
    sub(settings, "MultipleInstancesPolicy", "IgnoreNew")
    sub(settings, "DisallowStartIfOnBatteries", "false")
    sub(settings, "StopIfGoingOnBatteries", "false")
    sub(settings, "AllowHardTerminate", "true")
    sub(settings, "StartWhenAvailable", "true")
    sub(settings, "RunOnlyIfNetworkAvailable", "false")
    sub(settings, "AllowStartOnDemand", "true")
    sub(settings, "Enabled", "true")
    sub(settings, "Hidden", "false")
    sub(settings, "ExecutionTimeLimit", "PT6H")
    sub(settings, "Priority", "7")
    actions = sub(task, "Actions")
    actions.set("Context", "Author")
    execute = sub(actions, "Exec")
    sub(execute, "Command", command[0])
    sub(execute, "Arguments", subprocess.list2cmdline(command[1:]))
    sub(execute, "WorkingDirectory", layout.state_dir)
    if hasattr(ET, "indent"):  # Python 3.9+
        ET.indent(task)
    text = '<?xml version="1.0" encoding="UTF-16"?>\n' + ET.tostring(task, encoding="unicode")
    return text.encode("utf-16")


# --- the plan: files and commands ------------------------------------------------------------


@dataclass
class Plan:
    os_name: str
    layout: Layout
    root: Path | None
    files: list[tuple[str, bytes, int]] = field(default_factory=list)  # device path, body, mode
    dirs: list[tuple[str, int]] = field(default_factory=list)
    copy_program: Path | None = None
    before: list[list[str]] = field(default_factory=list)
    after: list[list[str]] = field(default_factory=list)

    def path(self, device_path: str) -> Path:
        return host_path(device_path, self.os_name, self.root)


def _windows_acl(path: str, *, folder: bool) -> list[str]:
    inherit = "(OI)(CI)" if folder else ""
    return [
        "icacls",
        path,
        "/inheritance:r",
        "/grant:r",
        f"*{SYSTEM_SID}:{inherit}F",
        f"*{ADMINISTRATORS_SID}:{inherit}F",
    ]


def install_plan(
    *,
    os_name: str,
    url: str,
    token: str,
    root: Path | None,
    python: str,
    interval_minutes: int,
    archive: Path | None,
) -> Plan:
    layout = LAYOUTS[os_name]
    plan = Plan(os_name, layout, root, copy_program=archive)
    # Another OS's files name the archive the installer copies (no package is installed there).
    command = run_command(layout, python, archive is not None or os_name != host_os())
    config = {
        "url": url,
        "os": os_name,
        "token_file": layout.token_file,
        "state_dir": layout.state_dir,
    }
    for folder in (layout.config_dir, layout.state_dir):
        plan.dirs.append((folder, 0o700))
    if archive is not None:
        plan.dirs.append((layout.program_dir, 0o755))
    if layout.log_dir:
        plan.dirs.append((layout.log_dir, 0o755))
    plan.files.append(
        (layout.config_file, (json.dumps(config, indent=2) + "\n").encode("utf-8"), 0o600)
    )
    plan.files.append((layout.token_file, (token + "\n").encode("utf-8"), 0o600))
    if os_name == LINUX:
        units = systemd_units(command, interval_minutes)
        for unit_path in layout.units:
            plan.dirs.append((unit_path.rsplit("/", 1)[0], 0o755))
            plan.files.append((unit_path, units[unit_path.rsplit("/", 1)[1]].encode(), 0o644))
        plan.after = [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", f"{UNIT}.timer"],
            ["systemctl", "start", "--no-block", f"{UNIT}.service"],
        ]
    elif os_name == MACOS:
        [plist_path] = layout.units
        plan.dirs.append((plist_path.rsplit("/", 1)[0], 0o755))
        plan.files.append((plist_path, launchd_plist(command, layout, interval_minutes), 0o644))
        plan.before = [["launchctl", "bootout", f"system/{LAUNCHD_LABEL}"]]
        plan.after = [["launchctl", "bootstrap", "system", plist_path]]
    else:
        [xml_path] = layout.units
        plan.files.append((xml_path, task_xml(command, layout, interval_minutes), 0o600))
        plan.after = [
            _windows_acl(layout.config_dir, folder=True),
            _windows_acl(layout.token_file, folder=False),
            ["schtasks", "/Create", "/TN", TASK_NAME, "/XML", xml_path, "/F"],
            ["schtasks", "/Run", "/TN", TASK_NAME],
        ]
    return plan


def uninstall_commands(os_name: str) -> tuple[list[list[str]], list[list[str]]]:
    """Commands before removing the files (stop and unregister) and after."""
    if os_name == LINUX:
        return (
            [
                ["systemctl", "disable", "--now", f"{UNIT}.timer"],
                ["systemctl", "stop", f"{UNIT}.service"],
            ],
            [["systemctl", "daemon-reload"]],
        )
    if os_name == MACOS:
        return [["launchctl", "bootout", f"system/{LAUNCHD_LABEL}"]], []
    return [["schtasks", "/Delete", "/TN", TASK_NAME, "/F"]], []


def status_commands(os_name: str) -> list[list[str]]:
    if os_name == LINUX:
        return [["systemctl", "list-timers", "--all", f"{UNIT}.timer"]]
    if os_name == MACOS:
        return [["launchctl", "print", f"system/{LAUNCHD_LABEL}"]]
    return [["schtasks", "/Query", "/TN", TASK_NAME, "/V", "/FO", "LIST"]]


# --- doing it ------------------------------------------------------------------------------------


def _show(command: list[str], os_name: str | None = None) -> str:
    if (os_name or host_os()) == WINDOWS:
        return subprocess.list2cmdline(command)
    return " ".join(shlex.quote(a) for a in command)


def _run(command: list[str], *, tolerate: bool = False) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        if tolerate:
            log(f"{_show(command)}: {exc}")
            return
        raise AgentError(f"{_show(command)} failed: {exc}") from None
    if done.returncode != 0:
        message = f"{_show(command)} exited {done.returncode}: {(done.stderr or done.stdout)[:300]}"
        if tolerate:
            log(message.strip())
            return
        raise AgentError(message.strip())
    log(f"ran: {_show(command)}")


def _write_private(path: Path, body: bytes, mode: int) -> None:
    """Create the file with ``mode`` from the start (never readable by others in between)."""
    if os.name == "nt":
        path.write_bytes(body)
        return
    descriptor = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(descriptor, mode)
        os.write(descriptor, body)
    finally:
        os.close(descriptor)


def _check_target(os_name: str, root: Path | None, dry_run: bool) -> None:
    if os_name != host_os() and root is None and not dry_run:
        raise AgentError(
            f"this machine is not {os_name}: give --root DIR or --dry-run to generate its files",
            EXIT_USAGE,
        )


def install(
    *,
    url: str,
    token: str,
    os_name: str | None = None,
    root: Path | None = None,
    dry_run: bool = False,
    python: str | None = None,
    interval_minutes: int = DEFAULT_INTERVAL_MINUTES,
    archive: Path | None = None,
    out: Any = None,
) -> int:
    out = out or sys.stdout
    os_name = os_name or host_os()
    _check_target(os_name, root, dry_run)
    if not 1 <= interval_minutes <= 60:
        raise AgentError("--interval-minutes must be between 1 and 60", EXIT_USAGE)
    if not token or any(c.isspace() for c in token):
        raise AgentError("no agent token: set PATCHOPS_TOKEN (or give --token)", EXIT_USAGE)
    python = python or (sys.executable if os_name == host_os() else DEFAULT_PYTHON[os_name])
    plan = install_plan(
        os_name=os_name,
        url=url,
        token=token,
        root=root,
        python=python,
        interval_minutes=interval_minutes,
        archive=archive if archive is not None else running_archive(),
    )
    run_commands = root is None and not dry_run
    if plan.copy_program is None and os_name != host_os():
        out.write(
            f"note: copy {ARCHIVE_NAME} (make agent) to {plan.layout.program} on the device\n"
        )
    if dry_run:
        for folder, mode in plan.dirs:
            out.write(f"would create folder {plan.path(folder)} (mode {mode:o})\n")
        if plan.copy_program is not None:
            out.write(f"would copy {plan.copy_program} to {plan.path(plan.layout.program)}\n")
        for device_path, body, mode in plan.files:
            out.write(f"\n--- {plan.path(device_path)} (mode {mode:o})\n")
            if device_path == plan.layout.token_file:
                out.write("<the agent token>\n")
            elif device_path.endswith(".xml"):
                out.write(body.decode("utf-16"))
                out.write("\n")
            else:
                out.write(body.decode("utf-8"))
        out.write("\n")
        for command in plan.before + plan.after:
            out.write(f"would run: {_show(command, os_name)}\n")
        return EXIT_OK
    for command in plan.before if run_commands else []:
        _run(command, tolerate=True)
    for folder, mode in plan.dirs:
        path = plan.path(folder)
        path.mkdir(parents=True, exist_ok=True)
        if os.name != "nt" and mode == 0o700:
            path.chmod(mode)
    if plan.copy_program is not None:
        target = plan.path(plan.layout.program)
        if plan.copy_program.resolve() != target.resolve():
            shutil.copyfile(plan.copy_program, target)
        if os.name != "nt":
            target.chmod(0o755)
    for device_path, body, mode in plan.files:
        _write_private(plan.path(device_path), body, mode)
        out.write(f"wrote {plan.path(device_path)}\n")
    for command in plan.after:
        if run_commands:
            _run(command)
        else:
            out.write(f"not run (--root): {_show(command, os_name)}\n")
    out.write(f"patchops-agent installed as a {_manager(os_name)}\n")
    return EXIT_OK


def _manager(os_name: str) -> str:
    return {
        LINUX: f"systemd timer ({UNIT}.timer)",
        MACOS: f"launchd daemon ({LAUNCHD_LABEL})",
        WINDOWS: f"scheduled task ({TASK_NAME})",
    }[os_name]


def installed_paths(os_name: str, root: Path | None) -> list[Path]:
    """Everything an installation leaves, files before their folders."""
    layout = LAYOUTS[os_name]
    paths = [host_path(p, os_name, root) for p in layout.units]
    paths.append(host_path(layout.token_file, os_name, root))
    paths.append(host_path(layout.config_file, os_name, root))
    paths.append(host_path(layout.program, os_name, root))
    for folder in (layout.state_dir, layout.config_dir, layout.program_dir):
        paths.append(host_path(folder, os_name, root))
    if layout.log_dir:
        paths.append(host_path(layout.join(layout.log_dir, "agent.log"), os_name, root))
    return paths


def uninstall(
    *,
    os_name: str | None = None,
    root: Path | None = None,
    dry_run: bool = False,
    out: Any = None,
) -> int:
    out = out or sys.stdout
    os_name = os_name or host_os()
    _check_target(os_name, root, dry_run)
    before, after = uninstall_commands(os_name)
    present = [p for p in installed_paths(os_name, root) if p.exists() or p.is_symlink()]
    if dry_run:
        for command in before + after:
            out.write(f"would run: {_show(command, os_name)}\n")
        for path in present:
            out.write(f"would remove {path}\n")
        if not present:
            out.write("nothing installed to remove\n")
        return EXIT_OK
    if root is None:
        for command in before:
            _run(command, tolerate=True)
    removed = []
    for path in present:
        if not (path.exists() or path.is_symlink()):
            continue  # inside a folder removed before
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(path)
        out.write(f"removed {path}\n")
    if root is None:
        for command in after:
            _run(command, tolerate=True)
    out.write(
        f"patchops-agent uninstalled ({len(removed)} path(s) removed)\n"
        if removed
        else "nothing installed to remove\n"
    )
    return EXIT_OK


def status(*, os_name: str | None = None, root: Path | None = None, out: Any = None) -> int:
    """What is installed, whether the token file is protected, and the last run's state."""
    from patchops_agent.resident import check_token_file, load_state

    out = out or sys.stdout
    os_name = os_name or host_os()
    layout = LAYOUTS[os_name]
    installed = True
    for device_path in (*layout.units, layout.config_file, layout.token_file):
        path = host_path(device_path, os_name, root)
        exists = path.exists()
        installed = installed and exists
        out.write(f"{'present' if exists else 'missing'}: {path}\n")
    token = host_path(layout.token_file, os_name, root)
    if token.exists():
        try:
            check_token_file(token)
            out.write("token file: protected\n")
        except AgentError as exc:
            out.write(f"token file: {exc}\n")
    state = load_state(host_path(layout.state_dir, os_name, root))
    for key in (
        "last_success_at",
        "last_discovery_at",
        "failures",
        "next_attempt_at",
        "last_error",
    ):
        if state.get(key) not in (None, ""):
            out.write(f"{key}: {state[key]}\n")
    if root is None and installed:
        for command in status_commands(os_name):
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=30)
                out.write(done.stdout)
            except (OSError, subprocess.SubprocessError) as exc:
                out.write(f"{_show(command)}: {exc}\n")
    out.write("installed\n" if installed else "not installed\n")
    return EXIT_OK if installed else 3
