from __future__ import annotations

from rest_framework import serializers

from ..models import FileUpload
from ..services import CATALOGUE_KINDS, INVENTORY_FORMATS, progress_of


class UploadSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    uploaded_by = serializers.CharField(source="uploaded_by_label", read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = FileUpload
        fields = [
            "id",
            "name",
            "kind",
            "hostname",
            "size",
            "sha256",
            "state",
            "progress",
            "summary",
            "result",
            "error",
            "uploaded_by",
            "uploaded_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_progress(self, upload: FileUpload) -> dict[str, int] | None:
        return progress_of(upload)


class InventoryUploadRequestSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=INVENTORY_FORMATS, required=False, allow_blank=True)
    hostname = serializers.CharField(required=False, allow_blank=True, max_length=255)


class CatalogueUploadRequestSerializer(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=CATALOGUE_KINDS)
