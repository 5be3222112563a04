from __future__ import annotations

from rest_framework import serializers

from scorecards.models import ScorecardRow
from tenants.api.serializers import BriefMixin, ClientSerializer


class ClientBriefSerializer(ClientSerializer):
    class Meta(ClientSerializer.Meta):
        fields = ["id", "slug", "name"]


class ScorecardRowSerializer(BriefMixin, serializers.ModelSerializer):
    client = ClientBriefSerializer(read_only=True)

    class Meta:
        model = ScorecardRow
        fields = [
            "client",
            "date",
            "computed_at",
            "assets_in_scope",
            "compliant_assets",
            "compliance_pct",
            "by_tier",
            "by_os_family",
            "by_asset_class",
            "sla_attainment_pct",
            "sla_period_days",
            "exceptions_active",
            "exceptions_max_aging_days",
            "patch_failure_rate_pct",
            "after_hours_tickets",
            "open_critical",
            "overdue_findings",
            "ephi_assets",
            "do_not_disrupt_assets",
            "is_regulated",
            "updated_at",
        ]
        read_only_fields = fields
        brief_fields = ["client", "date", "compliance_pct"]


class TrendPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    compliance_pct = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    sla_attainment_pct = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)


class ClientRiskSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    risk_index = serializers.DecimalField(max_digits=5, decimal_places=2)
    is_top_risk = serializers.BooleanField()
    row = ScorecardRowSerializer()
    trend = TrendPointSerializer(many=True)
