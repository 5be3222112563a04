from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.urls import get_script_prefix, reverse

from tenants.permissions import capabilities_in, current_client, role_in, visible_clients

# First path segment under /clients/<slug>/ → the client nav tab it belongs to.
SECTION_OF_SEGMENT = {
    "": "overview",
    "assets": "assets",
    "unknown-devices": "unknown-devices",
    "discovery-runs": "assets",
    "scope": "assets",
    "snapshots": "assets",
    "uploads": "assets",
    "findings": "findings",
    "prioritization-log": "findings",
    "sla-policy": "findings",
    "compliance": "compliance",
    "rollouts": "rollouts",
    "rings": "rollouts",
    "maintenance-windows": "rollouts",
    "patch-policies": "rollouts",
    "exceptions": "exceptions",
    "reports": "reports",
    "evidence": "evidence",
    "portal": "portal",
    "tokens": "tokens",
    "agents": "tokens",
    "integrations": "integrations",
    "audit-log": "audit-log",
    "people": "people",
    "security": "security",
}


def client_section(path: str, base: str) -> str:
    """The client nav tab a request path under ``base`` (``/clients/<slug>/``) belongs to."""
    if not path.startswith(base):
        return ""
    segment = path[len(base) :].split("/", 1)[0]
    return SECTION_OF_SEGMENT.get(segment, "")


# Root pages named once: the client pages' URLconf (django-tenants' subfolder URLconf) does not
# hold the public schema's URL names, so they are reversed against the public URLconf.
PUBLIC_PAGES = {
    "home": "home",
    "scorecards": "scorecards:scorecard_list",
    "api_docs": "api-docs",
    "catalogue_freshness": "catalogue-freshness",
    "catalogue_uploads": "catalogue-uploads:list",
    "policy_templates": "policy-templates:policytemplate_list",
    "critical_queue": "findings-queue:critical_queue",
    "audit_log": "audit:audit_log",
    "login": "login",
    "logout": "logout",
    "password_change": "accounts:password_change",
    "sessions": "accounts:sessions",
    "mfa": "accounts-mfa:manage",
    "passkeys": "passkeys:passkey_list",
    "users": "accounts:users",
    "notifications": "notifications:preferences",
    "chat_webhooks": "notifications:chat_webhooks",
    "report_branding": "report-branding:msp-branding",
}


# The root pages' addresses per (script prefix, public URLconf): reversed once per process
# rather than on every page (about a millisecond of each page's CPU).
_public_urls: dict[tuple[str, str], dict[str, str]] = {}


def public_urls() -> dict[str, str]:
    key = (get_script_prefix(), settings.PUBLIC_SCHEMA_URLCONF)
    urls = _public_urls.get(key)
    if urls is None:
        urls = {
            page: reverse(name, urlconf=settings.PUBLIC_SCHEMA_URLCONF)
            for page, name in PUBLIC_PAGES.items()
        }
        _public_urls[key] = urls
    return urls


@receiver(setting_changed)
def _forget_public_urls(*, setting: str, **kwargs: Any) -> None:
    if setting in ("ROOT_URLCONF", "PUBLIC_SCHEMA_URLCONF"):
        _public_urls.clear()


def portal(request: HttpRequest) -> dict[str, Any]:
    """The current client (only when the user may see it), the user's capabilities there, the
    current section of the client nav and, for staff, the client switcher."""
    user = getattr(request, "user", None)
    client = current_client(request)
    if client is not None and role_in(user, client) is None:
        client = None  # a 404 page must not reveal the name of a client the user cannot see
    switcher = []
    is_staff = bool(user is not None and user.is_authenticated and getattr(user, "staff_role", ""))
    if is_staff:
        switcher = visible_clients(user).only("slug", "name")
    capabilities: set[str] = set()
    section = ""
    if client is not None:
        capabilities = {c.value for c in capabilities_in(user, client)}
        section = client_section(request.path, client.get_absolute_url())
    return {
        "public_urls": public_urls(),
        "current_client": client,
        "switcher_clients": switcher,
        "is_staff_user": is_staff,
        "nav_capabilities": capabilities,
        "client_section": section,
    }
