"""Load test (``make loadtest``): the portal under gunicorn as the production image runs it, on
127.0.0.1, against a database seeded with the demo data, driven by locust in headless mode.

    python -m bench.loadtest                      # 5 minutes, 20 users
    LOADTEST_SECONDS=60 python -m bench.loadtest  # shorter
    python -m bench.loadtest --seconds 5 --users 4 --max-requests 500

Steps: create the load-test database when missing (``LOADTEST_DATABASE_URL``, default the
``DATABASE_URL`` database with ``_loadtest`` appended), ``bootstrap``, ``seed_demo`` (idempotent),
``collectstatic``; issue an agent token per client and a read token for all (the ``tokens create``
command), an engineer whose second factor is reset (``reset_second_factor``) and a new client
owner, both of whom add an authenticator app at their sign-in during the test; start gunicorn
(``patchops.wsgi``, the Dockerfile's 3 workers); run ``bench/locustfile.py``; stop gunicorn,
revoke the tokens. Prints per endpoint requests/s, median, p95 and errors beside the targets
and writes them with the machine and commit to ``bench/results/loadtest.json``. Fails (exit 1)
when a request failed or an endpoint was never exercised; missed targets are informational.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import record as results  # noqa: E402

LOCUSTFILE = ROOT / "bench" / "locustfile.py"
ENGINEER = "loadtest-engineer@patchops.test"
#: The endpoints the locustfile names, with their kind (for the targets).
ENDPOINTS = {
    "API discovery push (1 device)": "push",
    "API findings list (filters, page)": "api",
    "page dashboard": "page",
    "page client home": "page",
    "page findings list": "page",
    "page finding detail": "page",
    "portal client home (owner)": "page",
    "portal findings list (owner)": "page",
}
TARGETS = {
    "api": {"rps": 256, "p95_ms": 50},
    "page": {"p95_ms": 150},
    "push": {"rps": 50},
}
# gunicorn as the production image runs it (Dockerfile CMD), on loopback only.
GUNICORN_WORKERS = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _loadtest_database_url(url: str) -> str:
    base, _, query = url.partition("?")
    return f"{base}_loadtest" + (f"?{query}" if query else "")


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _static_collected(env: dict[str, str]) -> bool:
    """Is the collected static manifest newer than every static source file (then collectstatic,
    which compresses every file again, can be skipped)?"""
    manifest = Path(env.get("STATIC_ROOT") or ROOT / "staticfiles") / "staticfiles.json"
    if not manifest.exists():
        return False
    sources = [p for p in ROOT.glob("*/static/**/*") if p.is_file() and ".venv" not in p.parts]
    sources += [p for p in ROOT.glob("static/**/*") if p.is_file()]
    return all(p.stat().st_mtime <= manifest.stat().st_mtime for p in sources)


def prepare(plan_path: Path, base_url: str, clients: int) -> dict[str, Any]:
    """Tokens, accounts and ids for the locustfile (Django set up on the load-test database)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django_tenants.utils import tenant_context

    from findings.models import Finding
    from tenants.choices import MembershipRole, StaffRole
    from tenants.models import Client, User
    from tenants.services import add_membership

    chosen = list(
        Client.objects.exclude(schema_name="public")
        .filter(slug__in=_demo_slugs())
        .order_by("slug")[:clients]
    )
    if not chosen:
        raise SystemExit("the load-test database has no demo clients (seed_demo failed?)")
    run_id = secrets.token_hex(3)

    def token(*args: str) -> str:
        out = io.StringIO()
        call_command("tokens", "create", *args, stdout=out, stderr=io.StringIO())
        return out.getvalue().strip()

    agent_tokens = {
        c.slug: token("--name", f"loadtest-agent-{run_id}", "--client", c.slug, "--scope", "agent")
        for c in chosen
    }
    read_token = token("--name", f"loadtest-psa-{run_id}", "--all", "--scope", "read")

    password = secrets.token_urlsafe(16)
    engineer = User.objects.filter(email=ENGINEER).first() or User.objects.create_user(
        email=ENGINEER, password=None, full_name="Load-test Engineer", staff_role=StaffRole.ENGINEER
    )
    engineer.set_password(password)
    engineer.save(update_fields=["password"])
    call_command("reset_second_factor", ENGINEER, stdout=io.StringIO())
    owner_client = chosen[0]
    owner = User.objects.create_user(
        email=f"loadtest-owner-{run_id}@{owner_client.slug}.test",
        password=password,
        full_name="Load-test Owner",
    )
    add_membership(user=owner, client=owner_client, role=MembershipRole.CLIENT_OWNER)

    findings = {}
    for c in chosen:
        with tenant_context(c):
            findings[c.slug] = [
                str(u) for u in Finding.objects.order_by("pk").values_list("uuid", flat=True)[:50]
            ]
    plan = {
        "base_url": base_url,
        "clients": [c.slug for c in chosen],
        "agent_tokens": agent_tokens,
        "read_token": read_token,
        "accounts": {
            "engineer": {"email": ENGINEER, "password": password},
            "owner": {"email": owner.email, "password": password},
        },
        "owner_client": owner_client.slug,
        "findings": findings,
        "token_names": [f"loadtest-agent-{run_id}", f"loadtest-psa-{run_id}"],
    }
    plan_path.write_text(json.dumps(plan))
    return plan


