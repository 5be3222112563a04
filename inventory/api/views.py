"""Inventory API under /clients/<slug>/api/v1/ (thin: selectors in, services out)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from common import strictjson
from common.api import UUID_PATTERN
from common.limits import TEXT_MAX_LENGTH
from tenants.permissions import Capability, current_client

from .. import selectors, services
from ..choices import AssetSource, DiscoveryRunSource
from ..filters import (
    AssetFilterSet,
    DiscoveryRunFilterSet,
    SnapshotFilterSet,
    SoftwareFilterSet,
    UnknownDeviceFilterSet,
)
from ..models import DiscoverySchedule
from ..payload import PayloadError
from .serializers import (
    AdoptSerializer,
    AssetDetailSerializer,
    AssetEditSerializer,
    AssetSerializer,
    BulkTagSerializer,
    DiscoveryRunSerializer,
    DiscoveryScheduleSerializer,
    DismissSerializer,
    SnapshotSerializer,
    SoftwareChangeSerializer,
    SoftwarePolicySerializer,
    SoftwareSerializer,
    UnknownDeviceSerializer,
)

EXAMPLE_PAYLOAD = {
    "agent_id": "6f1c2f0e-1b7a-4d0b-9a55-2f1f7c7d9a10",
    "collected_at": "2026-03-02T08:00:00Z",
    "system_info": {
        "hostname": "FRONTDESK-01",
        "uuid": "4C4C4544-0042-3510-8052-B7C04F4E3732",
        "hardware_serial": "7B5RXY2",
        "hardware_vendor": "Dell Inc.",
        "hardware_model": "OptiPlex 7010",
    },
    "os_version": {
        "name": "Microsoft Windows 11 Pro",
        "version": "10.0.22631",
        "build": "22631",
        "platform": "windows",
        "arch": "64-bit",
    },
    "interface_addresses": [{"interface": "Ethernet", "address": "10.20.1.31", "mask": "24"}],
    "interface_details": [{"interface": "Ethernet", "mac": "00:1a:2b:3c:4d:5e"}],
    "programs": [
        {
            "name": "Google Chrome",
            "version": "124.0.6367.91",
            "publisher": "Google LLC",
            "install_date": "20240502",
        },
        {"name": "Adobe Acrobat Reader", "version": "24.002.20687", "publisher": "Adobe"},
    ],
    "patches": [
        {
            "hotfix_id": "KB5036893",
            "description": "Security Update",
            "installed_on": "4/10/2024",
            "installed_by": "NT AUTHORITY\\SYSTEM",
        }
    ],
    "pending_updates": [
        {
            "name": "2024-05 Cumulative Update for Windows 11 Version 23H2 for x64 (KB5037771)",
            "source": "windows_update",
            "advisory": "KB5037771",
            "cves": ["CVE-2024-30051", "CVE-2024-30040"],
            "severity": "critical",
            "reboot_required": True,
        }
    ],
    "os_install_records": [
        {
            "source": "windows_update",
            "record_id": "48213",
            "occurred_at": "2024-04-10T03:12:45Z",
            "outcome": "installed",
            "name": "2024-04 Cumulative Update for Windows 11 Version 23H2 for x64 (KB5036893)",
            "version": "1",
            "kb": "KB5036893",
            "detail": "",
        }
    ],
}

IngestResultSerializer = inline_serializer(
    "DiscoveryResult",
    {
        "run": serializers.UUIDField(),
        "devices": serializers.IntegerField(),
        "assets_created": serializers.IntegerField(),
        "assets_updated": serializers.IntegerField(),
        "software_rows": serializers.IntegerField(),
        "software_added": serializers.IntegerField(),
        "software_removed": serializers.IntegerField(),
        "software_upgraded": serializers.IntegerField(),
        "pending_updates": serializers.IntegerField(),
        "findings_opened": serializers.IntegerField(),
        "findings_verified": serializers.IntegerField(),
        "os_records": serializers.IntegerField(
            help_text="OS install records the devices sent (os_install_records rows)"
        ),
        "os_records_new": serializers.IntegerField(
            help_text="Of those, records not stored before (a record is kept once)"
        ),
        "attributes_ignored": serializers.IntegerField(
            help_text="Devices whose patchops attributes were ignored: people set those"
        ),
    },
)

PayloadErrorSerializer = inline_serializer(
    "DiscoveryPayloadError",
    {
        "detail": serializers.CharField(),
        "errors": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    },
)


class DiscoveryView(APIView):
    """Agent push of discovery payloads (one device object or a list)."""

    capabilities = {"POST": Capability.PUSH_DISCOVERY}

    @extend_schema(
        operation_id="discovery_push",
        summary="Push discovery results",
        description=(
            "Body: one osquery-shaped device object, or a list of them. Keys follow osquery's "
            "tables (system_info, os_version, interface_addresses, interface_details, programs, "
            "patches, deb_packages, rpm_packages, apps, homebrew_packages) plus pending_updates. "
            "Unknown keys are ignored; a missing table means 'not collected'. A device reports "
            "what it knows about itself: its `patchops` attributes (ePHI, data flows, asset "
            "class, role, owner, site, location) are ignored, people set those. The whole body is "
            "validated first: any error answers 400 with field errors and nothing is stored. "
            "Bodies over DISCOVERY_MAX_BYTES answer 413. Needs an agent token of this client."
        ),
        request={"application/json": OpenApiTypes.OBJECT},
        examples=[OpenApiExample("Windows workstation", value=EXAMPLE_PAYLOAD, request_only=True)],
        responses={
            201: IngestResultSerializer,
            400: PayloadErrorSerializer,
            413: OpenApiResponse(description="Body larger than DISCOVERY_MAX_BYTES"),
        },
    )
    def post(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        limit = int(getattr(settings, "DISCOVERY_MAX_BYTES", 10 * 1024 * 1024))
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            return _too_large(limit)
        raw = request._request.read(limit + 1)
        if len(raw) > limit:
            return _too_large(limit)
        try:
            data = strictjson.loads(raw)
        except strictjson.InputError as exc:
            return _payload_error({"payload": [str(exc)]})
        try:
            run, summary = services.run_ingest(
                data=data,
                source=AssetSource.AGENT,
                run_source=DiscoveryRunSource.AGENT,
                source_name=getattr(request.user, "name", "") or "",
                fmt="osquery",
                actor=request.user,
                business_attributes=False,  # agents report, they don't decide
            )
        except PayloadError as exc:
            return _payload_error(exc.errors)
        # Agents report, they don't decide: say how many devices claimed business attributes.
        batch = data if isinstance(data, list) else [data]
        ignored = sum(1 for d in batch if isinstance(d, dict) and d.get("patchops"))
        return Response(
            {"run": str(run.uuid), **summary.as_counts(), "attributes_ignored": ignored},
            status=201,
        )


def _too_large(limit: int) -> Response:
    return Response(
        {"detail": f"The body is larger than {limit} bytes; send smaller batches."},
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


class PolicyReviewSerializer(serializers.Serializer):
    notes = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=TEXT_MAX_LENGTH
    )


def _payload_error(errors: dict[str, list[str]]) -> Response:
    return Response(
        {"detail": "The payload is invalid; nothing was stored.", "errors": errors},
        status=status.HTTP_400_BAD_REQUEST,
    )


class _ClientViewSet(viewsets.GenericViewSet):
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATTERN

    @property
    def client(self):
        return current_client(self.request)


class AssetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _ClientViewSet):
    """Assets of the client; PATCH sets their business attributes (class, role, owner, location,
    site, ePHI, data flows)."""

    filterset_class = AssetFilterSet
    search_fields = ["hostname", "os_name", "owner", "location", "hardware_serial"]
    ordering_fields = ["hostname", "last_seen", "first_seen", "os_family", "role"]
    capabilities = {"partial_update": Capability.OPERATE, "bulk_tag": Capability.OPERATE}
    http_method_names = ["get", "patch", "post", "head", "options"]

    def get_queryset(self):
        return selectors.visible_assets(self.request.user, self.client)

    def get_serializer_class(self):
        return AssetDetailSerializer if self.action == "retrieve" else AssetSerializer

    @extend_schema(
        request=AssetEditSerializer,
        responses=AssetSerializer,
        description=(
            "Set business attributes: asset_class (key), role, owner, location, site (name), "
            "is_ephi, data_flows. Each change is an asset.attributes_changed event with before "
            "and after; changing is_ephi, asset_class or role re-scores the asset's open "
            "findings in the same call (a class change moves due dates to the new SLA window "
            "unless already overdue). Write-scoped tokens and engineers; agent tokens cannot."
        ),
    )
    def partial_update(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        asset = self.get_object()
        body = AssetEditSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.update_asset_attributes(
                asset=asset, actor=request.user, values=dict(body.validated_data), source="api"
            )
        except DjangoValidationError as exc:
            raise ValidationError(
                exc.message_dict if hasattr(exc, "message_dict") else exc.messages
            ) from exc
        asset.refresh_from_db()
        return Response(AssetSerializer(asset, context=self.get_serializer_context()).data)

    @extend_schema(responses=SoftwareChangeSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def history(self, request: Any, uuid: str | None = None) -> Response:
        """Software installed, removed and upgraded on this asset (newest first, at most 200)."""
        asset = self.get_object()
        changes = selectors.asset_history(asset)
        return Response(SoftwareChangeSerializer(changes, many=True).data)

    @extend_schema(
        request=BulkTagSerializer,
        responses=inline_serializer(
            "BulkTagResult",
            {"matched": serializers.IntegerField(), "changed": serializers.IntegerField()},
        ),
    )
    @action(detail=False, methods=["post"], url_path="bulk-tag")
    def bulk_tag(self, request: Any) -> Response:
        body = BulkTagSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        wanted = set(body.validated_data["assets"])
        assets = list(self.get_queryset().filter(uuid__in=wanted))
        missing = wanted - {a.uuid for a in assets}
        if missing:
            raise ValidationError(
                {"assets": [f"Unknown asset(s): {', '.join(map(str, missing))}."]}
            )
        changed = services.tag_assets(
            assets=assets,
            actor=request.user,
            is_ephi=body.validated_data.get("is_ephi"),
            data_flows=body.validated_data.get("data_flows"),
        )
        return Response({"matched": len(assets), "changed": changed})


class SoftwareViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _ClientViewSet):
    """Installed software of the client's assets (Windows KBs are kind=hotfix)."""

    serializer_class = SoftwareSerializer
    filterset_class = SoftwareFilterSet
    search_fields = ["name", "vendor", "asset__hostname"]
    ordering_fields = ["name", "version", "category", "last_seen"]

    def get_queryset(self):
        return selectors.visible_software(self.request.user, self.client)


class UnknownDeviceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _ClientViewSet):
    """Hosts seen on network scans that match no managed asset; adopt or dismiss them."""

    serializer_class = UnknownDeviceSerializer
    filterset_class = UnknownDeviceFilterSet
    search_fields = ["ip", "mac", "mac_vendor", "hostnames"]
    ordering_fields = ["last_seen", "first_seen", "ip"]
    capabilities = {"adopt": Capability.OPERATE, "dismiss": Capability.OPERATE}

    def get_queryset(self):
        return selectors.visible_unknown_devices(self.request.user, self.client)

    @extend_schema(request=AdoptSerializer, responses={201: AssetSerializer})
    @action(detail=True, methods=["post"])
    def adopt(self, request: Any, uuid: str | None = None) -> Response:
        device = self.get_object()
        body = AdoptSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        asset = services.adopt_unknown_device(
            device=device, actor=request.user, **body.validated_data
        )
        return Response(
            AssetSerializer(asset, context=self.get_serializer_context()).data, status=201
        )

    @extend_schema(request=DismissSerializer, responses=UnknownDeviceSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Any, uuid: str | None = None) -> Response:
        device = self.get_object()
        body = DismissSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.dismiss_unknown_device(
            device=device, actor=request.user, reason=body.validated_data["reason"]
        )
        return Response(self.get_serializer(device).data)

    @extend_schema(
        responses=inline_serializer(
            "UnknownDeviceSummary",
            {
                "new": serializers.IntegerField(),
                "adopted": serializers.IntegerField(),
                "dismissed": serializers.IntegerField(),
                "top_vendors": serializers.ListField(child=serializers.DictField()),
                "last_seen": serializers.DateTimeField(allow_null=True),
            },
        )
    )
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def summary(self, request: Any) -> Response:
        self.get_queryset()  # permission already checked; keeps default-deny shape
        return Response(selectors.unknown_device_summary())


class DiscoveryRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, _ClientViewSet):
    serializer_class = DiscoveryRunSerializer
    filterset_class = DiscoveryRunFilterSet
    search_fields = ["source_name", "actor"]
    ordering_fields = ["started_at", "finished_at"]

    def get_queryset(self):
        return selectors.visible_discovery_runs(self.request.user, self.client)


class SnapshotViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, _ClientViewSet
):
    """Monthly (and on-demand) inventory exports, CSV and JSON, with their SHA-256."""

    serializer_class = SnapshotSerializer
    filterset_class = SnapshotFilterSet
    search_fields = ["created_by"]
    ordering_fields = ["created_at", "month"]
    updated_field = "created_at"  # a snapshot never changes once written
    capabilities = {"POST": Capability.OPERATE, "download": Capability.REPORTS}

    def get_queryset(self):
        return selectors.visible_snapshots(self.request.user, self.client)

    @extend_schema(request=None, responses={201: SnapshotSerializer})
    def create(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        snapshot = services.create_snapshot(client=self.client, actor=request.user)
        return Response(self.get_serializer(snapshot).data, status=201)

    @extend_schema(
        parameters=[OpenApiParameter("file", str, enum=["csv", "json"], default="csv")],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"])
    def download(self, request: Any, uuid: str | None = None) -> FileResponse:
        snapshot = self.get_object()
        kind = request.query_params.get("file", "csv")
        if kind not in ("csv", "json"):
            raise ValidationError({"file": ["Choose csv or json."]})
        stored = snapshot.csv_file if kind == "csv" else snapshot.json_file
        response = FileResponse(
            stored.open("rb"),
            as_attachment=True,
            filename=stored.name.rsplit("/", 1)[-1],
            content_type="text/csv" if kind == "csv" else "application/json",
        )
        response["X-Content-SHA256"] = (
            snapshot.csv_sha256 if kind == "csv" else snapshot.json_sha256
        )
        return response


class SoftwarePolicyViewSet(viewsets.ModelViewSet):
    """The client's supported / unsupported software list (glob name patterns)."""

    serializer_class = SoftwarePolicySerializer
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATTERN
    search_fields = ["name_pattern", "notes"]
    ordering_fields = ["name_pattern"]
    filterset_fields = ["is_supported"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    capabilities = {"review": Capability.OPERATE}

    def get_queryset(self):
        return selectors.visible_software_policies(self.request.user, current_client(self.request))

    @extend_schema(
        request=PolicyReviewSerializer,
        responses=inline_serializer(
            "PolicyReviewResult",
            {"reviewed_on": serializers.DateField(), "next_review_due": serializers.DateField()},
        ),
    )
    @action(detail=False, methods=["post"])
    def review(self, request: Any) -> Response:
        body = PolicyReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review = services.record_policy_review(
            actor=request.user, notes=body.validated_data["notes"]
        )
        return Response(
            {"reviewed_on": review.reviewed_on, "next_review_due": review.next_review_due},
            status=201,
        )


class DiscoveryScheduleView(APIView):
    """When the client's scheduled discovery runs (cadence comes from the client settings)."""

    capabilities = {"GET": Capability.VIEW, "PATCH": Capability.ADMINISTER}

    def _context(self, request: Any) -> dict:
        return {"request": request, "client": current_client(request)}

    @extend_schema(responses=DiscoveryScheduleSerializer)
    def get(self, request: Any) -> Response:
        schedule = DiscoverySchedule.current()
        return Response(DiscoveryScheduleSerializer(schedule, context=self._context(request)).data)

    @extend_schema(request=DiscoveryScheduleSerializer, responses=DiscoveryScheduleSerializer)
    def patch(self, request: Any) -> Response:
        schedule = DiscoverySchedule.current()
        body = DiscoveryScheduleSerializer(
            schedule, data=request.data, partial=True, context=self._context(request)
        )
        body.is_valid(raise_exception=True)
        services.update_discovery_schedule(
            schedule=schedule, actor=request.user, **body.validated_data
        )
        schedule.refresh_from_db()
        return Response(DiscoveryScheduleSerializer(schedule, context=self._context(request)).data)


ScopeSerializer = inline_serializer(
    "ScopeReport",
    {
        "os_families": serializers.ListField(child=serializers.DictField()),
        "categories": serializers.ListField(child=serializers.DictField()),
        "without_patch_source": serializers.ListField(child=serializers.DictField()),
        "without_patch_source_count": serializers.IntegerField(),
        "policies": serializers.ListField(child=serializers.DictField()),
        "unlisted_products": serializers.ListField(child=serializers.DictField()),
        "last_review": serializers.DateField(allow_null=True),
        "next_review_due": serializers.DateField(allow_null=True),
        "review_overdue": serializers.BooleanField(),
    },
)


class ScopeView(APIView):
    """Scope validation: coverage by OS family and third-party category, assets with no patch
    source, and the supported/unsupported list with its quarterly review."""

    @extend_schema(responses=ScopeSerializer)
    def get(self, request: Any) -> Response:
        client = current_client(request)
        return Response(asdict(selectors.scope_report(today=_local_today(client))))


def _local_today(client):
    from django.utils import timezone

    return timezone.localtime(timezone.now(), client.tz).date()


__all__ = [
    "DiscoveryView",
    "AssetViewSet",
    "SoftwareViewSet",
    "UnknownDeviceViewSet",
    "DiscoveryRunViewSet",
    "SnapshotViewSet",
    "SoftwarePolicyViewSet",
    "ScopeView",
]
