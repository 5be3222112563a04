"""The audit log's pages, CSV exports and read-only API.

* ``/clients/<slug>/audit-log/`` (and ``export.csv``), API ``/clients/<slug>/api/v1/audit-events/``:
  the client's rows, for the AUDIT capability there (MSP admins and the client's owners);
* ``/audit-log/`` (and ``export.csv``), API ``/api/v1/audit-events/``: every row, for MSP
  admins (``may_read_msp_audit_log``; never a token).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.generic import TemplateView
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions as drf_exceptions
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import BasePermission

from common.pagination import page_of
from tenants.api.serializers import BriefMixin
from tenants.permissions import (
    Capability,
    ClientAccess,
    ClientPageMixin,
    current_client,
    may_read_msp_audit_log,
)

from . import audit, auditlog
from .models import AuditEvent

PAGE_SIZE = 50


def _query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class _AuditLog(TemplateView):
    template_name = "accounts/audit/log.html"
    msp_wide = False
    export = False

    def rows(self) -> Any:
        raise NotImplementedError

    def log_client(self) -> Any:
        return None

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        filterset, rows = auditlog.filtered(request, self.rows(), msp_wide=self.msp_wide)
        if self.export:
            if filterset.is_bound and not filterset.is_valid():
                problems = "; ".join(
                    f"{field}: {' '.join(messages)}" for field, messages in filterset.errors.items()
                )
                return HttpResponse(
                    f"Nothing exported: {problems}",
                    status=400,
                    content_type="text/plain; charset=utf-8",
                )
            client = self.log_client()
            text = auditlog.export_csv(
                rows=rows,
                actor=request.user,
                client=client,
                request=request,
                filters=dict(filterset.form.cleaned_data) if filterset.is_bound else {},
            )
            name = f"audit-log-{client.slug}.csv" if client else "audit-log.csv"
            return _csv_response(text, name)
        self.filterset, self.selected = filterset, rows
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = page_of(self.request, self.selected, size=PAGE_SIZE)
        for event in page.object_list:
            event.label = audit.label_of(event.kind)
        query = _query_without_page(self.request)
        context.update(
            filter=self.filterset,
            page_fields=[self.filterset.form[name] for name in self.filterset.PAGE_FIELDS],
            page_obj=page,
            query=query,
            export_query=query,
            msp_wide=self.msp_wide,
            log_client=self.log_client(),
        )
        return context


class ClientAuditLogPage(ClientPageMixin, _AuditLog):
    """A client's security events: sign-ins of its people, invitations, memberships, tokens,
    exports. MSP admins and the client's owners."""

    capability = Capability.AUDIT

    def rows(self) -> Any:
        return auditlog.client_events(self.request.user, self.client)

    def log_client(self) -> Any:
        return self.client


class MspAuditAccessMixin(AccessMixin):
    """The MSP-wide log: signed-in MSP admins (``may_read_msp_audit_log``)."""

    # The MSP-wide capability these pages need: administering the MSP (MSP admins alone).
    msp_capability = Capability.ADMINISTER

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not may_read_msp_audit_log(request.user):
            raise PermissionDenied("Only MSP admins read the MSP-wide audit log.")
        return super().dispatch(request, *args, **kwargs)


class MspAuditLogPage(MspAuditAccessMixin, _AuditLog):
    msp_wide = True

    def rows(self) -> Any:
        return auditlog.msp_events(self.request.user)


# --- API -------------------------------------------------------------------------------------


class AuditEventSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    event = serializers.SerializerMethodField(help_text="the kind's label, as the pages show it")
    actor = serializers.CharField(source="actor_label", read_only=True)
    client = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    # Written once, never changed: its change time is when it was written.
    updated_at = serializers.DateTimeField(source="occurred_at", read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "kind",
            "event",
            "actor",
            "client",
            "target",
            "ip_address",
            "user_agent",
            "detail",
            "updated_at",
        ]
        read_only_fields = fields
        brief_fields = ["id", "occurred_at", "kind", "actor"]

    @extend_schema_field(serializers.CharField())
    def get_event(self, obj: AuditEvent) -> str:
        return audit.label_of(obj.kind)


class _AuditEvents(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = AuditEventSerializer
    search_fields = ["actor_label", "target"]
    ordering_fields = ["occurred_at"]
    updated_field = "occurred_at"  # append-only: a row's change time is when it happened


class ClientAuditEventViewSet(_AuditEvents):
    """This client's security audit log (read-only): MSP admins and the client's owners."""

    capabilities = {"GET": Capability.AUDIT}
    filterset_class = auditlog.AuditEventFilterSet

    def get_queryset(self) -> Any:
        return auditlog.client_events(self.request.user, current_client(self.request))


class MayReadMspAuditLog(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        ClientAccess().has_permission(request, view)
        if not may_read_msp_audit_log(request.user):
            raise drf_exceptions.PermissionDenied("Only MSP admins read the MSP-wide audit log.")
        return True


class MspAuditEventViewSet(_AuditEvents):
    """Every security event of the MSP and its clients (read-only): MSP admins, no token."""

    permission_classes = [MayReadMspAuditLog]
    msp_capability = Capability.ADMINISTER
    filterset_class = auditlog.MspAuditEventFilterSet

    def get_queryset(self) -> Any:
        return auditlog.msp_events(self.request.user)
