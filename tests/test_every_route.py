"""Every page and API route, by construction.

The routes come from the URLconfs (``tests/routes.py``): the public one and the per-client one that
django-tenants serves under ``/clients/<slug>/``; the OpenAPI document is checked against them.
Each route is either exempt here with its reason or checked for:

* no credentials: 401 (JSON) from the API, a redirect to the sign-in page from a page;
* another client: its principals get a 404 under this client's URL, and this client's URL with
  another client's object id is a 404;
* a missing capability: 403 for every principal whose role lacks what the route asks (and the
  weakest principal holding it is let in); read-only principals are refused every write;
* headers: every answer (signed in or not, page or API, exempt routes too) carries the
  Content-Security-Policy without inline scripts and the Permissions-Policy;
* queries: the count of each GET route does not grow with the data (a small client against a
  client three times its size) and stays at or below ``tests/query_counts.json``
  (``UPDATE_QUERY_COUNTS=1`` rewrites it).

Route parameters are filled from objects of two committed clients built once per module through
the real producers (agents pushing discovery payloads, rollouts run by the rings services with the
agents reporting their jobs, scans, exceptions, snapshots, reports, tickets); the clients are
dropped afterwards. Static files are not routes (WhiteNoise serves them before the URLconf).
"""

# ruff: noqa: F403, F405
from __future__ import annotations

import contextlib
import fcntl
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import resolve

from tenants.choices import StaffRole
from tenants.permissions import Capability
from tests import routes
from tests.route_rules import *
from tests.route_rules import _ids
from tests.route_world import *
from tests.route_world import _session, _user
from webhooks.models import WebhookEndpoint

V, OP, AD, R, S, P = (
    Capability.VIEW,
    Capability.OPERATE,
    Capability.ADMINISTER,
    Capability.REPORTS,
    Capability.SIGN,
    Capability.PUSH_DISCOVERY,
)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    """Two committed clients (the second three times the first), dropped afterwards."""
    from catalogue.models import (
        Advisory,
        AdvisoryFix,
        CatalogueImport,
        EpssScore,
        KevEntry,
        Vulnerability,
    )
    from catalogue.signals import catalogue_changed
    from tenants.models import Client, User
    from uploads.models import FileUpload

    tag = uuid.uuid4().hex[:6]
    media = override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("route-media")))
    media.enable()
    folder = tmp_path_factory.mktemp("route-catalogue")
    # Committed imports must not queue a re-match of every client.
    receivers = catalogue_changed.receivers
    catalogue_changed.receivers = []
    catalogue_changed.sender_receivers_cache.clear()
    sides: list[Side] = []

    def clean_up() -> None:
        connection.set_schema_to_public()
        KevEntry.objects.filter(cve_id__in=CVES).delete()
        Vulnerability.objects.filter(cve_id__in=CVES).delete()
        EpssScore.objects.filter(cve_id__in=CVES).delete()
        for client in Client.objects.filter(slug__startswith=f"routes-{tag}-"):
            client.delete(force_drop=True)
        # The MSP's webhook endpoints (public schema, no client to cascade from).
        WebhookEndpoint.objects.filter(
            client__isnull=True, url__startswith=f"https://hooks.example.com/msp/routes-{tag}-"
        ).delete()
        # Findings (in the dropped schemas) pointed at these advisories: no cascade to collect.
        ours = Advisory.objects.filter(identifier__startswith="RLSA-2031-")
        AdvisoryFix.objects.filter(advisory__in=ours)._raw_delete(using="default")
        ours._raw_delete(using="default")
        CatalogueImport.objects.filter(pk__gt=last_import or 0).delete()
        FileUpload.objects.filter(pk__gt=last_upload or 0).delete()

    with django_db_blocker.unblock():
        last_import = CatalogueImport.objects.order_by("-pk").values_list("pk", flat=True).first()
        last_upload = FileUpload.objects.order_by("-pk").values_list("pk", flat=True).first()
        try:
            import_catalogue(folder / "base", CVES[:4])
            admin = User.objects.get(email="admin@msp.test")
            engineer = User.objects.get(email="engineer@msp.test")
            am = _user("am@routes.test", StaffRole.ACCOUNT_MANAGER)
            staff = {
                "admin": _session(admin),
                "engineer": _session(engineer),
                "account_manager": _session(am),
            }
            for name, scale in (("small", 1), ("big", 3)):
                sides.append(
                    build_side(f"routes-{tag}-{name}", scale, engineer=engineer, staff=staff)
                )
            sides[0].client.account_managers.add(am)
            cve = CVES[0]
            advisory = Advisory.objects.get(identifier=f"RLSA-{cve[4:]}").uuid
            for side in sides:
                side.ids.update(cve=cve, advisory=advisory)
        except BaseException:
            clean_up()
            raise
        finally:
            catalogue_changed.receivers = receivers
            catalogue_changed.sender_receivers_cache.clear()
            connection.set_schema_to_public()
    yield World(small=sides[0], big=sides[1], catalogue_folder=folder)
    with django_db_blocker.unblock():
        clean_up()
        connection.close()
    media.disable()


