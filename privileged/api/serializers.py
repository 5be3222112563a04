"""API representation of the register. There is no secret field and a payload naming one is
refused (400, nothing saved)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from common.limits import TEXT_MAX_LENGTH
from inventory.models import Asset
from tenants.api.serializers import BriefMixin
from tenants.permissions import current_client

from .. import services
from ..choices import AccountKind, Holder, MfaState
from ..models import (
    OffboardingChecklist,
    OffboardingItem,
    PrivilegedAccount,
    PrivilegedAccountIssue,
)


def _raise(error: DjangoValidationError) -> None:
    raise serializers.ValidationError(
        error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages}
    ) from error


class SecretFreeMixin:
    """Refuses any input field named like a secret, before anything else is looked at."""

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "keys"):
            try:
                services.reject_secrets(data.keys())
            except DjangoValidationError as error:
                _raise(error)
        return super().to_internal_value(data)


class AssetUuidField(serializers.SlugRelatedField):
    default_error_messages = {
        "does_not_exist": "No system of this client has the id {value}.",
        "invalid": "A system is given by its asset id (a UUID).",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="uuid", queryset=Asset.objects.all(), **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        try:
            return self.get_queryset().get(uuid=data)
        except Asset.DoesNotExist:
            self.fail("does_not_exist", value=str(data))
        except (TypeError, ValueError, DjangoValidationError):
            self.fail("invalid")


class PrivilegedAccountSerializer(SecretFreeMixin, BriefMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    kind = serializers.ChoiceField(choices=AccountKind.choices)
    held_by = serializers.ChoiceField(choices=Holder.choices, required=False)
    mfa_state = serializers.ChoiceField(choices=MfaState.choices)
    mfa_covered = serializers.BooleanField(read_only=True)
    owner_user = serializers.EmailField(
        required=False,
        allow_null=True,
        help_text="E-mail of the client user who owns it (else give owner_name and owner_email).",
    )
    owner_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    owner_email = serializers.EmailField(required=False, allow_blank=True)
    known_by = serializers.ListField(child=serializers.EmailField(), required=False, max_length=200)
    systems = AssetUuidField(many=True, required=False)
    rotation_interval_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=services.MAX_INTERVAL_DAYS
    )
    review_interval_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=services.MAX_INTERVAL_DAYS
    )
    rotation_due_on = serializers.DateField(read_only=True, allow_null=True)
    review_due_on = serializers.DateField(read_only=True, allow_null=True)
    open_issues = serializers.SerializerMethodField()

    class Meta:
        model = PrivilegedAccount
        fields = [
            "id",
            "kind",
            "name",
            "identifier",
            "held_by",
            "owner_user",
            "owner_name",
            "owner_email",
            "known_by",
            "systems",
            "mfa_state",
            "mfa_reason",
            "mfa_covered",
            "last_rotated_on",
            "last_reviewed_on",
            "last_used_on",
            "rotation_interval_days",
            "review_interval_days",
            "rotate_after_use",
            "rotation_due_on",
            "review_due_on",
            "is_active",
            "open_issues",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["last_used_on", "is_active", "created_at", "updated_at"]
        brief_fields = ["id", "kind", "name", "identifier", "mfa_state", "is_active"]
        extra_kwargs = {"rotate_after_use": {"required": False}}

    def get_open_issues(self, obj: PrivilegedAccount) -> int:
        return sum(1 for i in obj.issues.all() if i.state == "open")

    def to_representation(self, instance: PrivilegedAccount) -> dict[str, Any]:
        data = super().to_representation(instance)
        if "owner_user" in data:
            data["owner_user"] = instance.owner_user.email if instance.owner_user else None
        return data

    def validate_owner_user(self, value: str | None) -> Any:
        if not value:
            return None
        client = current_client(self.context["request"])
        user = services.client_users(client).filter(email__iexact=value).first()
        if user is None:
            raise serializers.ValidationError("The owner must be a user of this client.")
        return user

    def _input(self, attrs: dict[str, Any], instance: PrivilegedAccount | None) -> Any:
        base = {}
        if instance is not None:
            base = {
                name: getattr(instance, name)
                for name in (
                    "kind", "name", "identifier", "held_by", "owner_user", "owner_name",
                    "owner_email", "known_by", "mfa_state", "mfa_reason", "last_rotated_on",
                    "last_reviewed_on", "rotation_interval_days", "review_interval_days",
                    "rotate_after_use", "notes",
                )
            }  # fmt: skip
            base["systems"] = list(instance.systems.all())
        base.update(attrs)
        base.setdefault("held_by", Holder.CLIENT)
        return services.AccountInput(**base)

    def create(self, validated_data: dict[str, Any]) -> PrivilegedAccount:
        request = self.context["request"]
        try:
            return services.create_account(
                client=current_client(request),
                actor=request.user,
                data=self._input(validated_data, None),
            )
        except DjangoValidationError as error:
            _raise(error)

    def update(self, instance: PrivilegedAccount, validated_data: dict[str, Any]) -> Any:
        request = self.context["request"]
        try:
            return services.update_account(
                client=current_client(request),
                account=instance,
                actor=request.user,
                data=self._input(validated_data, instance),
            )
        except DjangoValidationError as error:
            _raise(error)


class DatedActionSerializer(SecretFreeMixin, serializers.Serializer):
    on = serializers.DateField(required=False, help_text="Default: today (the client's time).")
    note = serializers.CharField(max_length=TEXT_MAX_LENGTH, required=False, allow_blank=True)


class ReasonSerializer(SecretFreeMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=TEXT_MAX_LENGTH)


class IssueSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    account = serializers.UUIDField(source="account.uuid", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)

    class Meta:
        model = PrivilegedAccountIssue
        fields = [
            "id",
            "account",
            "account_name",
            "kind",
            "due_on",
            "resolve_by",
            "state",
            "opened_at",
            "resolved_at",
            "resolution",
            "updated_at",
        ]
        read_only_fields = fields


class ItemSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    account = serializers.UUIDField(source="account.uuid", read_only=True, allow_null=True)
    account_name = serializers.CharField(source="account.name", read_only=True, allow_null=True)

    class Meta:
        model = OffboardingItem
        fields = ["id", "action", "account", "account_name", "done_at", "done_by_label", "note"]
        extra_kwargs = {"id": {"source": "uuid"}}
        read_only_fields = fields


class ChecklistSerializer(SecretFreeMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    items = ItemSerializer(many=True, read_only=True)

    class Meta:
        model = OffboardingChecklist
        fields = [
            "id",
            "person_email",
            "person_name",
            "source",
            "left_on",
            "started_by",
            "state",
            "created_at",
            "completed_at",
            "items",
            "updated_at",
        ]
        read_only_fields = ["source", "started_by", "state", "created_at", "completed_at"]
        extra_kwargs = {"person_name": {"required": False}, "left_on": {"required": False}}

    def create(self, validated_data: dict[str, Any]) -> OffboardingChecklist:
        request = self.context["request"]
        try:
            return services.start_offboarding(
                actor=request.user,
                email=validated_data["person_email"],
                name=validated_data.get("person_name", ""),
                left_on=validated_data.get("left_on"),
            )
        except DjangoValidationError as error:
            _raise(error)


class TickSerializer(SecretFreeMixin, serializers.Serializer):
    item = serializers.UUIDField(help_text="The item's id.")
    note = serializers.CharField(max_length=TEXT_MAX_LENGTH)
