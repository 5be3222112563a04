"""Nobody who needs a second factor reaches a page before giving it."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse

from .second_factor import has_factor, is_verified, must_verify

# Paths a signed-in user who still owes a second factor may reach: signing in and out, the
# second-factor pages themselves (with the passkey's step of the verify page), static files and
# the load balancer's health check.
EXEMPT_PREFIXES = (
    "/accounts/login/",
    "/accounts/logout/",
    "/accounts/mfa/verify/",
    "/accounts/mfa/enrol/",
    "/accounts/passkeys/verify/",
    "/health/",
)


class SecondFactorMiddleware:
    """Sends a signed-in user who needs a second factor (or has one) and has not given it in
    this session to the verify page (or, without a factor yet, to enrolment), for every page
    and the Django admin. API requests with a session answer 403 JSON instead; requests
    authenticated by an API token (``Authorization`` header) are left to the API's own
    authentication."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.exempt = EXEMPT_PREFIXES + (settings.STATIC_URL,)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is None
            or not user.is_authenticated
            or "HTTP_AUTHORIZATION" in request.META
            or request.path.startswith(self.exempt)
            or is_verified(request)
            or not must_verify(user)
        ):
            return self.get_response(request)
        if "/api/" in request.path:
            return JsonResponse(
                {"detail": "Give your second factor first (sign in on the web page)."},
                status=403,
            )
        target = "accounts-mfa:verify" if has_factor(user) else "accounts-mfa:enrol"
        query = urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(
            f"{reverse(target, urlconf=settings.PUBLIC_SCHEMA_URLCONF)}?{query}"
        )
