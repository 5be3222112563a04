"""HTML pages of the integrations app, under /clients/<slug>/: the outbox of outbound calls, the
PSA connection and its tickets, the RMM connection the discovery pulls from, the network scans
of designated scanner agents, the agent installer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from common.pagination import page_of
from inventory.selectors import visible_assets
from tenants.permissions import Capability, ClientPageMixin

from . import psa, rmm_pull
from .filters import OutboxMessageFilterSet
from .forms import AgentInstallerForm, PsaConnectionForm, RmmConnectionForm, ScanSubnetForm
from .models import AgentJob, PsaConnection, PsaTicket, RmmConnection, ScanSubnet
from .outbox import retry_message, retry_refusal
from .reboot import RebootApprovalRefused, approve_reboot
from .resident import installer_tokens, issue_installer
from .scans import designate_scanner, remove_scan_subnet
from .selectors import visible_outbox_messages

PAGE_SIZE = 50


class OutboxListView(ClientPageMixin, TemplateView):
    """Every outbound call with its delivery state, attempts, last error and next attempt; a
    dead one can be sent again."""

    template_name = "integrations/outboxmessage_list.html"
    capability = Capability.OPERATE

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filterset = OutboxMessageFilterSet(
            self.request.GET or None, queryset=visible_outbox_messages()
        )
        if filterset.is_bound and not filterset.is_valid():
            qs = visible_outbox_messages().none()
        else:
            qs = filterset.qs if filterset.is_bound else visible_outbox_messages()
        params = self.request.GET.copy()
        params.pop("page", None)
        page = page_of(self.request, qs, size=PAGE_SIZE)
        for message in page:
            message.is_retryable = message.is_dead and retry_refusal(message) is None
        context.update(filter=filterset, page_obj=page, query=params.urlencode())
        return context


class OutboxRetryView(ClientPageMixin, View):
    """Send a dead call again (engineers and MSP admins)."""

    capability = Capability.OPERATE

    def post(self, request: HttpRequest, pk: Any, **kwargs: Any) -> HttpResponse:
        message = get_object_or_404(visible_outbox_messages(), uuid=pk)
        try:
            retry_message(message=message, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{message.event} to {message.target} is queued again.")
        back = request.POST.get("next", "")
        if back.startswith("?"):
            return redirect(reverse("integrations:outboxmessage_list") + back)
        return redirect("integrations:outboxmessage_list")


class PsaPageView(ClientPageMixin, TemplateView):
    """The client's PSA connection (form), its tickets with their PSA id and status and the
    calls about each, and the PSA calls that were given up (with a retry button)."""

    template_name = "integrations/psa.html"
    capability = Capability.OPERATE

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        conn = psa.active_connection() or PsaConnection.objects.order_by("pk").first()
        form = kwargs.get("form") or PsaConnectionForm(instance=conn)
        tickets = list(
            PsaTicket.objects.select_related("connection")
            .prefetch_related("messages")
            .order_by("-created_at")[:PAGE_SIZE]
        )
        dead = list(psa.dead_ticket_messages()[:PAGE_SIZE])
        for message in dead:
            message.is_retryable = retry_refusal(message) is None
        context.update(
            connection=conn,
            form=form,
            tickets=tickets,
            dead=dead,
            secrets={name: psa.mask(getattr(conn, name)) for name in psa.SECRET_FIELDS}
            if conn
            else {},
            webhook_url=(
                self.request.build_absolute_uri(
                    reverse("integrations-api:psa-connection-inbound", args=[conn.uuid])
                )
                if conn
                else ""
            ),
        )
        return context

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        conn = psa.active_connection() or PsaConnection.objects.order_by("pk").first()
        form = PsaConnectionForm(request.POST, instance=conn)
        if form.is_valid():
            data = {name: form.cleaned_data[name] for name in form.Meta.fields}
            data["priority_map"] = data["priority_map"] or {}
            data["status_map"] = data["status_map"] or {}
            try:
                fresh = PsaConnection.objects.get(pk=conn.pk) if conn else None
                psa.save_connection(data=data, actor=request.user, instance=fresh)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, "The PSA connection is saved.")
                return redirect("integrations:psa")
        return self.render_to_response(self.get_context_data(form=form), status=400)


class PsaRetryView(ClientPageMixin, View):
    """Send a dead PSA call again, back to the PSA page."""

    capability = Capability.OPERATE

    def post(self, request: HttpRequest, pk: Any, **kwargs: Any) -> HttpResponse:
        message = get_object_or_404(psa.psa_messages(), uuid=pk)
        try:
            retry_message(message=message, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{message.event} to {message.target} is queued again.")
        return redirect("integrations:psa")


def _rmm_connection() -> RmmConnection | None:
    return RmmConnection.objects.order_by("pk").first()


class RmmPageView(ClientPageMixin, TemplateView):
    """The client's RMM connection (form): where the scheduled discovery reads devices, software
    and OS updates from, its last pull, and the last discovery runs it made."""

    template_name = "integrations/rmm.html"
    capability = Capability.OPERATE

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from inventory.choices import DiscoveryRunSource
        from inventory.models import DiscoveryRun

        context = super().get_context_data(**kwargs)
        conn = _rmm_connection()
        context.update(
            connection=conn,
            form=kwargs.get("form") or RmmConnectionForm(instance=conn),
            key_hint=rmm_pull.mask(conn.api_key) if conn else "",
            runs=list(
                DiscoveryRun.objects.filter(source=DiscoveryRunSource.RMM).order_by(
                    "-started_at", "-pk"
                )[:10]
            ),
        )
        return context

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        conn = _rmm_connection()
        form = RmmConnectionForm(request.POST, instance=conn)
        if form.is_valid():
            data = {name: form.cleaned_data[name] for name in form.Meta.fields}
            try:
                fresh = RmmConnection.objects.get(pk=conn.pk) if conn else None
                rmm_pull.save_connection(data=data, actor=request.user, instance=fresh)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, "The RMM connection is saved.")
                return redirect("integrations:rmm")
        return self.render_to_response(self.get_context_data(form=form), status=400)


class RmmTestView(ClientPageMixin, View):
    """POST only: one read of the RMM's agent list with the saved connection (nothing written)."""

    capability = Capability.OPERATE
    http_method_names = ["post"]

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        conn = _rmm_connection()
        if conn is None:
            messages.error(request, "Save an RMM connection first.")
            return redirect("integrations:rmm")
        ok, text = rmm_pull.test_connection(conn)
        (messages.success if ok else messages.error)(request, text)
        return redirect("integrations:rmm")


