"""What the every-route test expects of each route: exemptions, where each URL parameter comes
from, the role table as the README states it."""

from __future__ import annotations

import os
from pathlib import Path

from tenants.permissions import Capability
from tests import routes

V, OP, AD, R, S, P, AU = (
    Capability.VIEW,
    Capability.OPERATE,
    Capability.ADMINISTER,
    Capability.REPORTS,
    Capability.SIGN,
    Capability.PUSH_DISCOVERY,
    Capability.AUDIT,
)
PE = Capability.PEOPLE
RC = Capability.RECIPIENTS

BASELINE = Path(__file__).with_name("query_counts.json")
UPDATE_BASELINE = os.environ.get("UPDATE_QUERY_COUNTS") == "1"

# Routes that answer without credentials on purpose, or are no client data at all.
EXEMPT = {
    "accounts/login/": "the sign-in page answers everyone",
    "accounts/logout/": "signing out needs no session",
    "accounts/mfa/verify/": "the second step of signing in: it answers the signed-in user who "
    "has not given the factor yet and sends everyone else on (tests/accounts/test_mfa_login.py)",
    "accounts/mfa/enrol/": "enrolment answers a signed-in user without a factor and sends a "
    "user who has one on (tests/accounts/test_mfa_login.py)",
    "health/": "the load balancer's health check answers without credentials",
    "api/schema/": "the OpenAPI document is public",
    "api/docs/": "the API documentation page is public",
    "accounts/invitations/<token>/": "the invitee has no account yet: the link's token admits",
    "accounts/password/reset/": "asking for a reset link needs no session",
    "accounts/password/reset/sent/": "the page after asking for a reset link",
    "accounts/password/reset/<uidb64>/<token>/": "the reset link's token admits",
    "accounts/password/reset/complete/": "the page after a reset",
    "clients/<slug>/reports/delivered/<token>/": "a report e-mail's link admits only the person "
    "signed in with the address it was sent to: sign-in, other people, other clients, a changed "
    "or expired link (tests/reports/test_report_delivery.py)",
    "clients/<slug>/api/v1/psa-connections/<id>/inbound/": "the PSA's webhook: no token, the "
    "PSA's "
    "signature admits (tests/integrations/test_psa_connectors.py checks 400/401/403)",
    "clients/<slug>/api/v1/exposure-feeds/<id>/inbound/": "an exposure feed's webhook: no "
    "token, the feed's signature admits (tests/exposure/test_exposure_triage.py checks "
    "400/401/403/409)",
}
EXEMPT_PREFIXES = {"admin/": "Django's admin site: its own staff sign-in, no client data"}
# API routes the OpenAPI document does not list (format-suffix aliases ``….<format>`` neither).
NOT_IN_SCHEMA = {"api/v1/": "the browsable API root lists links, it is no operation"}

# What fills each URL parameter, by "<resource segment>:<parameter>": an object of the client
# (looked up in ``Side.ids``) or a constant.
PARAMS: dict[str, str] = {
    "clients:slug": "client",
    "vulnerabilities:cve": "cve",
    "kev-entries:cve": "cve",
    "advisories:id": "advisory",
    "assets:uuid": "asset",
    "software:uuid": "software",
    "unknown-devices:uuid": "unknown_device",
    "discovery-runs:uuid": "discovery_run",
    "snapshots:uuid": "snapshot",
    "software-policies:uuid": "policy",
    "policies:uuid": "policy",
    "findings:id": "finding",
    "findings:uuid": "finding",
    "triage:uuid": "finding_triage",
    "rings:id": "ring",
    "rollouts:id": "rollout",
    "rollouts:pk": "rollout",
    "maintenance-windows:id": "window",
    "maintenance-windows:pk": "window",
    "runbook-checks:id": "runbook_check",
    "restore-tests:id": "restore_test",
    "exceptions:uuid": "exception",
    "privileged-accounts:uuid": "privileged_account",
    "privileged-issues:uuid": "privileged_issue",
    "offboarding:uuid": "offboarding",
    "offboarding-checklists:uuid": "offboarding",
    "items:item": "offboarding_item",
    "evidence:uuid": "event",
    "reports:uuid": "report",
    "agent-jobs:id": "agent_job",
    "psa-tickets:id": "psa_ticket",
    "outbox-messages:id": "outbox_message",
    "outbox:pk": "outbox_message",
    "psa-connections:id": "psa_connection",
    "messages:pk": "psa_message",
    "network-scans:pk": "scan_subnet",
    "report-requests:uuid": "report_request",
    "report-recipients:uuid": "report_recipient",
    "requests:uuid": "report_request",
    "uploads:uuid": "upload",
    "uploads:id": "upload",
    "catalogue-uploads:uuid": "catalogue_upload",
    "catalogue-uploads:id": "catalogue_upload",
    "patch-policies:id": "patch_policy",
    "patch-policies:pk": "patch_policy",
    "patch-policy-templates:id": "policy_template",
    "patch-policy-templates:pk": "policy_template",
    "webhooks:pk": "webhook",
    "webhooks:id": "webhook",
    "deliveries:delivery": "webhook_delivery",
    "msp-webhooks:pk": "msp_webhook",
    "msp-webhooks:id": "msp_webhook",
    "exposure-alerts:id": "exposure_alert",
    "exposure-feeds:id": "exposure_feed",
    "exposure:uuid": "exposure_alert",
}
CONSTANTS: dict[str, str] = {"snapshots:kind": "csv", "*:format": "json"}
# Query strings a route cannot be called without (``{name}`` from ``Side.ids``).
QUERIES = {"clients/<slug>/api/v1/agent-jobs/": "agent_id={agent}"}
# Reference data shared by every client: not "another client's object".
SHARED_OBJECTS = {"cve", "advisory", "catalogue_upload", "policy_template", "msp_webhook"}

