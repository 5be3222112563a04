"""What each load-test request costs the portal, measured in-process so that it survives a
machine shared with other work: CPU time of the process serving it (``time.process_time``, the
full middleware stack through Django's test client, ``DEBUG`` off as in production), its SQL
statements and the time spent in them (``connection.execute_wrapper``), and wall time for
reference. PostgreSQL's own CPU is not in the CPU figure (it is in the SQL time).

    python -m bench.request_cost                       # every endpoint, 40 requests each
    python -m bench.request_cost --requests 100 --only "API findings list (filters, page)"
    python -m bench.request_cost --profile "page dashboard"   # cProfile's top functions too

Uses the load test's database (``LOADTEST_DATABASE_URL``, default the ``DATABASE_URL`` database
with ``_loadtest`` appended; created, bootstrapped and seeded with the demo data when missing)
and the load test's preparation: tokens, the engineer and a new client owner, who sign in
through the login and enrolment pages as in ``bench/locustfile.py``. The requests are the
locustfile's (``bench/traffic.py``). Writes ``bench/results/request_cost.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import os
import pstats
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import record as results  # noqa: E402
from bench import traffic  # noqa: E402
from bench.loadtest import ENDPOINTS, provision  # noqa: E402


class QueryMeter:
    """Counts the statements run on the default connection and the seconds spent in them."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


