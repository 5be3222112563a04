"""HTML pages of the evidence app: the evidence log and the stored reports."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views import View
from django.views.generic import TemplateView
from rest_framework.exceptions import NotFound

from common.dependencies import QueueUnavailable, enqueue
from tenants.permissions import Capability, ClientPageMixin

from .filters import EvidenceEventFilterSet, StoredReportFilterSet
from .models import EvidenceEvent, ReportKind, StoredReport
from .periods import format_period, parse_period, previous_month
from .permissions import may_generate
from .reports import (
    HIPAA_ONLY_KINDS,
    ReportNotAvailable,
    available_kinds,
    check_kind,
    check_period,
)
from .selectors import chain_head
from .services import actor_label

PAGE_SIZE = 50


def _page(request: HttpRequest, qs) -> Any:
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def _query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


class EvidenceLogView(ClientPageMixin, TemplateView):
    template_name = "evidence/events.html"
    capability = Capability.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filterset = EvidenceEventFilterSet(
            self.request.GET or None, queryset=EvidenceEvent.objects.order_by("-sequence")
        )
        qs = (
            filterset.qs
            if filterset.is_bound and filterset.is_valid()
            else EvidenceEvent.objects.none()
        )
        if not filterset.is_bound:
            qs = EvidenceEvent.objects.order_by("-sequence")
        context.update(
            filter=filterset,
            page_obj=_page(self.request, qs),
            head=chain_head(),
            query=_query_without_page(self.request),
        )
        return context


class ReportListView(ClientPageMixin, TemplateView):
    template_name = "evidence/reports.html"
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
        kinds = [k for k in available_kinds() if k not in HIPAA_ONLY_KINDS or self.client.is_hipaa]
        context.update(
            filter=filterset,
            page_obj=_page(self.request, qs),
            may_generate=may_generate(self.role),
            kinds=[(k, ReportKind(k).label) for k in kinds],
            default_period=format_period(previous_month(self.client_now())),
            query=_query_without_page(self.request),
        )
        return context

    def client_now(self):
        from django.utils import timezone

        return timezone.now().astimezone(self.client.tz)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Queue a generation; rendering happens in a worker, never in this request."""
        from .tasks import generate_report_task

        if not may_generate(self.role):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied("Only MSP staff may generate reports.")
        kind = request.POST.get("kind", "")
        period_text = request.POST.get("period", "")
        try:
            check_kind(kind, self.client)
            check_period(self.client, parse_period(period_text))
        except (ReportNotAvailable, ValueError) as exc:
            messages.error(request, str(exc))
            return redirect(request.path)
        try:
            enqueue(
                generate_report_task,
                kind=kind,
                period=period_text,
                actor=actor_label(request.user),
            )
        except QueueUnavailable as exc:
            messages.error(request, str(exc))
            return redirect(request.path)
        messages.success(
            request,
            f"{ReportKind(kind).label} for {period_text} is being generated; "
            "it will appear below when ready.",
        )
        return redirect(request.path)


class ReportDownloadView(ClientPageMixin, View):
    capability = Capability.REPORTS

    def get(self, request: HttpRequest, uuid: Any) -> HttpResponse:
        from .api.views import ReportAltered, report_file_response

        report = StoredReport.objects.filter(uuid=uuid).first()
        if report is None:
            raise Http404("No such report.")
        try:
            return report_file_response(report, actor=request.user)
        except ReportAltered as exc:
            return HttpResponse(str(exc.detail), status=409, content_type="text/plain")
        except NotFound as exc:
            raise Http404("The stored file is missing.") from exc