@pytest.fixture
def w(world, db) -> World:
    """The world inside this test's transaction (what a test writes is rolled back)."""
    return world


# --- requests ------------------------------------------------------------------------------------


def call(http: HttpClient, route: routes.Route, method: str, url: str) -> Any:
    if route.is_api:
        return http.generic(method, url, b"{}", content_type="application/json")
    if method == "GET":
        return http.get(url)
    return http.generic(method, url, b"", content_type="application/x-www-form-urlencoded")


def drain(response: Any) -> None:
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)


def is_json(response: Any) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def holds(principal: str, capability: Capability) -> bool:
    return capability in PRINCIPALS[principal][1]


def holds_msp_wide(principal: str, capability: Capability) -> bool:
    return capability in MSP_WIDE.get(principal, frozenset())


def pool(route: routes.Route) -> list[str]:
    """Principals that may call the route's kind: pages take sessions, the API both."""
    return [p for p, (kind, _) in PRINCIPALS.items() if route.is_api or kind == "session"]


# --- the routes themselves ------------------------------------------------------------------------


def test_every_route_is_checked_or_exempt_with_a_reason():
    problems = []
    for route in ALL_ROUTES:
        if exemption(route):
            continue
        if not route.methods:
            problems.append(f"{route}: answers no HTTP method")
        for param in route.params:
            if param_source(route, param) is None:
                segment = route.segment_of(param)
                problems.append(
                    f"{route}: nothing fills <{param}>; add '{segment}:{param}' to PARAMS"
                )
    keys = {r.key for r in ALL_ROUTES}
    problems += [f"exempt route {k!r} no longer exists" for k in EXEMPT if k not in keys]
    problems += [f"{k!r} in NOT_IN_SCHEMA no longer exists" for k in NOT_IN_SCHEMA if k not in keys]
    problems += [f"{k!r} in AGENT_ROUTES no longer exists" for k in AGENT_ROUTES if k not in keys]
    by_key = {r.key: r for r in ALL_ROUTES}
    for key, method in READ_ROLE_WRITES:
        route = by_key.get(key)
        if route is None or method not in route.methods:
            problems.append(f"READ_ROLE_WRITES names {method} {key}, which is no route")
        elif route.capability(method) not in (V, R):
            problems.append(f"READ_ROLE_WRITES: {method} {key} needs more than reading now")
    assert not problems, "\n".join(problems)
    assert len(CHECKED) > 100 and CLIENT_ROUTES and WITH_CLIENT_OBJECTS and GET_ROUTES


def test_the_openapi_document_and_the_urlconf_list_the_same_api():
    operations = routes.schema_operations()
    served = {
        (r.key, m)
        for r in CHECKED
        if r.is_api and "format" not in r.params and r.key not in NOT_IN_SCHEMA
        for m in r.methods
    }
    # Exempt client API routes are documented too (a PSA's signed webhook: no token admits).
    served |= {
        (r.key, m)
        for r in ALL_ROUTES
        if r.is_api and r.in_client and exemption(r) is not None
        for m in r.methods
    }
    assert sorted(operations - served) == [], "documented but not served (or exempt)"
    assert sorted(served - operations) == [], "served but not in the OpenAPI document"


# --- 401 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", CHECKED, ids=_ids(CHECKED))
def test_no_credentials_is_refused(w, route):
    url = w.small.url(route)
    path = url.split("?", 1)[0]
    path = path.split(f"/clients/{w.small.slug}", 1)[-1] if route.in_client else path
    urlconf = settings.ROOT_URLCONF if route.in_client else settings.PUBLIC_SCHEMA_URLCONF
    match = resolve(path, urlconf=urlconf)
    assert match.func.__name__ == route.view.__name__ or match.view_name == route.name, url
    for method in route.methods:
        response = call(w.small.http(None), route, method, url)
        if route.is_api:
            assert response.status_code == 401, (method, url, response.status_code)
            assert is_json(response), (method, url)
            bogus = HttpClient(HTTP_AUTHORIZATION="Bearer po_not-a-real-token")
            assert call(bogus, route, method, url).status_code == 401, (method, url)
        else:
            assert response.status_code == 302, (method, url, response.status_code)
            assert response["Location"].startswith(settings.LOGIN_URL), (method, url)


