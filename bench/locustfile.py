"""The load test's traffic (locust), started by ``python -m bench.loadtest`` (``make loadtest``).

Four kinds of user, in the proportions of a working day: device agents pushing a one-device
inventory to the discovery API with their agent token; a PSA listing findings with filters and
pagination with a read token; engineers opening the cross-client dashboard, a client's home,
its findings and a finding; client owners opening their portal. Engineers and owners sign in
once, before the test starts, through the real pages: password, then the authenticator app they
add at first sign-in (the key from the enrolment page, the code computed here as an app does);
every simulated user of that kind then carries that signed-in session.

Reads the plan ``bench.loadtest`` prepared (``LOADTEST_PLAN``: base URL, tokens, accounts,
client slugs and finding ids) and writes the statistics to ``LOADTEST_STATS`` when the test
stops. ``LOADTEST_MAX_REQUESTS`` bounds the requests (the test stops when reached).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

import requests
from locust import HttpUser, between, events, task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import traffic  # noqa: E402

PLAN: dict[str, Any] = {}
SESSIONS: dict[str, dict[str, str]] = {}
MAX_REQUESTS = int(os.environ.get("LOADTEST_MAX_REQUESTS") or 0)
_devices = itertools.count()


def _csrf(session: requests.Session, html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return found.group(1) if found else session.cookies.get("csrftoken", "")


def sign_in(base: str, email: str, password: str) -> dict[str, str]:
    """Sign in through the login page and add an authenticator app on the enrolment page the
    portal sends a first sign-in to; answer the verified session's cookies."""
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=30)
    answer = session.post(
        f"{base}/accounts/login/",
        data={
            "username": email,
            "password": password,
            "csrfmiddlewaretoken": _csrf(session, page.text),
        },
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=30,
    )
    if "/accounts/mfa/enrol/" not in answer.url:
        raise RuntimeError(f"{email}: sign-in did not lead to the enrolment page ({answer.url})")
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', answer.text)
    if secret is None:
        raise RuntimeError(f"{email}: the enrolment page shows no key")
    confirmed = session.post(
        f"{base}/accounts/mfa/enrol/",
        data={
            "code": traffic.totp(secret.group(1), int(time.time() // 30)),
            "csrfmiddlewaretoken": _csrf(session, answer.text),
            "next": "/",
        },
        headers={"Referer": answer.url},
        timeout=30,
    )
    if confirmed.status_code != 200 or "recovery" not in confirmed.text.lower():
        raise RuntimeError(f"{email}: the enrolment was not confirmed ({confirmed.status_code})")
    return session.cookies.get_dict()


@events.init.add_listener
def _prepare(environment: Any, **_: Any) -> None:
    """Read the plan and sign the engineer and the owner in, before the clock starts."""
    with open(os.environ["LOADTEST_PLAN"]) as handle:
        PLAN.update(json.load(handle))
    base = environment.host.rstrip("/")
    for who in ("engineer", "owner"):
        account = PLAN["accounts"][who]
        SESSIONS[who] = sign_in(base, account["email"], account["password"])


@events.init.add_listener
def _bound_requests(environment: Any, **_: Any) -> None:
    """Stop the test once ``LOADTEST_MAX_REQUESTS`` requests were made."""
    if not MAX_REQUESTS:
        return

    def count(**_: Any) -> None:
        runner = environment.runner
        if runner and environment.stats.total.num_requests >= MAX_REQUESTS:
            runner.quit()

    environment.events.request.add_listener(count)


@events.test_stop.add_listener
def _write_stats(environment: Any, **_: Any) -> None:
    target = os.environ.get("LOADTEST_STATS")
    if not target:
        return
    rows = []
    for entry in environment.stats.entries.values():
        rows.append(
            {
                "name": entry.name,
                "method": entry.method,
                "requests": entry.num_requests,
                "failures": entry.num_failures,
                "rps": entry.total_rps,
                "median_ms": entry.get_response_time_percentile(0.5),
                "p95_ms": entry.get_response_time_percentile(0.95),
                "max_ms": entry.max_response_time,
            }
        )
    total = environment.stats.total
    errors = [
        {"name": e.name, "method": e.method, "error": str(e.error), "occurrences": e.occurrences}
        for e in environment.stats.errors.values()
    ]
    with open(target, "w") as handle:
        json.dump(
            {
                "endpoints": rows,
                "total": {
                    "requests": total.num_requests,
                    "failures": total.num_failures,
                    "rps": total.total_rps,
                    "seconds": max(total.last_request_timestamp - total.start_time, 0)
                    if total.last_request_timestamp
                    else 0,
                },
                "errors": errors,
            },
            handle,
            indent=2,
        )


class Agent(HttpUser):
    """A device agent: pushes its one-device inventory."""

    weight = 3
    wait_time = between(0, 0.2)

    @task
    def push(self) -> None:
        slug = random.choice(PLAN["clients"])
        self.client.post(
            f"/clients/{slug}/api/v1/discovery/",
            json=traffic.device_payload(next(_devices)),
            headers={"Authorization": f"Bearer {PLAN['agent_tokens'][slug]}"},
            name="API discovery push (1 device)",
        )


class Psa(HttpUser):
    """A PSA integration: lists findings with filters, page by page."""

    weight = 3
    wait_time = between(0, 0.2)

    @task
    def list_findings(self) -> None:
        slug = random.choice(PLAN["clients"])
        params = traffic.findings_query()
        self.client.get(
            f"/clients/{slug}/api/v1/findings/",
            params=params,
            headers={"Authorization": f"Bearer {PLAN['read_token']}"},
            name="API findings list (filters, page)",
        )


class Engineer(HttpUser):
    """MSP staff on a round: the dashboard, a client's home, its findings, one finding."""

    weight = 2
    wait_time = between(0, 0.5)

    def on_start(self) -> None:
        self.client.cookies.update(SESSIONS["engineer"])

    @task
    def round(self) -> None:
        slug = random.choice([s for s in PLAN["clients"] if PLAN["findings"].get(s)])
        self.client.get("/", name="page dashboard")
        self.client.get(f"/clients/{slug}/", name="page client home")
        self.client.get(f"/clients/{slug}/findings/", name="page findings list")
        uuid = random.choice(PLAN["findings"][slug])
        self.client.get(f"/clients/{slug}/findings/{uuid}/", name="page finding detail")


class Owner(HttpUser):
    """A client owner opening the portal: its home, then its findings."""

    weight = 1
    wait_time = between(0, 0.5)

    def on_start(self) -> None:
        self.client.cookies.update(SESSIONS["owner"])

    @task
    def visit(self) -> None:
        slug = PLAN["owner_client"]
        self.client.get(f"/clients/{slug}/", name="portal client home (owner)")
        self.client.get(f"/clients/{slug}/findings/", name="portal findings list (owner)")