def _csrf(client: Any, html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return found.group(1) if found else client.cookies["csrftoken"].value


def sign_in(email: str, password: str) -> Any:
    """A test client signed in through the login page, its authenticator app added on the
    enrolment page (as ``bench.locustfile.sign_in``)."""
    from django.test import Client

    client = Client()
    page = client.get("/accounts/login/")
    answer = client.post(
        "/accounts/login/",
        {
            "username": email,
            "password": password,
            "csrfmiddlewaretoken": _csrf(client, page.content.decode()),
        },
        follow=True,
    )
    html = answer.content.decode()
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', html)
    if secret is None:
        raise SystemExit(f"{email}: sign-in did not lead to the enrolment page")
    confirmed = client.post(
        "/accounts/mfa/enrol/",
        {
            "code": traffic.totp(secret.group(1), int(time.time() // 30)),
            "csrfmiddlewaretoken": _csrf(client, html),
            "next": "/",
        },
    )
    if confirmed.status_code != 200:
        raise SystemExit(f"{email}: the enrolment was not confirmed ({confirmed.status_code})")
    return client


def requests_of(plan: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """One callable per load-test endpoint, each making that endpoint's request as the
    locustfile does (random client, filters, page and finding)."""
    from django.test import Client

    accounts = plan["accounts"]
    engineer = sign_in(accounts["engineer"]["email"], accounts["engineer"]["password"])
    owner = sign_in(accounts["owner"]["email"], accounts["owner"]["password"])
    api = Client()
    devices = itertools.count()
    slugs = [s for s in plan["clients"] if plan["findings"].get(s)]
    owner_slug = plan["owner_client"]

    def push() -> Any:
        slug = random.choice(plan["clients"])
        return api.post(
            f"/clients/{slug}/api/v1/discovery/",
            data=traffic.device_payload(next(devices)),
            content_type="application/json",
            headers={"authorization": f"Bearer {plan['agent_tokens'][slug]}"},
        )

    def findings_api() -> Any:
        slug = random.choice(plan["clients"])
        return api.get(
            f"/clients/{slug}/api/v1/findings/",
            traffic.findings_query(),
            headers={"authorization": f"Bearer {plan['read_token']}"},
        )

    def finding_detail() -> Any:
        slug = random.choice(slugs)
        return engineer.get(f"/clients/{slug}/findings/{random.choice(plan['findings'][slug])}/")

    calls = {
        "API discovery push (1 device)": push,
        "API findings list (filters, page)": findings_api,
        "page dashboard": lambda: engineer.get("/"),
        "page client home": lambda: engineer.get(f"/clients/{random.choice(slugs)}/"),
        "page findings list": lambda: engineer.get(f"/clients/{random.choice(slugs)}/findings/"),
        "page finding detail": finding_detail,
        "portal client home (owner)": lambda: owner.get(f"/clients/{owner_slug}/"),
        "portal findings list (owner)": lambda: owner.get(f"/clients/{owner_slug}/findings/"),
    }
    assert calls.keys() == ENDPOINTS.keys()
    return calls


def measure(call: Callable[[], Any], *, warmup: int, requests: int) -> dict[str, Any]:
    """Per request: CPU ms (median and mean), wall ms (median), statements and SQL ms (mean)."""
    from django.db import connection

    for _ in range(warmup):
        _check(call())
    cpu, wall, queries, sql = [], [], [], []
    for _ in range(requests):
        meter = QueryMeter()
        with connection.execute_wrapper(meter):
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            answer = call()
            cpu.append(time.process_time() - cpu_start)
            wall.append(time.perf_counter() - wall_start)
        _check(answer)
        queries.append(meter.count)
        sql.append(meter.seconds)
    return {
        "requests": requests,
        "cpu_ms_median": round(statistics.median(cpu) * 1000, 2),
        "cpu_ms_mean": round(statistics.fmean(cpu) * 1000, 2),
        "wall_ms_median": round(statistics.median(wall) * 1000, 2),
        "queries_mean": round(statistics.fmean(queries), 2),
        "queries_max": max(queries),
        "sql_ms_mean": round(statistics.fmean(sql) * 1000, 2),
    }


def _check(answer: Any) -> None:
    if answer.status_code not in (200, 201):
        raise SystemExit(f"{answer.request['PATH_INFO']}: answered {answer.status_code}")


def profile(
    call: Callable[[], Any], *, requests: int, top: int = 40, dump: Path | None = None
) -> str:
    """cProfile's functions by own time over ``requests`` requests (the raw statistics written
    to ``dump`` when given, for ``pstats``)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        call()
    profiler.disable()
    if dump is not None:
        profiler.dump_stats(dump)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    out.write("\n")
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.request_cost", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--requests", type=int, default=40, help="measured requests a endpoint")
    parser.add_argument("--warmup", type=int, default=5, help="requests first, not measured")
    parser.add_argument(
        "--only", action="append", choices=list(ENDPOINTS), help="this endpoint (repeatable)"
    )
    parser.add_argument(
        "--profile", choices=list(ENDPOINTS), help="print cProfile's top functions for it"
    )
    parser.add_argument("--profile-dump", type=Path, help="write the raw cProfile statistics here")
    parser.add_argument("--clients", type=int, default=3, help="demo clients (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the traffic")
    parser.add_argument("--out", type=Path, default=results.RESULTS / "request_cost.json")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 0 or args.clients < 1:
        parser.error("--requests and --clients must be at least 1, --warmup at least 0")
    if "DATABASE_URL" not in os.environ and "LOADTEST_DATABASE_URL" not in os.environ:
        parser.error("set DATABASE_URL (or LOADTEST_DATABASE_URL)")

    env = provision(allowed_hosts="127.0.0.1,testserver")
    random.seed(args.seed)
    from bench.loadtest import prepare, revoke

    work = Path(tempfile.mkdtemp(prefix="patchops-request-cost-"))
    plan = prepare(work / "plan.json", "http://testserver", args.clients)
    try:
        calls = requests_of(plan)
        if args.profile:
            for _ in range(args.warmup):
                calls[args.profile]()
            print(profile(calls[args.profile], requests=args.requests, dump=args.profile_dump))
            return 0
        rows = {}
        print(
            f"{'endpoint':<36} {'CPU ms':>8} {'(mean)':>8} {'wall ms':>8} {'queries':>8} "
            f"{'SQL ms':>7}"
        )
        for name in args.only or ENDPOINTS:
            row = measure(calls[name], warmup=args.warmup, requests=args.requests)
            rows[name] = row
            print(
                f"{name:<36} {row['cpu_ms_median']:>8.1f} {row['cpu_ms_mean']:>8.1f} "
                f"{row['wall_ms_median']:>8.1f} {row['queries_mean']:>8.1f} "
                f"{row['sql_ms_mean']:>7.1f}",
                flush=True,
            )
    finally:
        revoke(plan)
    load = os.getloadavg()
    path = results.write(
        args.out.stem,
        {
            "benchmark": "request_cost",
            "machine": results.machine(),
            "load_average": [round(x, 2) for x in load],
            "settings": {"requests": args.requests, "warmup": args.warmup, "env": env["DEBUG"]},
            "figures": rows,
        },
        args.out.parent,
    )
    print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; results in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
