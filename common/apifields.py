"""API serializer fields with the bounds every request value needs."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers


class BoundedSlugRelatedField(serializers.SlugRelatedField):
    """A slug-addressed relation whose slug is refused beyond ``max_length`` characters before
    the database is asked (the OpenAPI document says so too)."""

    default_error_messages = {
        **serializers.SlugRelatedField.default_error_messages,
        "max_length": "Ensure this field has no more than {max_length} characters.",
    }

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class BoundedSlugRelatedFieldExtension(OpenApiSerializerFieldExtension):
    target_class = BoundedSlugRelatedField

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {"type": "string", "maxLength": self.target.max_length}
