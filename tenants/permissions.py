"""The one permission layer. Every page, API endpoint, command and task asks it.

A *principal* is a signed-in ``User`` or an ``ApiToken``. For one client a principal either
cannot see it at all (answer 404, so other clients' existence does not leak) or holds a role
there that grants a set of capabilities (a missing capability answers 403).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from .choices import MembershipRole, StaffRole, TokenScope
from .models import ApiToken, Client

if TYPE_CHECKING:
    pass

__all__ = [
    "Capability",
    "ROLE_CAPABILITIES",
    "role_in",
    "capabilities_in",
    "has_capability",
    "require",
    "visible_clients",
    "ClientAccess",
    "ClientPageMixin",
    "current_client",
    "may_generate",
    "may_import_catalogues",
    "msp_capabilities",
    "has_msp_capability",
    "MspPageMixin",
    "MspAccess",
    "may_read_msp_audit_log",
]


class Capability(StrEnum):
    VIEW = "view"  # read the client's inventory, findings, rollouts, exceptions, evidence
    OPERATE = "operate"  # engineer work: triage, rollouts, runbook checks, open exceptions
    ADMINISTER = "administer"  # SLA policy, rings, tokens, client settings
    REPORTS = "reports"  # list and download stored reports
    SIGN = "sign"  # sign off or reject exceptions in the client portal
    PUSH_DISCOVERY = "push_discovery"  # agents push inventory and report job results
    AUDIT = "audit"  # read and export the client's security audit log
    PEOPLE = "people"  # invite, re-role and remove the client's users (its People page)
    RECIPIENTS = "recipients"  # choose who is e-mailed the client's reports (MSP admins, AMs)


C = Capability
ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    StaffRole.MSP_ADMIN: frozenset(
        {C.VIEW, C.OPERATE, C.ADMINISTER, C.REPORTS, C.AUDIT, C.PEOPLE, C.RECIPIENTS}
    ),
    StaffRole.ENGINEER: frozenset({C.VIEW, C.OPERATE, C.REPORTS}),
    StaffRole.ACCOUNT_MANAGER: frozenset({C.VIEW, C.REPORTS, C.RECIPIENTS}),
    MembershipRole.CLIENT_OWNER: frozenset({C.VIEW, C.REPORTS, C.SIGN, C.AUDIT, C.PEOPLE}),
    MembershipRole.CLIENT_VIEWER: frozenset({C.VIEW, C.REPORTS}),
    TokenScope.READ: frozenset({C.VIEW, C.REPORTS}),
    TokenScope.WRITE: frozenset({C.VIEW, C.OPERATE, C.REPORTS}),
    TokenScope.AGENT: frozenset({C.PUSH_DISCOVERY}),
}


def _is_real_client(client: Client | None) -> bool:
    return client is not None and not client.is_public


def role_in(principal: Any, client: Client | None) -> str | None:
    """The role that gives ``principal`` sight of ``client``, or None when it may not see it."""
    if not _is_real_client(client) or principal is None:
        return None
    if isinstance(principal, ApiToken):
        if principal.is_revoked:
            return None
        if principal.client_id is None or principal.client_id == client.pk:
            return principal.scope
        return None
    if not getattr(principal, "is_authenticated", False) or not principal.is_active:
        return None
    if principal.staff_role in (StaffRole.MSP_ADMIN, StaffRole.ENGINEER):
        return principal.staff_role
    cache = principal.__dict__.setdefault("_client_roles", {})
    if client.pk not in cache:
        if principal.staff_role == StaffRole.ACCOUNT_MANAGER:
            managed = client.account_managers.filter(pk=principal.pk).exists()
            cache[client.pk] = StaffRole.ACCOUNT_MANAGER if managed else None
        else:
            cache[client.pk] = (
                client.memberships.filter(user=principal).values_list("role", flat=True).first()
            )
    return cache[client.pk]


def capabilities_in(principal: Any, client: Client | None) -> frozenset[Capability]:
    role = role_in(principal, client)
    return ROLE_CAPABILITIES.get(role, frozenset()) if role else frozenset()


def has_capability(principal: Any, client: Client | None, capability: Capability) -> bool:
    return capability in capabilities_in(principal, client)


def require(principal: Any, client: Client | None, capability: Capability) -> str:
    """The principal's role in ``client``: 404 when it cannot see it, 403 when not allowed."""
    role = role_in(principal, client)
    if role is None:
        raise Http404("No such client.")
    if capability not in ROLE_CAPABILITIES[role]:
        raise PermissionDenied(f"Your role does not allow this ({capability.value}).")
    return role


def visible_clients(principal: Any) -> QuerySet[Client]:
    """Clients the principal may see; default deny."""
    qs = Client.objects.exclude(schema_name="public").order_by("name")
    if isinstance(principal, ApiToken):
        if principal.is_revoked:
            return qs.none()
        return qs if principal.client_id is None else qs.filter(pk=principal.client_id)
    if not getattr(principal, "is_authenticated", False) or not principal.is_active:
        return qs.none()
    if principal.staff_role in (StaffRole.MSP_ADMIN, StaffRole.ENGINEER):
        return qs
    if principal.staff_role == StaffRole.ACCOUNT_MANAGER:
        return qs.filter(account_managers=principal)
    return qs.filter(memberships__user=principal).distinct()


def current_client(request: Any) -> Client | None:
    tenant = getattr(request, "tenant", None)
    return tenant if _is_real_client(tenant) else None


