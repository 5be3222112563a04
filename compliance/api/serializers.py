from __future__ import annotations

from rest_framework import serializers


class RatioSerializer(serializers.Serializer):
    compliant = serializers.IntegerField()
    in_scope = serializers.IntegerField()
    pct = serializers.FloatField(allow_null=True)


class ComplianceSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    period_start = serializers.DateTimeField()
    compliance = RatioSerializer()
    by_tier = serializers.DictField(child=RatioSerializer())
    by_os_family = serializers.DictField(child=RatioSerializer())
    by_asset_class = serializers.DictField(child=RatioSerializer())
    sla_attainment = serializers.DictField()
    sla_attainment_by_tier = serializers.DictField()
    time_to_remediate = serializers.DictField()
    exceptions = serializers.DictField()
    patch_failure_rate = serializers.DictField()
    after_hours_tickets = serializers.IntegerField()
    open_findings = serializers.IntegerField()
    open_critical = serializers.IntegerField()
    overdue_findings = serializers.IntegerField()
    kev_open = serializers.IntegerField()
    ephi_assets = serializers.IntegerField()
