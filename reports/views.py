"""HTML pages of the reports app: the stored reports, their generation and download."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView
from rest_framework.exceptions import NotFound

from common.dependencies import QueueUnavailable, enqueue
from common.pagination import page_of
from common.periods import format_period, parse_period, previous_month
from tenants.permissions import Capability, ClientPageMixin, may_generate
from tenants.tiers import tier_of

from . import delivery, requests
from .api.views import ReportAltered, report_file_response
from .filters import StoredReportFilterSet
from .models import ReportKind, ReportRecipient, ReportRequest, StoredReport
from .services import ReportNotAvailable, client_kinds
from .tasks import generate_report_task

PAGE_SIZE = 50


def _page(request: HttpRequest, qs) -> Any:
    return page_of(request, qs, size=PAGE_SIZE)


def _query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


class ReportListView(ClientPageMixin, TemplateView):
    template_name = "reports/reports.html"
    capability = Capability.REPORTS

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filterset = StoredReportFilterSet(
            self.request.GET or None, queryset=StoredReport.objects.all()
        )
        qs = (
            filterset.qs
            if filterset.is_bound and filterset.is_valid()
            else StoredReport.objects.all()
        )
        kinds = client_kinds(self.client)
        context.update(
            filter=filterset,
            page_obj=_page(self.request, qs),
            may_generate=may_generate(self.role),
            kinds=[(k, ReportKind(k).label) for k in kinds],
            tier=tier_of(self.client),
            default_period=format_period(previous_month(self.client_now())),
            query=_query_without_page(self.request),
            report_requests=requests.recent_requests(),
            may_manage_recipients=Capability.RECIPIENTS.value in context["client_capabilities"],
        )
        return context

    def client_now(self):
        return timezone.now().astimezone(self.client.tz)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Queue a generation; rendering happens in a worker, never in this request."""
        if not may_generate(self.role):
            raise PermissionDenied("Only MSP staff may generate reports.")
        kind = request.POST.get("kind", "")
        period_text = request.POST.get("period", "")
        try:
            requests.request_report(
                client=self.client,
                kind=kind,
                period=parse_period(period_text),
                actor=request.user,
                queue=queue_request,
            )
        except (ReportNotAvailable, ValueError, QueueUnavailable) as exc:
            messages.error(request, str(exc))
            return redirect(request.path)
        messages.success(
            request,
            f"{ReportKind(kind).label} for {period_text} is being generated; "
            "it will appear below when ready.",
        )
        return redirect(request.path)


def queue_request(made: ReportRequest) -> None:
    enqueue(generate_report_task, request=str(made.uuid))


class ReportRequestRetryView(ClientPageMixin, View):
    """POST: queue a failed request again."""

    capability = Capability.REPORTS

    def post(self, request: HttpRequest, uuid: Any) -> HttpResponse:
        if not may_generate(self.role):
            raise PermissionDenied("Only MSP staff may generate reports.")
        made = ReportRequest.objects.filter(uuid=uuid).first()
        if made is None:
            raise Http404("No such report request.")
        try:
            requests.retry_request(request=made, queue=queue_request)
        except (requests.RequestNotRetryable, QueueUnavailable) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, f"{made.get_kind_display()} {made.period_label} queued again."
            )
        return redirect(reverse("reports:reports"))


class ReportDownloadView(ClientPageMixin, View):
    capability = Capability.REPORTS

    def get(self, request: HttpRequest, uuid: Any) -> HttpResponse:
        report = StoredReport.objects.filter(uuid=uuid).first()
        if report is None:
            raise Http404("No such report.")
        try:
            return report_file_response(report, actor=request.user)
        except ReportAltered as exc:
            return HttpResponse(str(exc.detail), status=409, content_type="text/plain")
        except NotFound as exc:
            raise Http404("The stored file is missing.") from exc