class ClientAccess(BasePermission):
    """DRF permission: every API view goes through it (it is the default permission class).

    Inside ``/clients/<slug>/api/`` the view's ``capabilities`` map (HTTP method or action name →
    Capability) decides; by default safe methods need VIEW and writes need OPERATE. Agent tokens
    reach only views that ask for PUSH_DISCOVERY. Cross-client views need a signed-in principal and
    filter through ``visible_clients``.
    """

    def has_permission(self, request: Any, view: Any) -> bool:
        principal = request.user
        if not getattr(principal, "is_authenticated", False):
            raise drf_exceptions.NotAuthenticated()
        client = current_client(request)
        capability = self.required_capability(request, view)
        if client is None:
            # Cross-client endpoints: agent tokens have no business there.
            if isinstance(principal, ApiToken) and principal.scope == TokenScope.AGENT:
                raise drf_exceptions.PermissionDenied("An agent token may only push discovery.")
            return True
        try:
            require(principal, client, capability)
        except Http404 as exc:
            raise drf_exceptions.NotFound("Not found.") from exc
        except PermissionDenied as exc:
            raise drf_exceptions.PermissionDenied(str(exc)) from exc
        return True

    @staticmethod
    def required_capability(request: Any, view: Any) -> Capability:
        mapping: dict[str, Capability] = getattr(view, "capabilities", {}) or {}
        action = getattr(view, "action", None)
        if action and action in mapping:
            return mapping[action]
        if request.method in mapping:
            return mapping[request.method]
        return Capability.VIEW if request.method in SAFE_METHODS else Capability.OPERATE


class ClientPageMixin(AccessMixin):
    """For HTML views under /clients/<slug>/: login, then the capability check of this module."""

    capability: Capability = Capability.VIEW

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        client = current_client(request)
        self.client = client
        self.role = require(request.user, client, self.required_capability(request))
        return super().dispatch(request, *args, **kwargs)

    def required_capability(self, request: Any) -> Capability:
        return self.capability

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["client"] = self.client
        context["role"] = self.role
        context["client_capabilities"] = {c.value for c in ROLE_CAPABILITIES[self.role]}
        return context


# Who may queue a report: MSP staff (admin, engineer, account manager) and write-scope tokens.
# Everyone with the REPORTS capability may list and download; client owners and viewers may not
# generate (a generated report is a deliverable of the MSP).
REPORT_GENERATOR_ROLES = frozenset(
    {StaffRole.MSP_ADMIN, StaffRole.ENGINEER, StaffRole.ACCOUNT_MANAGER, TokenScope.WRITE}
)


def may_generate(role: Any) -> bool:
    """True when ``role`` (from ``role_in``) may queue the generation of a report."""
    return role in REPORT_GENERATOR_ROLES


def may_import_catalogues(principal: Any) -> bool:
    """Catalogue files are the MSP's, not a client's: MSP admins and engineers, and MSP-wide
    write tokens, may upload them."""
    if isinstance(principal, ApiToken):
        return (
            not principal.is_revoked
            and principal.client_id is None
            and principal.scope == TokenScope.WRITE
        )
    return (
        getattr(principal, "is_authenticated", False)
        and principal.is_active
        and principal.staff_role in (StaffRole.MSP_ADMIN, StaffRole.ENGINEER)
    )


def msp_capabilities(principal: Any) -> frozenset[Capability]:
    """What a principal may do MSP-wide (every client at once, e.g. templates applied to many
    clients): an MSP admin's or engineer's role capabilities, an MSP-wide token's scope; nothing
    for account managers, client people and client-bound tokens."""
    if isinstance(principal, ApiToken):
        if principal.is_revoked or principal.client_id is not None:
            return frozenset()
        return ROLE_CAPABILITIES.get(principal.scope, frozenset())
    if not getattr(principal, "is_authenticated", False) or not principal.is_active:
        return frozenset()
    if principal.staff_role in (StaffRole.MSP_ADMIN, StaffRole.ENGINEER):
        return ROLE_CAPABILITIES[principal.staff_role]
    return frozenset()


def has_msp_capability(principal: Any, capability: Capability) -> bool:
    return capability in msp_capabilities(principal)


class MspPageMixin(AccessMixin):
    """For HTML views outside a client that act MSP-wide: login, then the view's
    ``msp_capability`` (403 without it)."""

    msp_capability: Capability = Capability.ADMINISTER

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not has_msp_capability(request.user, self.msp_capability):
            raise PermissionDenied(
                f"This page needs the MSP-wide {self.msp_capability.value} capability."
            )
        return super().dispatch(request, *args, **kwargs)


class MspAccess(ClientAccess):
    """DRF permission for MSP-wide endpoints: the view's ``msp_capability`` (default
    administer) held MSP-wide (401 without credentials, 403 without it)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        super().has_permission(request, view)
        capability = getattr(view, "msp_capability", Capability.ADMINISTER)
        if not has_msp_capability(request.user, capability):
            raise drf_exceptions.PermissionDenied(
                f"This needs the MSP-wide {capability.value} capability."
            )
        return True


def may_read_msp_audit_log(principal: Any) -> bool:
    """The MSP-wide audit log (every client's security events and the MSP's own): signed-in MSP
    admins only, never a token. A client's own log is the AUDIT capability in that client
    (MSP admins and the client's owners). Engineers hold neither: the log records what MSP
    staff did (sign-ins, exports, tokens) and the client users' addresses and devices."""
    return (
        not isinstance(principal, ApiToken)
        and getattr(principal, "is_authenticated", False)
        and principal.is_active
        and principal.staff_role == StaffRole.MSP_ADMIN
    )
