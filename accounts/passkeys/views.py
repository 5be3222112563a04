"""The passkeys page (/accounts/passkeys/): list, add, rename, remove; and the JSON endpoints
static/js/passkeys.js calls around navigator.credentials.create() and .get()."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from accounts import audit, second_factor
from accounts.models import Passkey

from . import services

REGISTRATION_SESSION_KEY = "passkey_registration_challenge"
LOGIN_SESSION_KEY = "passkey_login_challenge"


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationError("Send the request as a JSON object.") from exc
    if not isinstance(data, dict):
        raise ValidationError("Send the request as a JSON object.")
    return data


def _refusal(error: ValidationError, status: int = 400) -> JsonResponse:
    if hasattr(error, "error_dict"):
        fields = dict(error.message_dict)
        detail = " ".join(m for msgs in fields.values() for m in msgs)
        return JsonResponse({"detail": detail, "errors": fields}, status=status)
    return JsonResponse({"detail": " ".join(error.messages)}, status=status)


class PasskeyListView(LoginRequiredMixin, TemplateView):
    """The signed-in person's own passkeys; POST renames or removes one."""

    template_name = "accounts/passkeys/passkey_list.html"
    raise_exception = False

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["passkeys"] = Passkey.objects.filter(user=self.request.user).order_by(
            "created_at", "id"
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        action = request.POST.get("action", "")
        passkey = Passkey.objects.filter(
            user=request.user, uuid=_uuid_or_none(request.POST.get("passkey", ""))
        ).first()
        if action not in ("rename", "remove") or passkey is None:
            messages.error(request, "Choose one of your passkeys and what to do with it.")
            return self.render_to_response(self.get_context_data(), status=400)
        try:
            if action == "rename":
                services.rename_passkey(
                    user=request.user,
                    passkey=passkey,
                    name=request.POST.get("name", ""),
                    request=request,
                )
                messages.success(request, "Passkey renamed.")
            else:
                services.remove_passkey(user=request.user, passkey=passkey, request=request)
                messages.success(request, f"Passkey “{passkey.name}” removed.")
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return self.render_to_response(self.get_context_data(), status=400)
        return redirect(reverse("passkeys:passkey_list"))


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError):
        return None


class _JsonPost(LoginRequiredMixin, View):
    http_method_names = ["post"]


class RegistrationOptionsView(_JsonPost):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        options, challenge = services.registration_options(user=request.user)
        request.session[REGISTRATION_SESSION_KEY] = bytes_to_base64url(challenge)
        return JsonResponse(options)


class RegistrationView(_JsonPost):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        try:
            data = _json_body(request)
            stored = request.session.pop(REGISTRATION_SESSION_KEY, None)
            passkey = services.complete_registration(
                user=request.user,
                credential=data.get("credential"),
                challenge=base64url_to_bytes(stored) if stored else None,
                name=str(data.get("name") or ""),
                request=request,
            )
        except ValidationError as error:
            return _refusal(error)
        messages.success(request, f"Passkey “{passkey.name}” added.")
        return JsonResponse(
            {
                "uuid": str(passkey.uuid),
                "name": passkey.name,
                "redirect": reverse("passkeys:passkey_list"),
            },
            status=201,
        )


class VerifyOptionsView(_JsonPost):
    """A second factor for this session: options over a fresh random challenge."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        challenge = secrets.token_bytes(32)
        request.session[LOGIN_SESSION_KEY] = bytes_to_base64url(challenge)
        return JsonResponse(services.assertion_options(user=request.user, challenge=challenge))


class VerifyView(_JsonPost):
    """Checks the assertion over the session's challenge and marks the session verified."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        stored = request.session.pop(LOGIN_SESSION_KEY, None)
        try:
            data = _json_body(request)
            if not stored:
                raise ValidationError("Start again: the passkey request expired or was used.")
            services.verify_assertion(
                user=request.user,
                credential=data.get("credential"),
                challenge=base64url_to_bytes(stored),
            )
        except ValidationError as error:
            audit.record(
                "mfa.failed",
                actor=request.user,
                client=services.client_of(request.user),
                request=request,
                target=request.user.email,
                method="passkey",
                reason=" ".join(error.messages)[:300],
            )
            return _refusal(error)
        second_factor.mark_verified(request, method="passkey")
        return JsonResponse({"verified": True, "method": "passkey"})
