"""The API tokens pages (MSP admins): a client's (``/clients/<slug>/tokens/``) and the MSP's
tokens valid for every client (``/accounts/tokens/``). Issue a token (shown once), see each
token's scope, owner and last use, revoke one for good. Every step goes through
``accounts.tokens``."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.generic import TemplateView

from tenants.models import Client
from tenants.permissions import Capability, ClientPageMixin, MspPageMixin

from .token_forms import MspTokenForm, TokenForm
from .tokens import create_token, revoke_token, tokens_of


class _TokenPage(TemplateView):
    """What both tokens pages share: the list, the issue form, revocation."""

    template_name = "accounts/apitoken_list.html"
    form_class: type[TokenForm] = TokenForm
    url_name = ""
    client: Client | None

    def listed(self) -> QuerySet:
        raise NotImplementedError

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", self.form_class())
        context["tokens"] = list(self.listed())
        context["token_client"] = self.client
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.POST.get("action") == "revoke":
            return self._revoke(request)
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                issued = create_token(
                    name=form.cleaned_data["name"],
                    scope=form.cleaned_data["scope"],
                    client=self.client,
                    actor=request.user,
                    request=request,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                response = self.render_to_response(
                    self.get_context_data(issued=issued, form=self.form_class()), status=201
                )
                response["Cache-Control"] = "no-store"  # the token is shown this once
                return response
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def _revoke(self, request: HttpRequest) -> HttpResponse:
        try:
            token_id = uuid.UUID(request.POST.get("token", ""))
        except ValueError:
            messages.error(request, "Choose a token to revoke.")
            return redirect(self.url_name)
        token = self.listed().filter(uuid=token_id).first()
        if token is None:
            raise Http404("No such token.")
        if revoke_token(token=token, actor=request.user, request=request):
            messages.success(request, f"Token “{token.name}” revoked. It never works again.")
        else:
            messages.error(request, f"Token “{token.name}” was already revoked.")
        return redirect(self.url_name)


class TokenListView(ClientPageMixin, _TokenPage):
    """One client's tokens."""

    capability = Capability.ADMINISTER
    url_name = "tokens:apitoken_list"

    def listed(self) -> QuerySet:
        return tokens_of(self.client)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["msp_wide"] = tokens_of(None).filter(client__isnull=True, revoked_at__isnull=True)
        return context


class MspTokenListView(MspPageMixin, _TokenPage):
    """The MSP's tokens valid for every client (a PSA or RMM integration across clients):
    MSP admins (the MSP-wide administer capability)."""

    msp_capability = Capability.ADMINISTER
    form_class = MspTokenForm
    url_name = "accounts:msp_tokens"
    client = None

    def listed(self) -> QuerySet:
        return tokens_of(None).filter(client__isnull=True)
