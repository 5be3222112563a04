"""``GET /api/v1/findings/``: every client's findings in one list (MSP-wide principals)."""

from __future__ import annotations

from rest_framework import serializers

from common.crossclient import UnionSpec
from inventory.models import Asset
from tenants.api.crossclient import BoolParam, ChoiceParam, CrossClientListView

from ..choices import FindingState, SeverityTier
from ..models import Finding


class CrossClientFindingSerializer(serializers.Serializer):
    client = serializers.SlugField(help_text="The client's slug.")
    client_name = serializers.CharField()
    id = serializers.UUIDField()
    asset = serializers.UUIDField(source="asset_id")
    hostname = serializers.CharField()
    patch_identifier = serializers.CharField()
    package_name = serializers.CharField()
    tier = serializers.ChoiceField(choices=SeverityTier.choices)
    state = serializers.ChoiceField(choices=FindingState.choices)
    is_kev = serializers.BooleanField()
    risk_score = serializers.DecimalField(max_digits=6, decimal_places=2)
    cves = serializers.ListField(child=serializers.CharField())
    detected_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    verified_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()


class CrossClientFindingList(CrossClientListView):
    """Findings of every client the caller may see, each naming its client."""

    serializer_class = CrossClientFindingSerializer
    spec = UnionSpec(
        select=(
            "t.uuid AS id, a.uuid AS asset_id, a.hostname, t.patch_identifier, t.package_name, "
            "t.tier, t.state, t.is_kev, t.risk_score, t.cves, t.detected_at, t.due_at, "
            "t.verified_at, t.updated_at"
        ),
        source=(
            f"{{s}}.{Finding._meta.db_table} t "
            f"JOIN {{s}}.{Asset._meta.db_table} a ON a.id = t.asset_id"
        ),
        columns=(
            "id",
            "asset_id",
            "hostname",
            "patch_identifier",
            "package_name",
            "tier",
            "state",
            "is_kev",
            "risk_score",
            "cves",
            "detected_at",
            "due_at",
            "verified_at",
            "updated_at",
        ),
    )
    choice_params = (
        ChoiceParam("tier", "t.tier", tuple(SeverityTier.values), "Severity tier."),
        ChoiceParam("state", "t.state", tuple(FindingState.values), "Finding state."),
    )
    bool_params = (BoolParam("is_kev", "t.is_kev", "In CISA's KEV catalogue."),)
    search_columns = ("a.hostname", "t.patch_identifier", "t.package_name")
    search_label = "hostname, patch_identifier, package_name"
    orderings = ("updated_at", "due_at", "detected_at", "risk_score")