def _demo_slugs() -> list[str]:
    from demo.msp import DEMO_CLIENTS

    return [slug for slug, *_ in DEMO_CLIENTS]


def revoke(plan: dict[str, Any]) -> None:
    """Revoke the tokens the run issued."""
    from accounts.tokens import revoke_token, tokens_of

    for token in tokens_of(include_revoked=False).filter(name__in=plan["token_names"]):
        revoke_token(token=token, actor=None, actor_label="loadtest")


def _wait_healthy(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{url}/health/", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"gunicorn did not answer {url}/health/ within {seconds:.0f} s")


def _verdicts(row: dict[str, Any], kind: str) -> list[str]:
    target = TARGETS[kind]
    out = []
    if "rps" in target:
        out.append(f"≥{target['rps']} rps " + ("met" if row["rps"] >= target["rps"] else "MISSED"))
    if "p95_ms" in target:
        ok = row["p95_ms"] <= target["p95_ms"]
        out.append(f"p95 ≤{target['p95_ms']} ms " + ("met" if ok else "MISSED"))
    out.append("0 errors " + ("met" if row["failures"] == 0 else "MISSED"))
    return out


def report(stats: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Per endpoint rows with their targets, and the problems that fail the run."""
    by_name = {row["name"]: row for row in stats["endpoints"]}
    rows, problems = [], []
    for name, kind in ENDPOINTS.items():
        row = by_name.get(name)
        if row is None or not row["requests"]:
            problems.append(f"{name}: never exercised")
            continue
        if row["failures"]:
            problems.append(f"{name}: {row['failures']} failed requests")
        rows.append({**row, "kind": kind, "targets": _verdicts(row, kind)})
    for name in by_name.keys() - ENDPOINTS.keys():
        if by_name[name]["failures"]:
            problems.append(f"{name}: {by_name[name]['failures']} failed requests")
    return rows, problems


def provision(allowed_hosts: str = "127.0.0.1") -> dict[str, str]:
    """The load-test database made ready (created when missing, ``bootstrap``, ``seed_demo``,
    static files collected) and this process's environment pointed at it with the production
    settings; answers that environment."""
    database_url = os.environ.get("LOADTEST_DATABASE_URL") or _loadtest_database_url(
        os.environ["DATABASE_URL"]
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "patchops.settings",
        # Plain HTTP on loopback: TLS, its redirect and Secure cookies are the proxy's part.
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "SECURE_HSTS_SECONDS": "0",
        "ALLOWED_HOSTS": allowed_hosts,
    }
    os.environ.update(env)
    created = results.ensure_database(database_url)
    print(
        f"loadtest: database {'created' if created else 'reused'}; bootstrap, seed_demo", flush=True
    )
    _manage(env, "bootstrap", "-v", "0")
    _manage(env, "seed_demo")
    if not _static_collected(env):
        _manage(env, "collectstatic", "--noinput", "-v", "0")
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loadtest", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--seconds",
        type=int,
        default=int(os.environ.get("LOADTEST_SECONDS") or 300),
        help="how long the load runs (default 300, env LOADTEST_SECONDS)",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=int(os.environ.get("LOADTEST_USERS") or 20),
        help="simulated users at once (default 20, env LOADTEST_USERS)",
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=int(os.environ.get("LOADTEST_MAX_REQUESTS") or 200_000),
        help="stop after this many requests (default 200000)",
    )
    parser.add_argument(
        "--clients", type=int, default=3, help="demo clients in the traffic (default 3)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=GUNICORN_WORKERS,
        help=f"gunicorn workers (default {GUNICORN_WORKERS}, as the Dockerfile)",
    )
    parser.add_argument("--out", type=Path, default=results.RESULTS / "loadtest.json")
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 3600:
        parser.error("--seconds must be between 1 and 3600")
    if not 1 <= args.users <= 500:
        parser.error("--users must be between 1 and 500")
    if args.max_requests < 1 or args.clients < 1 or args.workers < 1:
        parser.error("--max-requests, --clients and --workers must be at least 1")
    if "DATABASE_URL" not in os.environ and "LOADTEST_DATABASE_URL" not in os.environ:
        parser.error("set DATABASE_URL (or LOADTEST_DATABASE_URL)")

    env = provision()

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="patchops-loadtest-"))
    plan = prepare(work / "plan.json", base, args.clients)
    bin_dir = Path(sys.executable).parent
    server = subprocess.Popen(
        [
            str(bin_dir / "gunicorn"),
            "patchops.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    started_at = datetime.now(UTC)
    try:
        _wait_healthy(base, server)
        print(
            f"loadtest: gunicorn ({args.workers} workers) on {base}; locust {args.users} users, "
            f"{args.seconds} s, at most {args.max_requests} requests",
            flush=True,
        )
        locust = subprocess.run(
            [
                str(bin_dir / "locust"),
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "--host",
                base,
                "--users",
                str(args.users),
                "--spawn-rate",
                str(args.users),
                "--run-time",
                f"{args.seconds}s",
                "--stop-timeout",
                "5",
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            env={
                **env,
                "LOADTEST_PLAN": str(work / "plan.json"),
                "LOADTEST_STATS": str(work / "stats.json"),
                "LOADTEST_MAX_REQUESTS": str(args.max_requests),
            },
            cwd=ROOT,
            timeout=args.seconds + 300,
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        revoke(plan)
    stats_path = work / "stats.json"
    if not stats_path.exists():
        print(f"loadtest: locust wrote no statistics (exit {locust.returncode})", file=sys.stderr)
        return 1
    stats = json.loads(stats_path.read_text())
    rows, problems = report(stats)

    print(
        f"\n{'endpoint':<36} {'requests':>8} {'req/s':>7} {'median':>8} {'p95':>8} "
        f"{'errors':>6}  targets"
    )
    for row in rows:
        print(
            f"{row['name']:<36} {row['requests']:>8} {row['rps']:>7.1f} {row['median_ms']:>6.0f}ms "
            f"{row['p95_ms']:>6.0f}ms {row['failures']:>6}  {'; '.join(row['targets'])}"
        )
    total = stats["total"]
    print(
        f"{'all':<36} {total['requests']:>8} {total['rps']:>7.1f} {'':>8} {'':>8} "
        f"{total['failures']:>6}"
    )
    for error in stats["errors"]:
        print(
            f"  error: {error['method']} {error['name']}: {error['error']} ×{error['occurrences']}"
        )

    path = results.write(
        args.out.stem,
        {
            "benchmark": "loadtest",
            "started_at": started_at.isoformat(),
            "status": "failed" if problems else "ok",
            "machine": results.machine(),
            "settings": {
                "seconds": args.seconds,
                "users": args.users,
                "max_requests": args.max_requests,
                "clients": len(plan["clients"]),
                "gunicorn_workers": args.workers,
            },
            "targets": TARGETS,
            "figures": {
                row["name"]: {
                    k: row[k] for k in ("requests", "rps", "median_ms", "p95_ms", "failures")
                }
                for row in rows
            }
            | {"all": total},
            "endpoints": rows,
            "errors": stats["errors"],
            "problems": problems,
        },
        args.out.parent,
    )
    print(f"\nloadtest: results in {path}")
    if problems:
        print("loadtest FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
