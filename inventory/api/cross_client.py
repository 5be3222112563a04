"""``GET /api/v1/assets/``: every client's assets in one list (MSP-wide principals)."""

from __future__ import annotations

from rest_framework import serializers

from common.choices import OsFamily
from common.crossclient import UnionSpec
from tenants.api.crossclient import BoolParam, ChoiceParam, CrossClientListView

from ..models import Asset, AssetClass


class CrossClientAssetSerializer(serializers.Serializer):
    client = serializers.SlugField(help_text="The client's slug.")
    client_name = serializers.CharField()
    id = serializers.UUIDField()
    hostname = serializers.CharField()
    os_family = serializers.ChoiceField(choices=OsFamily.choices)
    os_name = serializers.CharField()
    role = serializers.CharField()
    asset_class = serializers.CharField(help_text="The asset class's key.")
    is_ephi = serializers.BooleanField()
    is_managed = serializers.BooleanField()
    is_stale = serializers.BooleanField()
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CrossClientAssetList(CrossClientListView):
    """Assets of every client the caller may see, each naming its client."""

    serializer_class = CrossClientAssetSerializer
    spec = UnionSpec(
        select=(
            "t.uuid AS id, t.hostname, t.os_family, t.os_name, t.role, c.key AS asset_class, "
            "t.is_ephi, t.is_managed, t.is_stale, t.first_seen, t.last_seen, t.updated_at"
        ),
        source=(
            f"{{s}}.{Asset._meta.db_table} t "
            f"LEFT JOIN {{s}}.{AssetClass._meta.db_table} c ON c.id = t.asset_class_id"
        ),
        columns=(
            "id",
            "hostname",
            "os_family",
            "os_name",
            "role",
            "asset_class",
            "is_ephi",
            "is_managed",
            "is_stale",
            "first_seen",
            "last_seen",
            "updated_at",
        ),
    )
    choice_params = (ChoiceParam("os_family", "t.os_family", tuple(OsFamily.values), "OS family."),)
    bool_params = (
        BoolParam("is_ephi", "t.is_ephi", "Holds or processes ePHI."),
        BoolParam("is_stale", "t.is_stale", "Not seen for the stale period."),
    )
    search_columns = ("t.hostname", "t.os_name")
    search_label = "hostname, os_name"
    orderings = ("updated_at", "hostname", "last_seen")