class ApproveRebootView(ClientPageMixin, View):
    """POST only: approve the restart an asset awaits under manual approval (operate)."""

    capability = Capability.OPERATE
    http_method_names = ["post"]

    def post(self, request: HttpRequest, uuid: Any, **kwargs: Any) -> HttpResponse:
        asset = get_object_or_404(visible_assets(request.user, self.client), uuid=uuid)
        try:
            approve_reboot(asset=asset, actor=request.user)
        except RebootApprovalRefused as exc:
            messages.error(request, f"Nothing was approved: {exc}")
        else:
            messages.success(
                request, f"Restart of {asset.hostname} approved; queued for its agent."
            )
        return redirect(reverse("inventory:asset_detail", kwargs={"uuid": asset.uuid}))


class AgentInstallView(ClientPageMixin, TemplateView):
    """The client's agent installer (MSP admins): issue an agent token and see, this once, the
    commands per OS that download the agent and install it as a service; afterwards the page
    lists the client's agent tokens (issued, never their secret)."""

    template_name = "integrations/agent_install.html"
    capability = Capability.ADMINISTER

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.setdefault("form", AgentInstallerForm())
        context["agent_tokens"] = list(installer_tokens(self.client))
        context["jitter_minutes"] = settings.AGENT_DISCOVERY_JITTER_MINUTES
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = AgentInstallerForm(request.POST)
        if form.is_valid():
            try:
                installer = issue_installer(
                    client=self.client,
                    client_url=request.build_absolute_uri(self.client.get_absolute_url()),
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    request=request,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                response = self.render_to_response(
                    self.get_context_data(installer=installer), status=201
                )
                response["Cache-Control"] = "no-store"  # the token is shown this once
                return response
        return self.render_to_response(self.get_context_data(form=form), status=400)


def _scanners(request: HttpRequest, client: Any) -> Any:
    return (
        visible_assets(request.user, client)
        .filter(is_managed=True, agent_id__isnull=False)
        .exclude(agent_id="")
        .order_by("hostname")
    )


class NetworkScansView(ClientPageMixin, TemplateView):
    """The designated scanners: which asset's agent scans which subnet with which ports and
    timing, each subnet's last scan job and its outcome; a form to designate one."""

    template_name = "integrations/network_scans.html"
    capability = Capability.OPERATE

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        subnets = list(ScanSubnet.objects.select_related("scanner").order_by("cidr"))
        last: dict[int, AgentJob] = {}
        for job in (
            AgentJob.objects.filter(scan_subnet__in=subnets)
            .order_by("scan_subnet_id", "-created_at")
            .distinct("scan_subnet_id")
        ):
            last[job.scan_subnet_id] = job
        for subnet in subnets:
            subnet.last_job = last.get(subnet.pk)
        form = kwargs.get("form") or ScanSubnetForm(scanners=_scanners(self.request, self.client))
        context.update(subnets=subnets, form=form)
        return context

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        form = ScanSubnetForm(request.POST, scanners=_scanners(request, self.client))
        if form.is_valid():
            data = form.cleaned_data
            try:
                subnet = designate_scanner(
                    scanner=data["scanner"],
                    cidr=data["cidr"],
                    top_ports=data["top_ports"],
                    ports=data["ports"],
                    timing=data["timing"],
                    actor=request.user,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(
                    request, f"{subnet.scanner.hostname} scans {subnet.cidr} from now on."
                )
                return redirect("integrations:network_scans")
        return self.render_to_response(self.get_context_data(form=form), status=400)


class RemoveScanSubnetView(ClientPageMixin, View):
    """End a designation (a scan job still queued for it is cancelled)."""

    capability = Capability.OPERATE

    def post(self, request: HttpRequest, pk: Any, **kwargs: Any) -> HttpResponse:
        subnet = get_object_or_404(ScanSubnet.objects.select_related("scanner"), uuid=pk)
        remove_scan_subnet(subnet=subnet, actor=request.user)
        messages.success(request, f"{subnet.scanner.hostname} no longer scans {subnet.cidr}.")
        return redirect("integrations:network_scans")
