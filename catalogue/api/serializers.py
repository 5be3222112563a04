from rest_framework import serializers

from catalogue.models import Advisory, AdvisoryFix, KevEntry, Vulnerability
from tenants.api.serializers import BriefMixin

TIER_HELP = "Severity tier: critical, high, medium, low or unknown."


def tier_field() -> serializers.CharField:
    # Plain strings: several fields share SeverityTier, and one enum per field name would make
    # the OpenAPI document name the same choice set several times.
    return serializers.CharField(read_only=True, help_text=TIER_HELP)


class VulnerabilitySerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.CharField(source="cve_id", read_only=True)
    is_kev = serializers.BooleanField(read_only=True, help_text="Listed in CISA KEV")
    epss_score = serializers.DecimalField(max_digits=6, decimal_places=5, read_only=True)
    epss_percentile = serializers.DecimalField(max_digits=6, decimal_places=5, read_only=True)
    cvss_severity = tier_field()
    vendor_severity = tier_field()

    class Meta:
        model = Vulnerability
        fields = [
            "id",
            "description",
            "published_at",
            "last_modified_at",
            "nvd_status",
            "cvss3_vector",
            "cvss3_score",
            "cvss4_vector",
            "cvss4_score",
            "cvss2_vector",
            "cvss2_score",
            "cvss_severity",
            "severity_score",
            "scores",
            "is_rejected",
            "vendor_severity",
            "cwes",
            "ssvc_exploitation",
            "is_kev",
            "epss_score",
            "epss_percentile",
            "updated_at",
        ]
        read_only_fields = fields
        brief_fields = ["id", "cvss_severity", "is_kev"]


class AdvisoryFixSerializer(serializers.ModelSerializer):
    severity = tier_field()

    class Meta:
        model = AdvisoryFix
        fields = [
            "product",
            "os_family",
            "ecosystem",
            "release",
            "package_name",
            "binaries",
            "fixed_version",
            "affected_ranges",
            "supersedes",
            "subtype",
            "is_hotpatch",
            "reboot_required",
            "severity",
            "cves",
            "exploited_cves",
        ]
        read_only_fields = fields


class AdvisorySerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    fixes = AdvisoryFixSerializer(many=True, read_only=True)
    vendor_severity = tier_field()

    class Meta:
        model = Advisory
        fields = [
            "id",
            "source",
            "identifier",
            "title",
            "vendor",
            "release_date",
            "vendor_severity",
            "reboot_required",
            "cves",
            "exploited_cves",
            "aliases",
            "os_family",
            "document",
            "url",
            "fixes",
            "updated_at",
        ]
        read_only_fields = fields
        brief_fields = ["id", "source", "identifier"]


class KevEntrySerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.CharField(source="cve_id", read_only=True)

    class Meta:
        model = KevEntry
        fields = [
            "id",
            "vendor",
            "product",
            "name",
            "short_description",
            "date_added",
            "due_date",
            "known_ransomware",
            "required_action",
            "notes",
            "cwes",
            "is_overdue_on_add",
            "removed_on",
            "updated_at",
        ]
        read_only_fields = fields
        brief_fields = ["id", "date_added", "due_date", "removed_on"]


class CatalogueFreshnessSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="kev, epss, nvd, cve5, msrc, osv or debian")
    label = serializers.CharField()
    as_of = serializers.DateTimeField(
        allow_null=True, help_text="When the imported data was current"
    )
    age_days = serializers.IntegerField(allow_null=True)
    imported_at = serializers.DateTimeField(allow_null=True)
    version = serializers.CharField(help_text="KEV catalogVersion, MSRC document, EPSS model")
    file_name = serializers.CharField()
    imports = serializers.IntegerField()
    max_age_days = serializers.IntegerField(allow_null=True)
    is_stale = serializers.BooleanField()
