from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalogue.models import Advisory
from findings.choices import FindingState
from findings.explain import explain_finding, match_brief
from findings.models import Finding, SlaPolicyChange, SlaRule
from inventory.models import Asset
from tenants.api.serializers import BriefMixin


class FindingAssetSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    asset_class = serializers.CharField(source="asset_class.key", read_only=True)

    class Meta:
        model = Asset
        fields = ["id", "hostname", "os_family", "asset_class", "is_ephi"]


class AdvisoryBriefSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    vendor_severity = serializers.CharField(read_only=True)

    class Meta:
        model = Advisory
        fields = ["id", "source", "identifier", "title", "vendor_severity"]


class MatchRangeSerializer(serializers.Serializer):
    cve = serializers.CharField()
    range = serializers.CharField(help_text="Affected versions: `>= 1.0, < 2.3`, `= 4.1`")
    criteria = serializers.CharField(help_text="The NVD CPE 2.3 criteria")


class MatchPrerequisiteSerializer(serializers.Serializer):
    kb = serializers.CharField()
    subtype = serializers.CharField()
    release_date = serializers.DateField(allow_null=True)


class FindingMatchSerializer(serializers.Serializer):
    """What the finding was matched by and why (``findings.explain.explain_finding``).

    The list carries the fields every match has, from the finding itself (``detailed`` false);
    the detail recomputes the match from the catalogue and the inventory and adds the fields of
    its ``kind``: ``windows`` (product, build brought, supersedes, rolls up, prerequisite
    servicing stack), ``application`` (program, CPE, rule, ranges, fixed or no fixed version
    published), ``package`` (ecosystem, release, ranges), ``pending_update`` (what the device
    reported)."""

    source = serializers.CharField(
        help_text="msrc, ubuntu, debian, osv, ghsa, redhat, vendor, nvd (CPE ranges) or device"
    )
    source_label = serializers.CharField()
    kind = serializers.ChoiceField(choices=["windows", "application", "package", "pending_update"])
    advisory = serializers.CharField(allow_null=True)
    matched = serializers.CharField(help_text="The program, package or OS that was matched")
    installed_version = serializers.CharField()
    fixed_version = serializers.CharField()
    no_fixed_version = serializers.BooleanField(
        help_text="True when NVD's ranges name no version that fixes the program"
    )
    summary = serializers.CharField(help_text="Why, in one sentence")
    remediation = serializers.CharField(required=False, help_text="What to do (detail only)")
    detailed = serializers.BooleanField(
        help_text="True when recomputed from the current catalogue and inventory"
    )
    # windows
    product = serializers.CharField(required=False, help_text="MSRC product or OSV product")
    line = serializers.CharField(required=False, help_text="os, ie or ssu")
    subtype = serializers.CharField(required=False)
    fixed_build = serializers.CharField(required=False)
    release_date = serializers.DateField(required=False, allow_null=True)
    document = serializers.CharField(required=False)
    supersedes = serializers.ListField(child=serializers.CharField(), required=False)
    rolls_up = serializers.ListField(child=serializers.CharField(), required=False)
    host_build = serializers.CharField(required=False)
    latest_installed = serializers.CharField(required=False, allow_null=True)
    latest_installed_build = serializers.CharField(required=False, allow_null=True)
    prerequisite = MatchPrerequisiteSerializer(
        required=False, allow_null=True, help_text="Servicing stack update to install first"
    )
    no_longer_offered = serializers.BooleanField(required=False)
    # application
    program = serializers.CharField(required=False)
    inventory_kind = serializers.CharField(required=False)
    application = serializers.CharField(required=False)
    cpe = serializers.CharField(required=False)
    rule = serializers.CharField(required=False)
    curated = serializers.BooleanField(required=False)
    compared_version = serializers.CharField(required=False)
    ranges = MatchRangeSerializer(many=True, required=False)
    unfixed_cves = serializers.ListField(child=serializers.CharField(), required=False)
    no_longer_matched = serializers.BooleanField(required=False)
    # package
    ecosystem = serializers.CharField(required=False)
    release = serializers.CharField(required=False)
    package = serializers.CharField(required=False)
    binary = serializers.CharField(required=False)
    affected_ranges = serializers.ListField(child=serializers.DictField(), required=False)
    withdrawn = serializers.BooleanField(required=False)
    # pending_update
    reported_source = serializers.CharField(required=False)
    reported_advisory = serializers.CharField(required=False)
    reported_at = serializers.DateTimeField(required=False)
    reboot_required = serializers.BooleanField(required=False)


class FindingSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    asset = FindingAssetSerializer(read_only=True)
    advisory = AdvisoryBriefSerializer(read_only=True, allow_null=True)
    is_kev = serializers.BooleanField(read_only=True)
    is_overdue = serializers.SerializerMethodField()
    excepted_until = serializers.SerializerMethodField(
        help_text="Hard expiry of the active exception covering the finding, or null."
    )
    match = serializers.SerializerMethodField(
        help_text="What matched and why: brief in lists, recomputed in full on the detail."
    )

    class Meta:
        model = Finding
        fields = [
            "id",
            "asset",
            "advisory",
            "patch_identifier",
            "package_name",
            "installed_version",
            "fixed_version",
            "cves",
            "is_kev",
            "tier",
            "risk_score",
            "origin",
            "state",
            "detected_at",
            "due_at",
            "deployed_at",
            "verified_at",
            "awaiting_reboot_since",
            "is_overdue",
            "excepted_until",
            "match",
            "updated_at",
        ]
        read_only_fields = fields
        brief_fields = ["id", "patch_identifier", "tier", "state", "due_at"]

    @extend_schema_field(FindingMatchSerializer)
    def get_match(self, obj: Finding) -> dict[str, Any]:
        if self.context.get("explain_match"):
            return explain_finding(obj)
        return match_brief(obj)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_excepted_until(self, obj: Finding) -> str | None:
        value = getattr(obj, "excepted_until", None)
        return serializers.DateTimeField().to_representation(value) if value else None

    def get_is_overdue(self, obj: Finding) -> bool:
        return (
            obj.state
            not in (
                FindingState.VERIFIED,
                FindingState.NOT_APPLICABLE,
            )
            and obj.due_at < timezone.now()
        )


class PrioritizedFindingSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    reason = serializers.CharField()
    finding = FindingSerializer()


@extend_schema_field(
    {
        "type": "string",
        "nullable": True,
        "pattern": r"^([01]\d|2[0-3]):[0-5]\d$",
        "example": "02:00",
    }
)
class HourMinuteField(serializers.TimeField):
    """A time of day written ``HH:MM`` (not the ``HH:MM:SS`` that OpenAPI's ``time`` means)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", **kwargs)


class SlaRuleSerializer(serializers.ModelSerializer):
    asset_class = serializers.SlugRelatedField(slug_field="key", read_only=True)
    reboot_time = HourMinuteField(allow_null=True, read_only=True)

    class Meta:
        model = SlaRule
        fields = [
            "asset_class",
            "tier",
            "window_hours",
            "reboot_policy",
            "reboot_weekday",
            "reboot_time",
        ]


class SlaPolicyChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = SlaPolicyChange
        fields = ["actor", "at", "before", "after", "redated_findings"]


class SlaPolicySerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    redating_rule = serializers.CharField(read_only=True)
    rules = SlaRuleSerializer(many=True, read_only=True)
    changes = SlaPolicyChangeSerializer(many=True, read_only=True)


class SlaRuleInputSerializer(serializers.Serializer):
    asset_class = serializers.CharField()
    tier = serializers.CharField()
    window_hours = serializers.IntegerField()
    reboot_policy = serializers.CharField()
    reboot_weekday = serializers.IntegerField(required=False, allow_null=True)
    reboot_time = serializers.CharField(required=False, allow_null=True)


class SlaPolicyUpdateSerializer(serializers.Serializer):
    rules = SlaRuleInputSerializer(many=True, allow_empty=False)


class ChainEventSerializer(serializers.Serializer):
    """One evidence event of a finding's chain: where it sits in the hash chain and who acted."""

    id = serializers.UUIDField(source="event.uuid")
    sequence = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    kind = serializers.CharField()
    stage = serializers.CharField(allow_null=True)
    label = serializers.CharField()
    summary = serializers.CharField()
    actor = serializers.CharField()
    hash = serializers.CharField()
    prev_hash = serializers.CharField(source="event.prev_hash")
    os_record = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_os_record(self, obj: Any) -> dict[str, Any] | None:
        """The OS's own install record a verification cites (source, time, record id)."""
        cited = (obj.event.payload or {}).get("os_record")
        return cited if isinstance(cited, dict) else None


class ChainAttemptSerializer(serializers.Serializer):
    outcome = serializers.SerializerMethodField()
    ring = serializers.CharField()
    rollout = serializers.UUIDField(allow_null=True)
    event = ChainEventSerializer()
    verification = ChainEventSerializer(allow_null=True)
    rolled_back = ChainEventSerializer(allow_null=True)

    def get_outcome(self, obj: Any) -> str:
        if obj.rolled_back is not None:
            return "rolled_back"
        return "succeeded" if obj.succeeded else "failed"


class FindingBriefSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    hostname = serializers.CharField(source="asset.hostname", read_only=True)

    class Meta:
        model = Finding
        fields = ["id", "hostname", "patch_identifier", "tier", "state", "due_at"]
        read_only_fields = fields


class FindingChainSerializer(serializers.Serializer):
    """Detection, each deployment attempt with its verification, and every event naming the
    finding, read through the event contract."""

    finding = FindingBriefSerializer()
    complete = serializers.BooleanField()
    detection = ChainEventSerializer(allow_null=True)
    deployments = ChainAttemptSerializer(source="attempts", many=True)
    verification = ChainEventSerializer(allow_null=True)
    events = ChainEventSerializer(many=True)