# --- 404 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", CLIENT_ROUTES, ids=_ids(CLIENT_ROUTES))
def test_another_clients_principals_get_404(w, route):
    """The big client's owner and token cannot see the small client at all."""
    url = w.small.url(route)
    strangers = ["owner"] + (["read_token", "agent_token"] if route.is_api else [])
    for method in route.methods:
        for principal in strangers:
            response = call(w.big.http(principal), route, method, url)
            assert response.status_code == 404, (principal, method, url, response.status_code)
            if route.is_api:
                assert is_json(response), (principal, method, url)


def _holder(route: routes.Route, capability: Capability | None) -> str:
    """A principal of this client holding the capability (MSP admin when it may)."""
    if capability is None:
        return "owner"  # outside a client: the owner sees only its own client
    for principal in ("admin", "owner", "agent_token"):
        if principal in pool(route) and holds(principal, capability):
            return principal
    raise AssertionError(f"no principal holds {capability} for {route}")


@pytest.mark.parametrize("route", WITH_CLIENT_OBJECTS, ids=_ids(WITH_CLIENT_OBJECTS))
def test_another_clients_object_is_404(w, route):
    """This client's URL with the other client's object ids: 404, whatever the method."""
    url = w.small.url(route, objects=w.big)
    assert url != w.small.url(route)
    for method in route.methods:
        principal = _holder(route, route.capability(method))
        response = call(w.small.http(principal), route, method, url)
        assert response.status_code == 404, (principal, method, url, response.status_code)
        if route.is_api:
            assert is_json(response), (principal, method, url)


# --- 403 ------------------------------------------------------------------------------------------


CAPABILITY_ROUTES = [r for r in CHECKED if r.in_client or r.is_api]


@pytest.mark.parametrize("route", CAPABILITY_ROUTES, ids=_ids(CAPABILITY_ROUTES))
def test_a_missing_capability_is_403(w, route):
    url = w.small.url(route)
    for method in route.methods:
        capability = route.capability(method)
        if capability is None:
            # Outside a client: any signed-in principal, except agent tokens (discovery only).
            refused = ["agent_token"] if route.is_api else []
            admitted = ["viewer"] if method == "GET" else []
        else:
            held = holds if route.in_client else holds_msp_wide
            refused = [p for p in pool(route) if not held(p, capability)]
            weakest = [p for p in pool(route) if held(p, capability)]
            admitted = weakest[:1] if method == "GET" else []
            if method != "GET" and (route.key, method) not in READ_ROLE_WRITES:
                assert capability not in (V, R), (
                    f"{method} {route} is a write that needs {capability}"
                )
                refused += [p for p in READ_ONLY if p in pool(route) and p not in refused]
            if route.is_api and route.key not in AGENT_ROUTES:
                assert "agent_token" in refused, f"{route}: an agent token must not reach it"
        for principal in refused:
            response = call(w.small.http(principal), route, method, url)
            assert response.status_code == 403, (principal, method, url, response.status_code)
            if route.is_api:
                assert is_json(response), (principal, method, url)
        for principal in admitted:
            response = call(w.small.http(principal), route, method, url)
            drain(response)
            assert response.status_code == 200, (principal, method, url, response.status_code)
        if (route.key, method) in READ_ROLE_WRITES:
            for principal in READ_ONLY:
                if principal in pool(route):
                    response = call(w.small.http(principal), route, method, url)
                    status = response.status_code
                    # The API refuses (4xx); a page answers with its form's redirect and message.
                    redirect = status == 302 and not route.is_api
                    assert redirect or 400 <= status < 500, (principal, method, url, status)
                    if redirect:
                        assert not response["Location"].startswith(settings.LOGIN_URL)


# --- security headers ---------------------------------------------------------------------------


ANSWERED = [r for r in ALL_ROUTES if r.methods and all(param_source(r, p) for p in r.params)]


def _script_sources(response: Any) -> list[str]:
    for directive in response["Content-Security-Policy"].split(";"):
        name, *values = directive.split()
        if name == "script-src":
            return values
    raise AssertionError("no script-src directive")


@pytest.mark.parametrize("route", ANSWERED, ids=_ids(ANSWERED))
def test_every_answer_carries_the_csp_and_permissions_policy(w, route):
    """Every method without credentials, and GET signed in (the principal holding what it
    asks, else an MSP admin): scripts from this origin only; WebAuthn stays allowed here."""
    url = w.small.url(route)
    calls = [(None, method) for method in route.methods]
    # The OpenAPI document answers everyone alike; generating it queries a client table from
    # the public schema, which leaves this test's transaction unusable: it is called once.
    if "GET" in route.methods and route.key != "api/schema/":
        capability = route.capability("GET") if route.in_client else None
        calls.append((_holder(route, capability) if capability else "admin", "GET"))
    for principal, method in calls:
        response = call(w.small.http(principal), route, method, url)
        drain(response)
        assert "Content-Security-Policy" in response, (method, url, response.status_code)
        assert _script_sources(response) == ["'self'"], (method, url)
        policy = response["Permissions-Policy"]
        assert "camera=()" in policy and "microphone=()" in policy, (method, url)
        assert "geolocation=()" in policy, (method, url)
        assert "publickey-credentials-get=(self)" in policy, (method, url)
        assert "publickey-credentials-create=(self)" in policy, (method, url)


