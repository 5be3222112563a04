"""Pages of the webhook endpoints: a client's (under /clients/<slug>/webhooks/) and the MSP's
(under /webhooks/, hearing every client). Creating one or rotating its secret shows the secret
once; each endpoint's page shows its delivery log with a retry for dead deliveries and a
"send test" button."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.generic import TemplateView, View
from django_tenants.utils import schema_context

from tenants.permissions import Capability, ClientPageMixin, MspPageMixin, visible_clients

from . import services
from .forms import EndpointForm, TestForm
from .models import WebhookEndpoint

LOG_SIZE = 50


def _apply_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _uuid(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise Http404("No such webhook endpoint.") from exc


def _with_retry_flags(rows: list) -> list:
    from integrations.outbox import retry_refusal

    for row in rows:
        row.is_retryable = row.is_dead and retry_refusal(row) is None
        row.payload_json = json.dumps(row.payload, indent=2, sort_keys=True)
    return rows


class _Endpoints:
    """What the client and the MSP pages share; ``scope_client`` is None on the MSP pages."""

    template_list = "webhooks/endpoint_list.html"
    template_detail = "webhooks/endpoint_detail.html"
    scope_client: Any = None

    def endpoints(self):
        return (
            WebhookEndpoint.objects.filter(client=self.scope_client)
            .select_related("client")
            .order_by("created_at")
        )

    def endpoint(self, pk: Any) -> WebhookEndpoint:
        found = self.endpoints().filter(uuid=_uuid(pk)).first()
        if found is None:
            raise Http404("No such webhook endpoint.")
        return found

    def base(self) -> str:
        return self.request.path.split("webhooks/", 1)[0] + "webhooks/"  # msp-webhooks/ too

    def deliveries(self, endpoint: WebhookEndpoint) -> list:
        """The endpoint's latest deliveries; an MSP endpoint's across the clients, each row
        with ``client_slug``."""
        if self.scope_client is not None:
            rows = list(services.deliveries_of(endpoint)[:LOG_SIZE])
            for row in rows:
                row.client_slug = self.scope_client.slug
            return _with_retry_flags(rows)
        rows = []
        for client in visible_clients(self.request.user):
            with schema_context(client.schema_name):
                found = list(services.deliveries_of(endpoint)[:LOG_SIZE])
                for row in found:
                    row.client_slug = client.slug
                rows.extend(_with_retry_flags(found))
        rows.sort(key=lambda m: (m.created_at, m.pk), reverse=True)
        return rows[:LOG_SIZE]

    def list_context(self, form: EndpointForm, created: Any = None) -> dict[str, Any]:
        return {
            "endpoints": list(self.endpoints()),
            "form": form,
            "created": created,
            "msp_wide": self.scope_client is None,
            "base": self.base(),
        }

    def detail_context(self, endpoint: WebhookEndpoint, **extra: Any) -> dict[str, Any]:
        form = extra.pop("form", None) or EndpointForm(
            initial={
                "url": endpoint.url,
                "description": endpoint.description,
                "events": endpoint.events,
                "is_active": endpoint.is_active,
            }
        )
        return {
            "endpoint": endpoint,
            "form": form,
            "deliveries": self.deliveries(endpoint),
            "msp_wide": self.scope_client is None,
            "clients": list(visible_clients(self.request.user)) if not self.scope_client else [],
            "base": self.base(),
            **extra,
        }


class EndpointListView(_Endpoints, ClientPageMixin, TemplateView):
    """The client's webhook endpoints and the form adding one (the secret is shown once)."""

    template_name = _Endpoints.template_list
    capability = Capability.ADMINISTER

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        self.scope_client = self.client
        context = super().get_context_data(**kwargs)
        context.update(self.list_context(kwargs.get("form") or EndpointForm()))
        context.update({k: v for k, v in kwargs.items() if k == "created"})
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.scope_client = self.client
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                created = services.create_endpoint(
                    client=self.client, actor=request.user, request=request, **form.cleaned_data
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                return self.render_to_response(
                    self.get_context_data(form=EndpointForm(), created=created)
                )
        return self.render_to_response(self.get_context_data(form=form), status=400)


class EndpointDetailView(_Endpoints, ClientPageMixin, TemplateView):
    """One endpoint: its settings (POST changes them), rotate, send test, the delivery log."""

    template_name = _Endpoints.template_detail
    capability = Capability.ADMINISTER

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        self.scope_client = self.client
        context = super().get_context_data(**kwargs)
        endpoint = kwargs.get("endpoint") or self.endpoint(kwargs["pk"])
        extra = {k: kwargs[k] for k in ("form", "rotated") if k in kwargs}
        context.update(self.detail_context(endpoint, **extra))
        return context

    def post(self, request: HttpRequest, pk: Any, **kwargs: Any) -> HttpResponse:
        self.scope_client = self.client
        return _post_detail(self, request, pk)


def _post_detail(view: Any, request: HttpRequest, pk: Any) -> HttpResponse:
    endpoint = view.endpoint(pk)
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            services.update_endpoint(
                endpoint=endpoint, data=form.cleaned_data, actor=request.user, request=request
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "The webhook endpoint is saved.")
            return redirect(view.base() + f"{endpoint.uuid}/")
    endpoint.refresh_from_db()
    return view.render_to_response(view.get_context_data(pk=pk, form=form), status=400)


def _rotate(view: Any, request: HttpRequest, pk: Any) -> HttpResponse:
    endpoint = view.endpoint(pk)
    rotated = services.rotate_secret(endpoint=endpoint, actor=request.user, request=request)
    return view.render_to_response(view.get_context_data(pk=pk, rotated=rotated))


def _test(view: Any, request: HttpRequest, pk: Any, client: Any) -> HttpResponse:
    endpoint = view.endpoint(pk)
    try:
        with schema_context(client.schema_name):
            message = services.send_test(endpoint=endpoint, client=client)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"A test event is queued (delivery {message.uuid}).")
    return redirect(view.base() + f"{endpoint.uuid}/")


