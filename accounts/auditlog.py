"""Reading the security audit log: who may see which rows, its filters, its CSV export.

Two views of one table (``accounts.models.AuditEvent``, public schema):

* a client's log (``client_events``): the rows naming that client, for principals holding the
  AUDIT capability there (MSP admins and the client's owners);
* the MSP-wide log (``msp_events``): every row, the MSP's own (staff sign-ins, failures for
  unknown addresses, MSP-wide tokens) included, for MSP admins only.

Both are default-deny: anyone else gets an empty queryset. Exporting either writes an
``export.downloaded`` event (on the client's log for a client's export).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django_filters import rest_framework as filters

from common.csvexport import csv_writer
from common.filtering import IsoDateTimeFilter
from tenants.models import Client
from tenants.permissions import Capability, has_capability, may_read_msp_audit_log

from . import audit
from .models import AuditEvent

__all__ = [
    "AuditEventFilterSet",
    "MspAuditEventFilterSet",
    "filtered",
    "client_events",
    "msp_events",
    "export_csv",
    "CSV_HEADER",
]


def client_events(principal: Any, client: Client | None) -> QuerySet[AuditEvent]:
    """The rows of ``client``'s log, when ``principal`` holds AUDIT there; else none."""
    rows = AuditEvent.objects.select_related("client").order_by("-occurred_at", "-id")
    if client is None or not has_capability(principal, client, Capability.AUDIT):
        return rows.none()
    return rows.filter(client=client)


def msp_events(principal: Any) -> QuerySet[AuditEvent]:
    """Every row of the log, for MSP admins; else none."""
    rows = AuditEvent.objects.select_related("client").order_by("-occurred_at", "-id")
    return rows if may_read_msp_audit_log(principal) else rows.none()


KIND_CHOICES = list(audit.KINDS.items())


class AuditEventFilterSet(filters.FilterSet):
    """A client's log: kind, actor (part of the e-mail or token name), a date range (whole
    days, both ends included, in the page's time zone: the client's on its pages) and, for the
    API, exact instants."""

    kind = filters.MultipleChoiceFilter(
        choices=KIND_CHOICES, label="Event", widget=forms.SelectMultiple(attrs={"size": 6})
    )
    actor = filters.CharFilter(
        field_name="actor_label", lookup_expr="icontains", label="Who (e-mail or token)"
    )
    since = filters.DateFilter(
        method="filter_since", label="From (day)", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = filters.DateFilter(
        method="filter_until",
        label="Until (day, included)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    occurred_after = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["kind", "actor", "since", "until", "occurred_after", "occurred_before"]

    # The pages offer whole days; exact instants are for the API.
    PAGE_FIELDS = ("kind", "actor", "since", "until")

    @staticmethod
    def _start_of(day: Any) -> datetime:
        return timezone.make_aware(datetime.combine(day, time.min))

    def filter_since(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        return queryset.filter(occurred_at__gte=self._start_of(value))

    def filter_until(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        if value >= date.max:  # the last day there is: no end at all
            return queryset
        return queryset.filter(occurred_at__lt=self._start_of(value + timedelta(days=1)))


class MspAuditEventFilterSet(AuditEventFilterSet):
    """The MSP-wide log: also by client."""

    client = filters.CharFilter(field_name="client__slug", label="Client (slug)")

    class Meta(AuditEventFilterSet.Meta):
        fields = [*AuditEventFilterSet.Meta.fields, "client"]

    PAGE_FIELDS = (*AuditEventFilterSet.PAGE_FIELDS, "client")


def filtered(
    request: HttpRequest, rows: QuerySet[AuditEvent], *, msp_wide: bool
) -> tuple[AuditEventFilterSet, QuerySet[AuditEvent]]:
    """The filter form of ``request``'s query and the rows it selects (none while it is
    invalid, so a bad date never shows the unfiltered log as if it were the answer)."""
    cls = MspAuditEventFilterSet if msp_wide else AuditEventFilterSet
    query = request.GET.copy()
    for param in ("page", "format"):
        query.pop(param, None)
    filterset = cls(query or None, queryset=rows, request=request)
    if not filterset.is_bound:
        return filterset, rows
    return filterset, filterset.qs if filterset.is_valid() else rows.none()


CSV_HEADER = [
    "occurred_at",
    "kind",
    "event",
    "actor",
    "client",
    "target",
    "ip_address",
    "user_agent",
    "detail",
]


def _csv_rows(rows: Iterable[AuditEvent]) -> Iterable[list[Any]]:
    for e in rows:
        yield [
            timezone.localtime(e.occurred_at).isoformat(),
            e.kind,
            audit.label_of(e.kind),
            e.actor_label,
            e.client.slug if e.client_id else "",
            e.target,
            e.ip_address or "",
            e.user_agent,
            json.dumps(e.detail, sort_keys=True) if e.detail else "",
        ]


def export_csv(
    *,
    rows: QuerySet[AuditEvent],
    actor: Any,
    client: Client | None,
    request: HttpRequest | None,
    filters: dict[str, Any],
) -> str:
    """The CSV text of ``rows`` (every row the filters select, not one page), and the
    ``export.downloaded`` event saying who took it, of which log, with which filters."""
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(CSV_HEADER)
    count = 0
    for row in _csv_rows(rows.iterator(chunk_size=500)):
        writer.writerow(row)
        count += 1
    audit.record(
        "export.downloaded",
        actor=actor,
        client=client,
        request=request,
        target="audit-log.csv",
        export="audit-log",
        rows=count,
        filters={
            k: [str(x) for x in v] if isinstance(v, list | tuple) else str(v)
            for k, v in filters.items()
            if v not in ("", None, [])
        },
    )
    return out.getvalue()
