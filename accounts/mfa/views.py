"""Second-factor pages: the step after the password, enrolment, the user's own factor page and
a client's sign-in security page (the viewers' requirement). Thin: ``services`` does the work."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from tenants.permissions import Capability, ClientPageMixin

from ..second_factor import (
    clear_verified,
    has_factor,
    is_verified,
    mark_verified,
    needs_second_factor,
)
from . import services
from .forms import CodeForm, ViewerRequirementForm


def _url(name: str) -> str:
    return reverse(name, urlconf=settings.PUBLIC_SCHEMA_URLCONF)


def _next(request: HttpRequest) -> str:
    """Where to go once the factor is given: ``next`` when it is a path of this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return settings.LOGIN_REDIRECT_URL


def _without_factor(request: HttpRequest) -> HttpResponse | None:
    """The answer to a change of a factor the user does not have: back to their factor page."""
    if services.confirmed_device(request.user) is not None:
        return None
    messages.error(request, "You have no authenticator app to change. Add one first.")
    return HttpResponseRedirect(_url("accounts-mfa:manage"))


class VerifyView(LoginRequiredMixin, View):
    """The second step of signing in: a code from the authenticator app or a recovery code."""

    template_name = "accounts/mfa/verify.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            if is_verified(request):
                return HttpResponseRedirect(_next(request))
            if not has_factor(request.user):
                if needs_second_factor(request.user):
                    return HttpResponseRedirect(
                        f"{_url('accounts-mfa:enrol')}?{request.GET.urlencode()}"
                    )
                return HttpResponseRedirect(_next(request))
        return super().dispatch(request, *args, **kwargs)

    def _page(self, request: HttpRequest, form: CodeForm, status: int = 200) -> HttpResponse:
        user = request.user
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "next": _next(request),
                "has_passkey": user.passkeys.exists(),
                "has_code": services.confirmed_device(user) is not None,
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request, CodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CodeForm(request.POST)
        if not form.is_valid():
            return self._page(request, form, status=400)
        try:
            method = services.verify_second_factor(
                user=request.user, code=form.cleaned_data["code"], request=request
            )
        except services.MfaError as exc:
            form.add_error("code", exc.message)
            return self._page(request, form, status=400)
        mark_verified(request, method=method)
        if method == "recovery_code":
            left = services.recovery_codes_left(request.user)
            messages.warning(
                request,
                f"You signed in with a recovery code; {left} left. Each works once: "
                "make new ones on your sign-in security page if you are running low.",
            )
        return HttpResponseRedirect(_next(request))


class EnrolView(LoginRequiredMixin, View):
    """Add an authenticator app: scan the QR code (or type the key), confirm with a code, and
    read the recovery codes, shown this once."""

    template_name = "accounts/mfa/enrol.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and has_factor(request.user):
            if not is_verified(request):
                # Someone with only the password must not add a factor of their own.
                return HttpResponseRedirect(
                    f"{_url('accounts-mfa:verify')}?{request.GET.urlencode()}"
                )
            messages.info(request, "You already have an authenticator app.")
            return HttpResponseRedirect(_url("accounts-mfa:manage"))
        return super().dispatch(request, *args, **kwargs)

    def _page(self, request: HttpRequest, form: CodeForm, status: int = 200) -> HttpResponse:
        device = services.pending_device(request.user)
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "provisioning": services.provisioning(device),
                "required": needs_second_factor(request.user),
                "next": _next(request),
            },
            status=status,
        )

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request, CodeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CodeForm(request.POST)
        if not form.is_valid():
            return self._page(request, form, status=400)
        try:
            codes = services.confirm_enrolment(
                user=request.user, code=form.cleaned_data["code"], request=request
            )
        except services.MfaError as exc:
            form.add_error("code", exc.message)
            return self._page(request, form, status=400)
        mark_verified(request, method="totp")
        return render(
            request,
            "accounts/mfa/recovery_codes.html",
            {"codes": codes, "next": _next(request), "first_time": True},
        )


class ManageView(LoginRequiredMixin, TemplateView):
    """The signed-in user's own second factor: its state, new recovery codes, removal."""

    template_name = "accounts/mfa/manage.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context.update(
            device=services.confirmed_device(user),
            codes_left=services.recovery_codes_left(user),
            required=needs_second_factor(user),
            regenerate_form=kwargs.get("regenerate_form") or CodeForm(prefix="regenerate"),
            remove_form=kwargs.get("remove_form") or CodeForm(prefix="remove"),
        )
        return context


class RegenerateCodesView(LoginRequiredMixin, View):
    """POST: new recovery codes after a fresh code; the old ones stop working."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        if (refused := _without_factor(request)) is not None:
            return refused
        form = CodeForm(request.POST, prefix="regenerate")
        if form.is_valid():
            try:
                codes = services.regenerate_recovery_codes(
                    user=request.user, code=form.cleaned_data["code"], request=request
                )
            except services.MfaError as exc:
                form.add_error("code", exc.message)
            else:
                return render(
                    request,
                    "accounts/mfa/recovery_codes.html",
                    {"codes": codes, "next": _url("accounts-mfa:manage"), "first_time": False},
                )
        view = ManageView(request=request, args=(), kwargs={})
        context = view.get_context_data(regenerate_form=form)
        return render(request, ManageView.template_name, context, status=400)


class RemoveFactorView(LoginRequiredMixin, View):
    """POST: remove the authenticator app and recovery codes after a fresh code."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        if (refused := _without_factor(request)) is not None:
            return refused
        form = CodeForm(request.POST, prefix="remove")
        if form.is_valid():
            try:
                services.remove_factor(
                    user=request.user, code=form.cleaned_data["code"], request=request
                )
            except services.MfaError as exc:
                form.add_error("code", exc.message)
            else:
                clear_verified(request)
                if needs_second_factor(request.user):
                    messages.warning(
                        request,
                        "Your authenticator app was removed. Your account needs a second "
                        "factor: add one now.",
                    )
                    return HttpResponseRedirect(_url("accounts-mfa:enrol"))
                messages.success(request, "Your authenticator app and recovery codes were removed.")
                return HttpResponseRedirect(_url("accounts-mfa:manage"))
        view = ManageView(request=request, args=(), kwargs={})
        context = view.get_context_data(remove_form=form)
        return render(request, ManageView.template_name, context, status=400)


class ClientSecurityView(ClientPageMixin, TemplateView):
    """A client's sign-in security: who must give a second factor. Everyone who sees the client
    reads it; MSP admins (ADMINISTER) decide whether its viewers must."""

    template_name = "accounts/mfa/client_security.html"

    def required_capability(self, request: HttpRequest) -> Capability:
        return Capability.ADMINISTER if request.method == "POST" else Capability.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["can_edit"] = Capability.ADMINISTER.value in context["client_capabilities"]
        context.setdefault(
            "form",
            ViewerRequirementForm(
                initial={"required": "yes" if self.client.require_mfa_for_viewers else "no"}
            ),
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = ViewerRequirementForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        required = form.cleaned_data["required"]
        changed = services.set_viewer_requirement(
            client=self.client, required=required, actor=request.user, request=request
        )
        if changed:
            messages.success(
                request,
                "Viewers must now sign in with a second factor."
                if required
                else "Viewers may now sign in without a second factor.",
            )
        else:
            messages.info(request, "Nothing changed.")
        return HttpResponseRedirect(request.path)