def _retry(view: Any, request: HttpRequest, pk: Any, delivery: Any, client: Any) -> HttpResponse:
    endpoint = view.endpoint(pk)
    with schema_context(client.schema_name):
        if not services.deliveries_of(endpoint).filter(uuid=delivery).exists():
            raise Http404("No such delivery of this endpoint.")
    try:
        with schema_context(client.schema_name):
            services.retry_delivery(endpoint=endpoint, delivery=delivery, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The delivery is queued again.")
    return redirect(view.base() + f"{endpoint.uuid}/")


class EndpointRotateView(EndpointDetailView):
    """A new secret, shown once; the old one signs beside it for the grace period."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: Any, **kwargs: Any) -> HttpResponse:
        self.scope_client = self.client
        return _rotate(self, request, pk)


class EndpointTestView(_Endpoints, ClientPageMixin, View):
    """Queue a ``webhook.test`` delivery to the endpoint."""

    capability = Capability.ADMINISTER

    def post(self, request: HttpRequest, pk: Any, **kwargs: Any) -> HttpResponse:
        self.scope_client = self.client
        return _test(self, request, pk, self.client)


class DeliveryRetryView(_Endpoints, ClientPageMixin, View):
    """Send a dead delivery of the endpoint again."""

    capability = Capability.ADMINISTER

    def post(self, request: HttpRequest, pk: Any, delivery: Any, **kwargs: Any) -> HttpResponse:
        self.scope_client = self.client
        return _retry(self, request, pk, delivery, self.client)


# --------------------------------------------------------------------------- MSP pages


class MspEndpointListView(_Endpoints, MspPageMixin, TemplateView):
    """The MSP's endpoints (every client's events) and the form adding one."""

    template_name = _Endpoints.template_list
    msp_capability = Capability.ADMINISTER

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(self.list_context(kwargs.get("form") or EndpointForm()))
        if "created" in kwargs:
            context["created"] = kwargs["created"]
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                created = services.create_endpoint(
                    client=None, actor=request.user, request=request, **form.cleaned_data
                )
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                return self.render_to_response(
                    self.get_context_data(form=EndpointForm(), created=created)
                )
        return self.render_to_response(self.get_context_data(form=form), status=400)


class MspEndpointDetailView(_Endpoints, MspPageMixin, TemplateView):
    template_name = _Endpoints.template_detail
    msp_capability = Capability.ADMINISTER

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        endpoint = self.endpoint(kwargs["pk"])
        extra = {k: kwargs[k] for k in ("form", "rotated") if k in kwargs}
        context.update(self.detail_context(endpoint, **extra))
        return context

    def post(self, request: HttpRequest, pk: Any, **kwargs: Any) -> HttpResponse:
        return _post_detail(self, request, pk)


class MspEndpointRotateView(MspEndpointDetailView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: Any, **kwargs: Any) -> HttpResponse:
        return _rotate(self, request, pk)


def _msp_client(request: HttpRequest, slug: Any) -> Any:
    client = visible_clients(request.user).filter(slug=str(slug)).first()
    if client is None:
        raise Http404("No such client.")
    return client


class MspEndpointTestView(_Endpoints, MspPageMixin, View):
    """Queue a test delivery as one client (the form names it)."""

    msp_capability = Capability.ADMINISTER

    def post(self, request: HttpRequest, pk: Any, **kwargs: Any) -> HttpResponse:
        form = TestForm(request.POST)
        if not form.is_valid():
            endpoint = self.endpoint(pk)
            messages.error(request, "Choose the client the test is sent as.")
            return redirect(self.base() + f"{endpoint.uuid}/")
        return _test(self, request, pk, _msp_client(request, form.cleaned_data["client"]))


__all__ = [
    "DeliveryRetryView",
    "EndpointDetailView",
    "EndpointListView",
    "EndpointRotateView",
    "EndpointTestView",
    "MspEndpointDetailView",
    "MspEndpointListView",
    "MspEndpointRotateView",
    "MspEndpointTestView",
]
