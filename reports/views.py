"""HTML pages of the reports app: the stored reports, their generation and download."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView
from rest_framework.exceptions import NotFound

from common.dependencies import QueueUnavailable
from common.pagination import page_of
from common.periods import format_period, parse_period, previous_month
from tenants.choices import ClientLocale
from tenants.permissions import Capability, ClientPageMixin, MspPageMixin, may_generate
from tenants.tiers import tier_of

from . import branding, delivery, requests
from .api.views import ReportAltered, report_file_response
from .filters import StoredReportFilterSet
from .models import ReportKind, ReportRecipient, ReportRequest, StoredReport
from .services import ReportNotAvailable, client_kinds
from .tasks import queue_request

PAGE_SIZE = 50
# How often a pending request's row on the reports page asks for its state.
POLL_SECONDS = 2


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
            latest_period=format_period(self.client_now()),
            may_brand=Capability.ADMINISTER.value in context["client_capabilities"],
            poll_seconds=POLL_SECONDS,
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


class ReportRequestRowView(ClientPageMixin, TemplateView):
    """GET: one request's row of the reports page. A queued or running row asks for itself
    again every few seconds (htmx) and is swapped for this answer, so it turns into the
    download link, or the failure and its reason, without the page being reloaded."""

    template_name = "reports/partials/_request_row.html"
    capability = Capability.REPORTS

    def handle_no_permission(self) -> HttpResponse:
        if self.request.headers.get("HX-Request") == "true" and not (
            self.request.user.is_authenticated
        ):
            # The session ended while the page was open: the row says so and stops polling
            # (htmx stops on 286) instead of taking the sign-in page into the table.
            page = quote(self.request.path.split("requests/")[0])
            return TemplateResponse(
                self.request,
                "reports/partials/_request_row_signed_out.html",
                {"login_url": f"{settings.LOGIN_URL}?next={page}"},
                status=286,
            )
        return super().handle_no_permission()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        made = ReportRequest.objects.select_related("report").filter(uuid=self.kwargs["uuid"])
        q = made.first()
        if q is None:
            raise Http404("No such report request.")
        context.update(q=q, may_generate=may_generate(self.role), poll_seconds=POLL_SECONDS)
        return context


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


def _logo_preview(content_type: str, data: bytes) -> str:
    import base64

    return f"data:{content_type};base64,{base64.b64encode(bytes(data)).decode('ascii')}"


class ReportSettingsView(ClientPageMixin, TemplateView):
    """The client's report settings: its locale (Letter or A4 paper) and its own logo."""

    template_name = "reports/report_settings.html"
    capability = Capability.ADMINISTER

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        logo = branding.client_logo(self.client)
        locale = kwargs.get("locale") or self.client.locale
        context.update(
            locales=ClientLocale.choices,
            locale=locale,
            paper=branding.paper_size(self.client.locale),
            logo_preview=_logo_preview(logo.content_type, logo.data) if logo else "",
            logo=logo,
            msp=branding.msp_profile(),
            errors=kwargs.get("errors", {}),
            max_kb=branding.logo_max_bytes() // 1024,
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        locale = request.POST.get("locale", "")
        try:
            branding.save_client_report_settings(
                client=self.client,
                locale=locale,
                logo=request.FILES.get("logo"),
                remove_logo=request.POST.get("remove_logo") == "on",
                actor=request.user,
            )
        except branding.BrandingInvalid as exc:
            context = self.get_context_data(errors=exc.errors, locale=locale)
            return self.render_to_response(context, status=400)
        messages.success(
            request,
            f"Report settings saved: {self.client.get_locale_display()}, "
            f"{branding.paper_size(self.client.locale)} paper.",
        )
        return redirect(request.path)


class MspReportBrandingView(MspPageMixin, TemplateView):
    """The MSP's name and logo, printed on every client's reports (MSP admins)."""

    template_name = "reports/msp_branding.html"
    msp_capability = Capability.ADMINISTER

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        profile = branding.msp_profile()
        context.update(
            profile=profile,
            name=kwargs.get("name", profile.name),
            logo_preview=_logo_preview(profile.logo_type, profile.logo)
            if profile.logo_type
            else "",
            errors=kwargs.get("errors", {}),
            max_kb=branding.logo_max_bytes() // 1024,
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        name = request.POST.get("name", "")
        try:
            branding.save_msp_profile(
                name=name,
                logo=request.FILES.get("logo"),
                remove_logo=request.POST.get("remove_logo") == "on",
                actor=request.user,
            )
        except branding.BrandingInvalid as exc:
            context = self.get_context_data(errors=exc.errors, name=name)
            return self.render_to_response(context, status=400)
        messages.success(request, "Report branding saved; new reports carry it.")
        return redirect(request.path)
