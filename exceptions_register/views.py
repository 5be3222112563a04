"""HTML pages of the register (engineers) and the client-owner portal."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from common.csvexport import csv_writer
from common.pagination import page_of
from tenants.permissions import (
    ROLE_CAPABILITIES,
    Capability,
    ClientPageMixin,
    current_client,
    may_generate,
)

from . import services, signing
from .choices import OPEN_FOR_CHANGE, ExceptionState
from .filters import ExceptionFilterSet
from .forms import DecisionForm, ExceptionForm, RevokeForm
from .models import RiskException
from .plain import plain_summary
from .selectors import (
    EXPIRING_SOON_DAYS,
    awaiting_signature,
    expiring_soon,
    register_counts,
    visible_exceptions,
)


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _detail_url(exception: RiskException) -> str:
    return reverse("exceptions_register:exception_detail", kwargs={"uuid": exception.uuid})


class ExceptionObjectMixin:
    def get_exception(self) -> RiskException:
        return get_object_or_404(visible_exceptions(), uuid=self.kwargs["uuid"])


class ExceptionListView(ClientPageMixin, TemplateView):
    template_name = "exceptions_register/exception_list.html"
    capability = Capability.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filterset = ExceptionFilterSet(
            self.request.GET or None,
            queryset=visible_exceptions()
            .prefetch_related("assets", "findings")
            .order_by("-created_at"),
        )
        page = page_of(self.request, filterset.qs)
        query = self.request.GET.copy()
        query.pop("page", None)
        context.update(
            filterset=filterset,
            page_obj=page,
            exceptions=page.object_list,
            counts=register_counts(),
            now=timezone.now(),
            query=query.urlencode(),
            expiring=expiring_soon(),
            expiring_days=EXPIRING_SOON_DAYS,
            may_export_pdf=may_generate(self.role),
        )
        return context


class _Echo:
    def write(self, value: str) -> str:
        return value


class ExceptionExportView(ClientPageMixin, TemplateView):
    """The register as CSV (the current filters apply)."""

    capability = Capability.VIEW
    columns = [
        "id",
        "version",
        "kind",
        "state",
        "ticket_reference",
        "reason",
        "assets",
        "findings",
        "compensating_controls",
        "requested_by",
        "approver",
        "requested_at",
        "signed_at",
        "signature_method",
        "starts_at",
        "expires_at",
        "ended_at",
        "aging_days",
        "days_left",
        "duration_days",
        "supersedes",
    ]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        qs = (
            ExceptionFilterSet(request.GET or None, queryset=visible_exceptions())
            .qs.prefetch_related("assets", "findings")
            .order_by("created_at")
        )
        now = timezone.now()
        writer = csv_writer(_Echo())

        def rows():
            yield writer.writerow(self.columns)
            for e in qs:
                signature = getattr(e, "signature", None)
                active = e.state == ExceptionState.ACTIVE
                yield writer.writerow(
                    [
                        e.uuid,
                        e.version,
                        e.kind,
                        e.state,
                        e.ticket_reference,
                        e.reason,
                        "; ".join(sorted(a.hostname for a in e.assets.all())),
                        "; ".join(sorted(f.patch_identifier for f in e.findings.all())),
                        "; ".join(f"{c.kind}: {c.description}" for c in e.controls.all()),
                        e.requested_by_label,
                        e.approver.email,
                        e.created_at.isoformat(),
                        signature.signed_at.isoformat()
                        if signature and signature.decision == "signed"
                        else "",
                        signature.method if signature and signature.decision == "signed" else "",
                        e.starts_at.isoformat() if e.starts_at else "",
                        e.expires_at.isoformat(),
                        e.ended_at.isoformat() if e.ended_at else "",
                        e.aging_days(at=now) if active else "",
                        e.days_left(at=now) if active else "",
                        e.duration_days() if e.starts_at else "",
                        e.supersedes.uuid if e.supersedes_id else "",
                    ]
                )

        stamp = timezone.now().strftime("%Y%m%d")
        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="exceptions-{self.client.slug}-{stamp}.csv"'
        )
        return response


class ExceptionDetailView(ExceptionObjectMixin, ClientPageMixin, TemplateView):
    template_name = "exceptions_register/exception_detail.html"
    capability = Capability.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        exception = self.get_exception()
        versions = []
        cursor = exception.supersedes
        while cursor is not None and len(versions) < 50:
            versions.append(cursor)
            cursor = cursor.supersedes
        context.update(
            exception=exception,
            canonical_text=exception.canonical_text(),
            signature=getattr(exception, "signature", None),
            previous_versions=versions,
            successors=exception.successors.order_by("-version"),
            revoke_form=RevokeForm(),
            now=timezone.now(),
        )
        return context


class ExceptionFormView(ClientPageMixin, TemplateView):
    """Create; edit (in place while unsigned, a new version once signed); renew."""

    template_name = "exceptions_register/exception_form.html"
    capability = Capability.OPERATE
    mode = "create"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Times on the form are the client's local times.
        client = current_client(request)
        with timezone.override(client.tz if client else None):
            return super().dispatch(request, *args, **kwargs)

    def setup_exception(self) -> RiskException | None:
        if self.mode == "create":
            return None
        return get_object_or_404(visible_exceptions(), uuid=self.kwargs["uuid"])

    def get_form(self, exception: RiskException | None) -> ExceptionForm:
        if self.request.method == "POST":
            return ExceptionForm(self.request.POST, client=self.client)
        initial = ExceptionForm.initial_from(exception) if exception else {}
        if self.mode == "renew" and exception is not None:
            initial.pop("expires_at", None)
        return ExceptionForm(initial=initial, client=self.client)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        exception = self.setup_exception()
        return self.render_to_response(self.page_context(exception, self.get_form(exception)))

    def page_context(self, exception: RiskException | None, form: ExceptionForm) -> dict[str, Any]:
        creates_version = exception is not None and (
            self.mode == "renew" or exception.state not in OPEN_FOR_CHANGE
        )
        return self.get_context_data(
            form=form,
            exception=exception,
            mode=self.mode,
            creates_version=creates_version,
            max_days=self.client.max_exception_days,
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        exception = self.setup_exception()
        form = self.get_form(exception)
        if form.is_valid():
            data = form.to_input()
            try:
                if exception is None:
                    result = services.request_exception(
                        client=self.client,
                        actor=request.user,
                        data=data,
                        submit="save_draft" not in request.POST,
                    )
                    if getattr(result, "merged_duplicate", False):
                        messages.info(
                            request,
                            f"An exception for ticket {result.ticket_reference} with the same "
                            "scope is already open: your request was merged into it.",
                        )
                    else:
                        messages.success(request, "Exception recorded.")
                elif self.mode == "edit" and exception.state in OPEN_FOR_CHANGE:
                    result = services.update_exception(
                        client=self.client, exception=exception, actor=request.user, data=data
                    )
                    messages.success(request, "Exception updated.")
                else:
                    result = services.revise_exception(
                        client=self.client,
                        exception=exception,
                        actor=request.user,
                        data=data,
                        renewal=self.mode == "renew",
                    )
                    messages.success(
                        request,
                        f"Version {result.version} created; it needs the owner's signature. "
                        "The signed version stays unchanged.",
                    )
                return redirect(_detail_url(result))
            except ValidationError as error:
                form.add_service_errors(error)
        return self.render_to_response(self.page_context(exception, form), status=400)


class ExceptionActionView(ExceptionObjectMixin, ClientPageMixin, TemplateView):
    capability = Capability.OPERATE
    http_method_names = ["post"]
    action = ""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        exception = self.get_exception()
        try:
            if self.action == "submit":
                services.submit_exception(exception=exception, actor=request.user)
                messages.success(request, "Sent to the client owner for sign-off.")
            elif self.action == "revoke":
                form = RevokeForm(request.POST)
                reason = form.data.get("reason", "")
                if reason.strip() and not form.is_valid():
                    raise ValidationError(form.errors.get("reason") or "Check the reason.")
                services.revoke_exception(exception=exception, actor=request.user, reason=reason)
                messages.success(request, "Exception revoked.")
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        return redirect(_detail_url(exception))


# --- client portal --------------------------------------------------------------------------


class PortalListView(ClientPageMixin, TemplateView):
    """What the client's people see: exceptions awaiting the owner, then the decided ones."""

    template_name = "exceptions_register/portal_list.html"
    capability = Capability.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        can_sign = Capability.SIGN.value in context["client_capabilities"]
        if can_sign:
            awaiting = awaiting_signature(self.request.user)
        else:
            awaiting = visible_exceptions().filter(state=ExceptionState.PENDING_SIGNOFF)
        decided = visible_exceptions().exclude(state__in=OPEN_FOR_CHANGE).order_by("-updated_at")
        awaiting = list(awaiting.order_by("expires_at"))
        for exception in awaiting:
            exception.plain_summary = plain_summary(exception, tz=self.client.tz)
        context.update(
            can_sign=can_sign,
            awaiting=awaiting,
            decided=page_of(self.request, decided, size=25),
            now=timezone.now(),
        )
        return context


