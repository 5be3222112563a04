"""The ``patchops-agent`` command line: ``collect`` (the default), ``jobs``, ``run-once`` and
``service install|uninstall|status``."""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sys
import time
from datetime import datetime
from pathlib import Path

from patchops_agent.base import (
    EXIT_OK,
    EXIT_REMOTE,
    EXIT_USAGE,
    STATE_ENV,
    TOKEN_ENV,
    URL_ENV,
    UTC,
    AgentError,
    __version__,
    agent_id,
    default_state_dir,
    log,
)
from patchops_agent.client import base_url, fetch_agent_config, fetch_jobs, push, request_json
from patchops_agent.collect import collect, linux_system_info, write_records_mark
from patchops_agent.jobs import _JOB_ID, _parse_time, run_job


def device_agent_id(state_dir: Path) -> str:
    system_info = (
        linux_system_info() if platform.system() == "Linux" else {"hostname": socket.gethostname()}
    )
    return agent_id(state_dir, system_info)


def run_queued_jobs(
    base: str, token: str, state_dir: Path, agent: str, *, dry_run: bool, timeout: float
) -> tuple[int, int]:
    """Fetch this agent's queued jobs, run (or simulate) each and report it; after a job changed
    the machine, push a fresh inventory. Returns (jobs run, jobs failed)."""
    jobs = fetch_jobs(base, token, agent, timeout)
    log(f"{len(jobs)} job(s) for agent {agent}")
    changed = False
    ran = failures = 0
    now = datetime.now(UTC)
    for job in jobs:
        job_id = str(job.get("id") or "")
        if not _JOB_ID.match(job_id):
            log(f"skipping a job with a bad id {job_id!r}")
            continue
        not_before = _parse_time(job.get("not_before"))
        if not_before is not None and now < not_before:
            log(f"job {job_id} waits until {job.get('not_before')}")
            continue
        result = run_job(job, agent, dry_run=dry_run)
        request_json("POST", f"{base}api/v1/agent-jobs/{job_id}/result/", token, result, timeout)
        log(f"job {job_id}: {result['status']}")
        ran += 1
        if result["status"] != "succeeded":
            failures += 1
        if not dry_run and any(
            p["status"] in ("installed", "rolled_back") for p in result["packages"]
        ):
            changed = True
    if changed:
        # The next inventory is what proves a fix installed (or gone again after a rollback).
        payload = collect(state_dir)
        push(payload, base, token, timeout)
        if "os_install_records" in payload:
            write_records_mark(state_dir, payload["collected_at"])
        log("fresh inventory pushed for verification")
    return ran, failures


def command_jobs(args: argparse.Namespace) -> int:
    base = base_url(args.url)
    token = _token(args)
    state_dir = Path(args.state_dir) if args.state_dir else default_state_dir()
    agent = device_agent_id(state_dir)
    _, failures = run_queued_jobs(
        base, token, state_dir, agent, dry_run=args.dry_run, timeout=args.timeout
    )
    return EXIT_OK if failures == 0 else EXIT_REMOTE


def _token(args: argparse.Namespace) -> str:
    token = args.token or os.environ.get(TOKEN_ENV, "")
    if not token:
        raise AgentError(f"no agent token: give --token or set {TOKEN_ENV}", EXIT_USAGE)
    return token


def command_collect(args: argparse.Namespace) -> int:
    if not args.dry_run:
        base = base_url(args.url)
        token = _token(args)
    state_dir = Path(args.state_dir) if args.state_dir else default_state_dir()
    payload = collect(state_dir, pending=not args.no_pending)
    if args.dry_run:
        # ASCII JSON: a Windows console code page cannot print every character.
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    answer = push(payload, base, token, args.timeout)
    if "os_install_records" in payload:
        # The next run sends the records written after this one (with a day's overlap).
        write_records_mark(state_dir, payload["collected_at"])
    summary = f": {json.dumps(answer)[:300]}" if answer else ""
    log(f"inventory of {payload['system_info'].get('hostname')} pushed{summary}")
    return EXIT_OK


