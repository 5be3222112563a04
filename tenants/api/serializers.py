from rest_framework import serializers

from tenants.models import Client


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

    class Meta:
        model = Client
        fields = [
            "id",
            "slug",
            "name",
            "timezone",
            "is_hipaa",
            "url",
            "api_url",
            "created_at",
            "updated_at",
        ]
        brief_fields = ["id", "slug", "name"]

    def get_url(self, obj: Client) -> str:
        return f"/clients/{obj.slug}/"

    def get_api_url(self, obj: Client) -> str:
        return f"/clients/{obj.slug}/api/v1/"
