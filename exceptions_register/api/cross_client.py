"""``GET /api/v1/exceptions/``: every client's risk exceptions in one list (MSP-wide
principals)."""

from __future__ import annotations

from rest_framework import serializers

from common.crossclient import UnionSpec
from tenants.api.crossclient import ChoiceParam, CrossClientListView

from ..choices import ExceptionKind, ExceptionState
from ..models import RiskException


class CrossClientExceptionSerializer(serializers.Serializer):
    client = serializers.SlugField(help_text="The client's slug.")
    client_name = serializers.CharField()
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=ExceptionKind.choices)
    state = serializers.ChoiceField(choices=ExceptionState.choices)
    ticket_reference = serializers.CharField()
    reason = serializers.CharField()
    requested_by = serializers.CharField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    starts_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()


class CrossClientExceptionList(CrossClientListView):
    """Risk exceptions of every client the caller may see, each naming its client."""

    serializer_class = CrossClientExceptionSerializer
    spec = UnionSpec(
        select=(
            "t.uuid AS id, t.kind, t.state, t.ticket_reference, t.reason, "
            "t.requested_by_label AS requested_by, t.submitted_at, t.starts_at, t.expires_at, "
            "t.ended_at, t.updated_at"
        ),
        source=f"{{s}}.{RiskException._meta.db_table} t",
        columns=(
            "id",
            "kind",
            "state",
            "ticket_reference",
            "reason",
            "requested_by",
            "submitted_at",
            "starts_at",
            "expires_at",
            "ended_at",
            "updated_at",
        ),
    )
    choice_params = (
        ChoiceParam("kind", "t.kind", tuple(ExceptionKind.values), "Exception kind."),
        ChoiceParam("state", "t.state", tuple(ExceptionState.values), "Exception state."),
    )
    search_columns = ("t.ticket_reference", "t.reason")
    search_label = "ticket_reference, reason"
    orderings = ("updated_at", "expires_at")