def command_service(args: argparse.Namespace) -> int:
    from patchops_agent import service

    root = Path(args.root) if args.root else None
    if args.action == "install":
        url = base_url(args.url)
        token = (
            sys.stdin.readline().strip()
            if args.token_stdin
            else args.token or os.environ.get(TOKEN_ENV, "")
        )
        if not token:
            raise AgentError(
                f"no agent token: give --token-stdin, set {TOKEN_ENV} or give --token", EXIT_USAGE
            )
        if not (args.dry_run or args.no_verify):
            # A wrong URL or token fails here, not silently in every later run.
            fetch_agent_config(url, token, "", args.timeout)
            log(f"the server at {url} accepted the token")
        return service.install(
            url=url,
            token=token,
            os_name=args.os,
            root=root,
            dry_run=args.dry_run,
            python=args.python,
            interval_minutes=args.interval_minutes,
        )
    if args.action == "uninstall":
        return service.uninstall(os_name=args.os, root=root, dry_run=args.dry_run)
    return service.status(os_name=args.os, root=root)


def command_run_once(args: argparse.Namespace) -> int:
    from patchops_agent import service
    from patchops_agent.resident import run_once

    root = Path(args.root) if args.root else None
    os_name = service.host_os()
    config = (
        Path(args.config)
        if args.config
        else service.host_path(service.LAYOUTS[os_name].config_file, os_name, root)
    )
    return run_once(config, root=root, dry_run=args.dry_run, timeout=args.timeout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="patchops-agent",
        description="Report this machine to PatchOps and run the patch jobs it queues.",
    )
    parser.add_argument("--version", action="version", version=f"patchops-agent {__version__}")
    commands = parser.add_subparsers(dest="command")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--url",
            default=os.environ.get(URL_ENV),
            help="client base URL, e.g. https://portal/clients/acme/",
        )
        sub.add_argument("--token", help=f"agent token (default: ${TOKEN_ENV})")
        sub.add_argument("--dry-run", action="store_true")
        sub.add_argument(
            "--state-dir",
            help=f"where the agent id is kept (default: ${STATE_ENV} or a system path)",
        )
        sub.add_argument("--timeout", type=float, default=60, help="HTTP timeout in seconds")

    collect_parser = commands.add_parser(
        "collect", help="collect and push (or print) the inventory"
    )
    common(collect_parser)
    collect_parser.add_argument(
        "--no-pending", action="store_true", help="skip the pending-update check"
    )
    collect_parser.set_defaults(func=command_collect)
    jobs_parser = commands.add_parser("jobs", help="run the patch jobs queued for this machine")
    common(jobs_parser)
    jobs_parser.set_defaults(func=command_jobs)

    run_once = commands.add_parser(
        "run-once",
        help="one resident run: discovery when due, then the queued jobs (the service runs it)",
    )
    run_once.add_argument("--config", help="the installed agent.json (default: the OS's path)")
    run_once.add_argument("--root", help="the installation lives below this folder")
    run_once.add_argument(
        "--dry-run", action="store_true", help="simulate the jobs (the inventory is still pushed)"
    )
    run_once.add_argument("--timeout", type=float, default=60, help="HTTP timeout in seconds")
    run_once.set_defaults(func=command_run_once)

    service_parser = commands.add_parser(
        "service", help="install, uninstall or show the agent as a resident service"
    )
    service_parser.add_argument("action", choices=("install", "uninstall", "status"))
    service_parser.add_argument(
        "--url", default=os.environ.get(URL_ENV), help="client base URL (install)"
    )
    service_parser.add_argument(
        "--token", help=f"agent token (install; better: ${TOKEN_ENV}, kept out of the process list)"
    )
    service_parser.add_argument(
        "--token-stdin", action="store_true", help="read the agent token from standard input"
    )
    service_parser.add_argument(
        "--os", choices=("linux", "macos", "windows"), help="target OS (default: this machine's)"
    )
    service_parser.add_argument("--root", help="install below this folder and run no command")
    service_parser.add_argument(
        "--dry-run", action="store_true", help="print the files and commands, write nothing"
    )
    service_parser.add_argument(
        "--python", help="the interpreter the service starts (default: the one running this)"
    )
    service_parser.add_argument(
        "--interval-minutes", type=int, default=5, help="how often the scheduler starts a run"
    )
    service_parser.add_argument(
        "--no-verify", action="store_true", help="install without asking the server first"
    )
    service_parser.add_argument("--timeout", type=float, default=60, help="HTTP timeout in seconds")
    service_parser.set_defaults(func=command_service)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "collect")
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    try:
        status = args.func(args)
    except AgentError as exc:
        log(f"error: {exc}")
        return exc.status
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except BrokenPipeError:
        # The reader of --dry-run output went away (``| head``): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    if os.environ.get("PATCHOPS_AGENT_TIMING"):
        log(f"done in {time.monotonic() - started:.1f} s")
    return status