class ExceptionRegisterPdfView(ClientPageMixin, View):
    """Queue the register as a stored PDF report (kind ``exceptions``, the current month).

    WeasyPrint never runs in a request: the worker renders and stores the report like every
    other report (immutable, with its SHA-256 and a ``report.generated`` event), and the user
    downloads it from the reports page, where this redirects.
    """

    capability = Capability.VIEW
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not may_generate(self.role):
            raise PermissionDenied("Only MSP staff may generate reports.")
        kind = ReportKind.EXCEPTIONS.value
        month = timezone.now().astimezone(self.client.tz).date().replace(day=1)
        period = format_period(month)
        try:
            requests.request_report(
                client=self.client, kind=kind, period=month, actor=request.user, queue=queue_request
            )
        except (ReportNotAvailable, ValueError, QueueUnavailable) as exc:
            messages.error(request, str(exc))
            return redirect(reverse("exceptions_register:exception_list"))
        messages.success(
            request,
            "The exception register PDF is being generated; it will appear here when ready.",
        )
        return redirect(f"{reverse('reports:reports')}?kind={kind}&period={period}")


class ReportDetailView(ClientPageMixin, TemplateView):
    """One stored report: its file, hash and who it was e-mailed to, when."""

    template_name = "reports/report_detail.html"
    capability = Capability.REPORTS

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        report = StoredReport.objects.filter(uuid=self.kwargs["uuid"]).first()
        if report is None:
            raise Http404("No such report.")
        context.update(
            report=report,
            deliveries=delivery.deliveries_of(report),
            may_manage_recipients=Capability.RECIPIENTS.value in context["client_capabilities"],
        )
        return context


class ReportRecipientsView(ClientPageMixin, TemplateView):
    """Who is e-mailed a link to each new report, by kind: add, change, remove."""

    template_name = "reports/recipients.html"
    capability = Capability.RECIPIENTS

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            recipients=list(ReportRecipient.objects.all()),
            kinds=delivery.recipient_kinds(self.client),
            errors=kwargs.get("errors", {}),
            form=kwargs.get("form", {}),
            editing=kwargs.get("editing"),
            link_days=settings.REPORT_DELIVERY_LINK_DAYS,
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        action = request.POST.get("action", "add")
        if action not in ("add", "change", "remove"):
            messages.error(request, "Unknown action; add, change or remove a recipient.")
            return redirect(request.path)
        recipient = None
        if action != "add":
            recipient = _recipient_or_none(request.POST.get("recipient", ""))
            if recipient is None:
                messages.error(request, "No such recipient (it may have been removed).")
                return redirect(request.path)
        if action == "remove":
            delivery.remove_recipient(recipient=recipient, actor=request.user)
            messages.success(request, f"{recipient.name} <{recipient.email}> removed.")
            return redirect(request.path)
        fields = {
            "name": request.POST.get("name", ""),
            "email": request.POST.get("email", ""),
            "kinds": request.POST.getlist("kinds"),
        }
        try:
            if recipient is None:
                done = delivery.add_recipient(client=self.client, actor=request.user, **fields)
            else:
                done = delivery.change_recipient(
                    client=self.client, recipient=recipient, actor=request.user, **fields
                )
        except delivery.RecipientInvalid as exc:
            context = self.get_context_data(
                errors=exc.errors, form=fields, editing=recipient.uuid if recipient else None
            )
            return self.render_to_response(context, status=400)
        verb = "added" if recipient is None else "changed"
        messages.success(request, f"{done.name} <{done.email}> {verb}.")
        return redirect(request.path)


def _recipient_or_none(value: str) -> ReportRecipient | None:
    import uuid as uuid_module

    try:
        key = uuid_module.UUID(value)
    except ValueError:
        return None
    return ReportRecipient.objects.filter(uuid=key).first()


class DeliveredReportView(ClientPageMixin, View):
    """The link of a report e-mail: after sign-in, the file for the person it was sent to."""

    capability = Capability.REPORTS

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            sent = delivery.open_link(client=self.client, token=token, user=request.user)
        except delivery.LinkRefused as exc:
            return HttpResponse(str(exc), status=exc.status, content_type="text/plain")
        try:
            return report_file_response(sent.report, actor=request.user)
        except ReportAltered as exc:
            return HttpResponse(str(exc.detail), status=409, content_type="text/plain")
        except NotFound as exc:
            raise Http404("The stored file is missing.") from exc