# The role table as the README states it (the test's own copy, not the engine's).
PRINCIPALS: dict[str, tuple[str, frozenset[Capability]]] = {
    "viewer": ("session", frozenset({V, R})),
    "account_manager": ("session", frozenset({V, R, RC})),
    "owner": ("session", frozenset({V, R, S, AU, PE})),
    "engineer": ("session", frozenset({V, OP, R})),
    "admin": ("session", frozenset({V, OP, AD, R, AU, PE, RC})),
    "read_token": ("token", frozenset({V, R})),
    "write_token": ("token", frozenset({V, OP, R})),
    "agent_token": ("token", frozenset({P})),
}
# What each principal holds across every client (an MSP-wide route's ``msp_capability``): MSP
# admins' and engineers' roles; the tokens here are bound to one client, so they hold nothing.
MSP_WIDE: dict[str, frozenset[Capability]] = {
    "engineer": frozenset({V, OP, R}),
    "admin": frozenset({V, OP, AD, R, AU, PE, RC}),
}
READ_ONLY = ("viewer", "read_token")
# Writes the permission layer lets a read-only principal send: the route decides further down
# (these calls carry no valid body, so never a 2xx here).
READ_ROLE_WRITES = {
    ("clients/<slug>/api/v1/rollouts/preview/", "POST"): "a preview reads, it changes nothing",
    ("clients/<slug>/api/v1/rollouts/<id>/approve/", "POST"): "the ring's approver role decides",
    ("clients/<slug>/rollouts/<pk>/approve/", "POST"): "the ring's approver role decides",
    ("clients/<slug>/api/v1/reports/", "POST"): "MSP staff and write tokens queue reports",
    ("clients/<slug>/reports/", "POST"): "MSP staff queue reports",
    ("clients/<slug>/exceptions/export.pdf", "POST"): "MSP staff queue reports",
    ("clients/<slug>/api/v1/report-requests/<uuid>/retry/", "POST"): "MSP staff queue reports",
    ("clients/<slug>/reports/requests/<uuid>/retry/", "POST"): "MSP staff queue reports",
}
# The only client API routes an agent token reaches.
AGENT_ROUTES = {
    "clients/<slug>/api/v1/discovery/",
    "clients/<slug>/api/v1/agent-jobs/",
    "clients/<slug>/api/v1/agent-jobs/<id>/result/",
    "clients/<slug>/api/v1/agent-config/",
    "clients/<slug>/api/v1/agent/download/",
}


def exemption(route: routes.Route) -> str | None:
    if route.key in EXEMPT:
        return EXEMPT[route.key]
    for prefix, reason in EXEMPT_PREFIXES.items():
        if route.key.startswith(prefix):
            return reason
    return None


def param_source(route: routes.Route, param: str) -> tuple[str, str] | None:
    """("object", resource) or ("constant", value) for a parameter, None when none is known."""
    segment = route.segment_of(param)
    for key in (f"{segment}:{param}", f"*:{param}"):
        if key in PARAMS:
            return "object", PARAMS[key]
        if key in CONSTANTS:
            return "constant", CONSTANTS[key]
    return None


ALL_ROUTES = routes.all_routes()
CHECKED = [
    r
    for r in ALL_ROUTES
    if exemption(r) is None and r.methods and all(param_source(r, p) for p in r.params)
]


def _ids(routes_: list[routes.Route]) -> list[str]:
    return [r.key for r in routes_]


def _client_objects(route: routes.Route) -> list[str]:
    return [
        p
        for p in route.params
        if param_source(route, p)[0] == "object" and param_source(route, p)[1] not in SHARED_OBJECTS
    ]


CLIENT_ROUTES = [r for r in CHECKED if r.in_client]
WITH_CLIENT_OBJECTS = [r for r in CHECKED if _client_objects(r)]
GET_ROUTES = [r for r in CHECKED if "GET" in r.methods]
