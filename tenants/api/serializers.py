from rest_framework import serializers

from tenants.models import Client
from tenants.tiers import tier_of


class BriefMixin:
    """``?brief=true`` narrows the representation to ``Meta.brief_fields``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        brief = request is not None and str(request.query_params.get("brief", "")).lower() in (
            "1",
            "true",
            "yes",
        )
        if brief:
            for name in set(self.fields) - set(self.Meta.brief_fields):
                self.fields.pop(name)


class ClientSerializer(BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    url = serializers.SerializerMethodField()
    api_url = serializers.SerializerMethodField()
    tier = serializers.SerializerMethodField()

    class Meta:
        model = Client
        fields = [
            "id",
            "slug",
            "name",
            "timezone",
            "is_hipaa",
            "plan",
            "tier",
            "url",
            "api_url",
            "created_at",
            "updated_at",
        ]
        brief_fields = ["id", "slug", "name"]

    def get_tier(self, obj: Client) -> dict:
        """What the client's plan includes (``tenants.tiers``)."""
        tier = tier_of(obj)
        return {
            "label": tier.label,
            "report_kinds": sorted(tier.report_kinds),
            "report_cadence": tier.cadence.lower(),
            "hipaa_pack": tier.hipaa_pack,
            "qbr": tier.qbr,
            "exposure_monitoring": tier.exposure_monitoring,
            "exposure_response_hours": tier.exposure_response_hours,
            "support_response_hours": tier.support_response_hours,
        }

    def get_url(self, obj: Client) -> str:
        return f"/clients/{obj.slug}/"

    def get_api_url(self, obj: Client) -> str:
        return f"/clients/{obj.slug}/api/v1/"