class PortalDetailView(ClientPageMixin, TemplateView):
    template_name = "exceptions_register/portal_detail.html"

    def required_capability(self, request: HttpRequest) -> Capability:
        return Capability.SIGN if request.method == "POST" else Capability.VIEW

    def get_exception(self) -> RiskException:
        qs = visible_exceptions().exclude(state=ExceptionState.DRAFT)
        return get_object_or_404(qs, uuid=self.kwargs["uuid"])

    def page(self, exception: RiskException, form: DecisionForm, status: int = 200) -> HttpResponse:
        can_sign = (
            Capability.SIGN in ROLE_CAPABILITIES[self.role]
            and exception.state == ExceptionState.PENDING_SIGNOFF
            and exception.approver_id == self.request.user.pk
        )
        text = exception.canonical_text()
        methods = signing.available_methods(self.request.user) if can_sign else []
        context = self.get_context_data(
            exception=exception,
            canonical_text=text,
            plain_summary=plain_summary(exception, tz=self.client.tz),
            text_sha256=exception.canonical_sha256(),
            signature=getattr(exception, "signature", None),
            form=form,
            can_sign=can_sign,
            sign_methods=methods,
            passkey_options=(
                signing.passkey_options(user=self.request.user, text=text)
                if "passkey" in methods
                else None
            ),
            now=timezone.now(),
        )
        return self.render_to_response(context, status=status)

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        exception = self.get_exception()
        return self.page(
            exception, DecisionForm(initial={"text_sha256": exception.canonical_sha256()})
        )

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        exception = self.get_exception()
        if exception.approver_id != request.user.pk:
            raise PermissionDenied("This exception awaits another owner's signature.")
        form = DecisionForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            common = dict(
                client=self.client,
                exception=exception,
                user=request.user,
                password=data["password"],
                text_sha256=data["text_sha256"],
                ip_address=_client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
            try:
                if data["decision"] == "sign":
                    services.sign_exception(**common, factor=form.factor())
                    messages.success(request, "Signed. The exception is active until its expiry.")
                else:
                    services.reject_exception(**common, reason=data.get("reason") or "")
                    messages.success(request, "Rejected. The MSP has been told why.")
                return redirect(reverse("exceptions_register:portal_list"))
            except ValidationError as error:
                if hasattr(error, "error_dict"):
                    for field, msgs in error.message_dict.items():
                        for message in msgs:
                            form.add_error(field if field in form.fields else None, message)
                else:
                    for message in error.messages:
                        form.add_error(None, message)
        exception.refresh_from_db()
        return self.page(exception, form, status=400)
