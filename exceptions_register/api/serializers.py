"""API representation of exceptions. Field names are a contract PSA integrations rely on."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.limits import TEXT_MAX_LENGTH
from findings.models import Finding
from inventory.models import Asset
from tenants.api.serializers import BriefMixin
from tenants.models import User
from tenants.permissions import current_client

from .. import services
from ..choices import (
    ControlKind,
    ExceptionKind,
    ExceptionState,
    SignatureDecision,
    SignatureMethod,
)
from ..models import RiskException


class CompensatingControlSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ControlKind.choices)
    description = serializers.CharField(max_length=TEXT_MAX_LENGTH)


class RiskExceptionSerializer(BriefMixin, serializers.ModelSerializer):
    """Created straight into ``pending_signoff``: the approver signs in the portal, never here."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    kind = serializers.ChoiceField(choices=ExceptionKind.choices)
    state = serializers.ChoiceField(choices=ExceptionState.choices, read_only=True)
    assets = serializers.SlugRelatedField(
        many=True, slug_field="uuid", queryset=Asset.objects.all(), required=False
    )
    findings = serializers.SlugRelatedField(
        many=True, slug_field="uuid", queryset=Finding.objects.all(), required=False
    )
    compensating_controls = CompensatingControlSerializer(
        many=True, required=False, source="controls"
    )
    requested_by = serializers.CharField(source="requested_by_label", read_only=True)
    approver = serializers.EmailField(help_text="E-mail of the client owner who must sign.")
    signed_at = serializers.SerializerMethodField()
    signature_method = serializers.SerializerMethodField(
        help_text="How the owner signed: passkey (a WebAuthn assertion over the text), totp "
        "(a code from an authenticator app, the weaker method) or password (before second "
        "factors); null while unsigned."
    )
    supersedes = serializers.UUIDField(source="supersedes.uuid", read_only=True, allow_null=True)

    class Meta:
        model = RiskException
        fields = [
            "id",
            "kind",
            "state",
            "assets",
            "findings",
            "reason",
            "ticket_reference",
            "expires_at",
            "compensating_controls",
            "requested_by",
            "approver",
            "signed_at",
            "signature_method",
            "starts_at",
            "ended_at",
            "version",
            "supersedes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["starts_at", "ended_at", "version", "created_at"]
        brief_fields = ["id", "kind", "state", "ticket_reference", "expires_at"]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_signed_at(self, obj: RiskException) -> Any:
        signature = getattr(obj, "signature", None)
        if signature is None or signature.decision != SignatureDecision.SIGNED:
            return None
        return serializers.DateTimeField().to_representation(signature.signed_at)

    @extend_schema_field(serializers.ChoiceField(choices=SignatureMethod.choices, allow_null=True))
    def get_signature_method(self, obj: RiskException) -> Any:
        signature = getattr(obj, "signature", None)
        if signature is None or signature.decision != SignatureDecision.SIGNED:
            return None
        return signature.method

    def to_representation(self, instance: RiskException) -> dict[str, Any]:
        data = super().to_representation(instance)
        if "approver" in data:
            data["approver"] = instance.approver.email
        return data

    def validate_approver(self, value: str) -> User:
        # Only this client's owners are looked up: an address unknown here and an address of
        # someone who is no owner of this client get the same answer.
        client = current_client(self.context["request"])
        user = services.owner_by_email(client=client, email=value) if client else None
        if user is None:
            raise serializers.ValidationError(services.APPROVER_NOT_OWNER)
        return user

    def create(self, validated_data: dict[str, Any]) -> RiskException:
        request = self.context["request"]
        data = services.ExceptionInput(
            kind=validated_data["kind"],
            reason=validated_data.get("reason", ""),
            ticket_reference=validated_data.get("ticket_reference", ""),
            expires_at=validated_data.get("expires_at"),
            approver=validated_data["approver"],
            assets=validated_data.get("assets", []),
            findings=validated_data.get("findings", []),
            controls=[
                services.ControlInput(kind=c["kind"], description=c["description"])
                for c in validated_data.get("controls", [])
            ],
        )
        try:
            return services.request_exception(
                client=current_client(request), actor=request.user, data=data, submit=True
            )
        except DjangoValidationError as error:
            raise serializers.ValidationError(
                error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages}
            ) from error
