"""The client's API tokens page (MSP admins): issue a token (shown once), see each token's
owner and last use, revoke one for good. Every step goes through ``accounts.tokens``."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.generic import TemplateView

from tenants.permissions import Capability, ClientPageMixin

from .token_forms import TokenForm
from .tokens import create_token, revoke_token, tokens_of


class TokenListView(ClientPageMixin, TemplateView):
    template_name = "accounts/apitoken_list.html"
    capability = Capability.ADMINISTER

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", TokenForm())
        context["tokens"] = list(tokens_of(self.client))
        context["msp_wide"] = tokens_of(None).filter(client__isnull=True, revoked_at__isnull=True)
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.POST.get("action") == "revoke":
            return self._revoke(request)
        form = TokenForm(request.POST)
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
                    self.get_context_data(issued=issued, form=TokenForm()), status=201
                )
                response["Cache-Control"] = "no-store"  # the token is shown this once
                return response
        return self.render_to_response(self.get_context_data(form=form), status=400)

    def _revoke(self, request: HttpRequest) -> HttpResponse:
        try:
            token_id = uuid.UUID(request.POST.get("token", ""))
        except ValueError:
            messages.error(request, "Choose a token to revoke.")
            return redirect("tokens:apitoken_list")
        token = tokens_of(self.client).filter(uuid=token_id).first()
        if token is None:
            raise Http404("No such token.")
        if revoke_token(token=token, actor=request.user, request=request):
            messages.success(request, f"Token “{token.name}” revoked. It never works again.")
        else:
            messages.error(request, f"Token “{token.name}” was already revoked.")
        return redirect("tokens:apitoken_list")