# --- query counts -------------------------------------------------------------------------------


_measured: dict[str, int] = {}


@dataclass
class Measured:
    status: int
    queries: list[str]

    @property
    def count(self) -> int:
        return len(self.queries)


def _measure(http: HttpClient, url: str) -> Measured:
    with CaptureQueriesContext(connection) as captured:
        response = http.get(url)
        drain(response)
    return Measured(response.status_code, [q["sql"] for q in captured.captured_queries])


def _grown(small: Measured, big: Measured) -> str:
    """The statements the big data set ran more often (literals folded), for the message."""
    shape = Counter(re.sub(r"'[^']*'|\b\d+\b", "?", q) for q in small.queries)
    more = Counter(re.sub(r"'[^']*'|\b\d+\b", "?", q) for q in big.queries) - shape
    return "\n".join(f"  +{n} × {sql[:300]}" for sql, n in more.most_common(5))


def _grow_public_data(w: World) -> None:
    """More clients for the account manager, more catalogue entries (rolled back)."""
    w.big.client.account_managers.add(
        *w.small.client.account_managers.filter(email="am@routes.test")
    )
    import_catalogue(w.catalogue_folder / "more", CVES[4:])
    connection.set_schema_to_public()


# GETs that change what the next GET sees: measured in their steady state (after one call).
STATEFUL_GETS = {"clients/<slug>/api/v1/agent-jobs/": "an agent's poll claims its queued jobs"}


@pytest.mark.parametrize("route", GET_ROUTES, ids=_ids(GET_ROUTES))
def test_query_count_does_not_grow_with_the_data(w, route, query_baseline):
    if route.in_client:
        principal = _holder(route, route.capability("GET"))
        if route.key in STATEFUL_GETS:
            for side in (w.small, w.big):
                drain(side.http(principal).get(side.url(route)))
        small = _measure(w.small.http(principal), w.small.url(route))
        big = _measure(w.big.http(principal), w.big.url(route))
    else:
        # Any signed-in principal, or one holding the MSP-wide capability the route declares.
        capability = route.capability("GET")
        principal = _holder(route, capability) if capability else "account_manager"
        small = _measure(w.small.http(principal), w.small.url(route))
        _grow_public_data(w)
        big = _measure(w.small.http(principal), w.small.url(route))
    assert small.status == big.status == 200, (route.key, small.status, big.status)
    assert big.count <= small.count, (
        f"{route}: {small.count} queries with the small data set, {big.count} with the big one:\n"
        + _grown(small, big)
    )
    count = max(small.count, big.count)
    if route.in_client and holds("owner", route.capability("GET")):
        # The client's own people see other branches of the same pages (sign-off, portal).
        owner_small = _measure(w.small.http("owner"), w.small.url(route))
        owner_big = _measure(w.big.http("owner"), w.big.url(route))
        assert owner_small.status == owner_big.status == 200, route.key
        assert owner_big.count <= owner_small.count, (
            f"{route} (client owner): {owner_small.count} queries with the small data set, "
            f"{owner_big.count} with the big one:\n" + _grown(owner_small, owner_big)
        )
    if UPDATE_BASELINE:
        _measured[route.key] = count
        return
    assert route.key in query_baseline, f"{route}: no baseline; run with UPDATE_QUERY_COUNTS=1"
    assert count <= query_baseline[route.key], (
        f"{route}: {count} queries, the baseline is {query_baseline[route.key]}"
    )


@pytest.fixture(scope="module")
def query_baseline() -> Iterator[dict[str, int]]:
    stored = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    yield stored
    if UPDATE_BASELINE and _measured:
        with open(BASELINE, "a+") as handle, contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            text = handle.read()
            merged = json.loads(text) if text.strip() else {}
            merged.update(_measured)
            keys = {r.key for r in GET_ROUTES}
            merged = {k: v for k, v in sorted(merged.items()) if k in keys}
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(merged, indent=2) + "\n")


def test_the_baseline_names_only_existing_routes():
    if UPDATE_BASELINE:
        pytest.skip("UPDATE_QUERY_COUNTS=1 rewrites the baseline (and drops routes that are gone)")
    stored = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    stale = sorted(set(stored) - {r.key for r in GET_ROUTES})
    assert not stale, f"query_counts.json lists routes that are gone: {stale}"
