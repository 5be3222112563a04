"""HTML pages of the inventory: assets, unknown devices, discovery runs, scope, snapshots."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.views.generic import TemplateView

from common.pagination import page_of
from tenants.permissions import Capability, ClientPageMixin

from . import hooks, selectors, services
from .choices import SoftwareCategory, SoftwareKind, UnknownDeviceState
from .filters import (
    AssetFilterSet,
    DiscoveryRunFilterSet,
    SoftwareFilterSet,
    UnknownDeviceFilterSet,
)
from .forms import (
    WEEKDAYS,
    AdoptForm,
    AssetEditForm,
    BulkTagForm,
    DismissForm,
    PolicyForm,
    ReviewForm,
    ScheduleForm,
)
from .listing import CsvExportMixin, Sorting, count_line
from .models import AssetClass, DiscoverySchedule, Site

PAGE_SIZE = 50
CATEGORY_COLORS = {
    SoftwareCategory.BROWSER: "blue",
    SoftwareCategory.PDF_TOOL: "orange",
    SoftwareCategory.REMOTE_ACCESS: "red",
    SoftwareCategory.JAVA: "orange",
    SoftwareCategory.LINE_OF_BUSINESS: "green",
}
RUN_STATUS_COLORS = {"succeeded": "green", "partial": "orange", "failed": "red", "running": "blue"}


def _error_text(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return " ".join(m for msgs in exc.message_dict.values() for m in msgs)
    return " ".join(exc.messages)


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _page(request: HttpRequest, qs: Any, size: int = PAGE_SIZE, param: str = "page") -> Any:
    return page_of(request, qs, size=size, param=param)


# ------------------------------------------------------------------------------------------
# Assets


# CSV exports of the list pages: header and row of each.

ASSET_CSV_HEADER = [
    "asset_id",
    "hostname",
    "os_family",
    "os_name",
    "os_version",
    "asset_class",
    "role",
    "ephi_system",
    "data_flows",
    "owner",
    "location",
    "site",
    "managed",
    "stale",
    "first_seen",
    "last_seen",
]


def _asset_csv_row(a: Any) -> list[Any]:
    return [
        str(a.uuid),
        a.hostname,
        a.os_family,
        a.os_name,
        a.os_version,
        a.asset_class.key,
        a.role,
        "yes" if a.is_ephi else "no",
        ";".join(a.data_flows),
        a.owner,
        a.location,
        a.site.name if a.site_id else "",
        "yes" if a.is_managed else "no",
        "yes" if a.is_stale else "no",
        a.first_seen.isoformat(),
        a.last_seen.isoformat(),
    ]


SOFTWARE_CSV_HEADER = [
    "asset_id",
    "hostname",
    "kind",
    "name",
    "version",
    "arch",
    "vendor",
    "category",
    "install_date",
    "first_seen",
    "last_seen",
]


def _software_csv_row(s: Any) -> list[Any]:
    return [
        str(s.asset.uuid),
        s.asset.hostname,
        s.kind,
        s.name,
        s.version,
        s.arch,
        s.vendor,
        s.category,
        s.install_date.isoformat() if s.install_date else "",
        s.first_seen.isoformat(),
        s.last_seen.isoformat(),
    ]


DEVICE_CSV_HEADER = [
    "device_id",
    "ip",
    "mac",
    "mac_vendor",
    "hostnames",
    "os_guesses",
    "state",
    "adopted_as",
    "decided_by",
    "first_seen",
    "last_seen",
]


def _device_csv_row(d: Any) -> list[Any]:
    return [
        str(d.uuid),
        d.ip or "",
        d.mac,
        d.mac_vendor,
        ";".join(d.hostnames),
        ";".join(str(g.get("name", "")) for g in d.os_guesses if isinstance(g, dict)),
        d.state,
        d.adopted_asset.hostname if d.adopted_asset_id else "",
        d.decided_by,
        d.first_seen.isoformat(),
        d.last_seen.isoformat(),
    ]


RUN_CSV_HEADER = [
    "run_id",
    "source",
    "source_name",
    "format",
    "actor",
    "status",
    "started_at",
    "finished_at",
    "counts",
    "errors",
]


def _run_csv_row(r: Any) -> list[Any]:
    return [
        str(r.uuid),
        r.source,
        r.source_name,
        r.format,
        r.actor,
        r.status,
        r.started_at.isoformat(),
        r.finished_at.isoformat() if r.finished_at else "",
        ";".join(f"{k}={v}" for k, v in r.counts.items()),
        len(r.errors),
    ]


class AssetListView(CsvExportMixin, ClientPageMixin, TemplateView):
    template_name = "inventory/asset_list.html"

    def required_capability(self, request: HttpRequest) -> Capability:
        return Capability.OPERATE if request.method == "POST" else Capability.VIEW

    sorting = Sorting(
        columns={
            "hostname": ("hostname",),
            "os": ("os_family", "os_name", "os_version"),
            "class": ("asset_class__name",),
            "role": ("role",),
            "ephi": ("is_ephi",),
            "owner": ("owner",),
            "location": ("location", "site__name"),
            "last_seen": ("last_seen",),
        },
        default="hostname",
    )

    def filtered(self) -> tuple[Any, Any, str]:
        """The filter set, the filtered and sorted assets, the chosen sort."""
        filterset = AssetFilterSet(
            self.request.GET or None,
            queryset=selectors.visible_assets(self.request.user, self.client),
        )
        form = filterset.form
        form.fields["asset_class"].widget = _class_select()
        form.fields["site"].widget = _site_select()
        for name in ("seen_after", "seen_before"):
            form.fields.pop(name, None)
        form.order_fields(
            ["q", "os_family", "role", "asset_class", "site", "is_ephi", "data_flow", "is_stale"]
        )
        qs = filterset.qs if filterset.is_bound and filterset.is_valid() else filterset.queryset
        qs, chosen = self.sorting.apply(qs, self.request)
        return filterset, qs, chosen

    csv_name = "assets"
    csv_header = ASSET_CSV_HEADER

    csv_row = staticmethod(_asset_csv_row)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filterset, qs, chosen = self.filtered()
        page = _page(self.request, qs)
        context.update(
            filterset=filterset,
            filter_errors=filterset.errors if filterset.is_bound else {},
            page_obj=page,
            assets=page.object_list,
            count_line=count_line(page, "assets" if page.paginator.count != 1 else "asset"),
            sort=self.sorting.links(self.request, chosen),
            export_query=_export_query(self.request),
            query=_query_without_page(self.request),
            bulk_form=kwargs.get("bulk_form") or BulkTagForm(),
            any_assets=selectors.visible_assets(self.request.user, self.client).exists()
            if not page.object_list
            else True,
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        visible = selectors.visible_assets(request.user, self.client)
        ids = request.POST.getlist("assets")
        form = BulkTagForm(request.POST, asset_ids=ids)
        back = request.POST.get("next") or ""
        target = f"{request.path}?{back}" if back and not back.startswith(("/", "http")) else None
        if not form.is_valid():
            for error in form.errors.get("__all__", []) + form.errors.get("assets", []):
                messages.error(request, error)
            for field in ("is_ephi", "data_flows"):
                for error in form.errors.get(field, []):
                    messages.error(request, f"{form.fields[field].label}: {error}")
            return redirect(target or request.path)
        try:
            assets = list(visible.filter(uuid__in=form.cleaned_data["assets"]))
        except ValidationError:
            assets = []
        if not assets:
            messages.error(request, "None of the selected assets exist.")
            return redirect(target or request.path)
        try:
            changed = services.tag_assets(
                assets=assets,
                actor=request.user,
                is_ephi=form.ephi_value,
                data_flows=form.flows_value,
            )
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(
                request,
                f"Tagged {changed} of {len(assets)} selected asset{'s' * (len(assets) != 1)}.",
            )
        return redirect(target or request.path)


def _export_query(request: HttpRequest) -> str:
    """The current filters and sort with ``export=csv`` (the export link of a list)."""
    query = request.GET.copy()
    query.pop("page", None)
    query["export"] = "csv"
    return query.urlencode()


def _choices_select(choices: list[tuple[str, str]]) -> Any:
    from django import forms

    return forms.Select(choices=[("", "Any"), *choices])


def _class_select() -> Any:
    return _choices_select(list(AssetClass.objects.values_list("key", "name")))


def _site_select() -> Any:
    return _choices_select([(n, n) for n in Site.objects.values_list("name", flat=True)])


class AssetDetailView(ClientPageMixin, TemplateView):
    template_name = "inventory/asset_detail.html"

    def required_capability(self, request: HttpRequest) -> Capability:
        return Capability.OPERATE if request.method == "POST" else Capability.VIEW

    def get_asset(self) -> Any:
        return get_object_or_404(
            selectors.visible_assets(self.request.user, self.client), uuid=self.kwargs["uuid"]
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        asset = kwargs.get("asset") or self.get_asset()
        software = asset.software.exclude(kind=SoftwareKind.HOTFIX).order_by("name", "pk")
        software_page = _page(self.request, software, param="page")
        for row in software_page.object_list:
            row.badge = CATEGORY_COLORS.get(row.category, "gray")
        context.update(
            asset=asset,
            software_page=software_page,
            software_total=software_page.paginator.count,
            hotfixes=asset.software.filter(kind=SoftwareKind.HOTFIX).order_by(
                "-install_date", "name"
            ),
            pending=asset.pending_updates.all(),
            history=selectors.asset_history(asset, limit=100),
            # The asset's findings, in working order (added by the findings app).
            **hooks.asset_page_context(asset=asset, at=timezone.now()),
            attribute_history=selectors.attribute_history(asset),
            edit_form=kwargs.get("edit_form") or AssetEditForm.for_asset(asset),
            adopted_from=asset.adopted_from.first(),
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        asset = self.get_asset()
        form = AssetEditForm.for_asset(asset, request.POST)
        if not form.is_valid():
            messages.error(request, "Nothing was saved; correct the form.")
            return self.render_to_response(
                self.get_context_data(asset=asset, edit_form=form), status=400
            )
        try:
            changes = services.update_asset_attributes(
                asset=asset, actor=request.user, values=form.values(), source="portal"
            )
        except ValidationError as exc:
            messages.error(request, f"Nothing was saved: {_error_text(exc)}")
            return self.render_to_response(
                self.get_context_data(asset=asset, edit_form=form), status=400
            )
        if changes:
            labels = ", ".join(selectors.ATTRIBUTE_LABELS[name] for name in changes)
            messages.success(request, f"Saved: {labels}.")
        else:
            messages.success(request, "Nothing changed.")
        return redirect(request.path)


# ------------------------------------------------------------------------------------------
# Installed software


class SoftwareListView(CsvExportMixin, ClientPageMixin, TemplateView):
    """Installed software across the client's assets (Windows KBs included, kind hotfix)."""

    template_name = "inventory/software_list.html"
    sorting = Sorting(
        columns={
            "name": ("name", "version"),
            "version": ("version",),
            "vendor": ("vendor",),
            "category": ("category",),
            "kind": ("kind",),
            "asset": ("asset__hostname",),
            "last_seen": ("last_seen",),
        },
        default="name",
    )

    def filtered(self) -> tuple[Any, Any, str]:
        filterset = SoftwareFilterSet(
            self.request.GET or None,
            queryset=selectors.visible_software(self.request.user, self.client),
        )
        filterset.form.fields.pop("asset", None)
        qs = filterset.qs if filterset.is_bound and filterset.is_valid() else filterset.queryset
        qs, chosen = self.sorting.apply(qs, self.request)
        return filterset, qs, chosen

    csv_name = "software"
    csv_header = SOFTWARE_CSV_HEADER

    csv_row = staticmethod(_software_csv_row)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filterset, qs, chosen = self.filtered()
        page = _page(self.request, qs)
        total = page.paginator.count
        for row in page.object_list:
            row.badge = CATEGORY_COLORS.get(row.category, "gray")
        context.update(
            filterset=filterset,
            filter_errors=filterset.errors if filterset.is_bound else {},
            page_obj=page,
            software=page.object_list,
            count_line=count_line(page, "software rows" if total != 1 else "software row"),
            sort=self.sorting.links(self.request, chosen),
            export_query=_export_query(self.request),
            query=_query_without_page(self.request),
        )
        return context


# ------------------------------------------------------------------------------------------
# Unknown devices


class UnknownDeviceListView(CsvExportMixin, ClientPageMixin, TemplateView):
    template_name = "inventory/unknowndevice_list.html"
    sorting = Sorting(
        columns={
            "ip": ("ip",),
            "mac": ("mac",),
            "vendor": ("mac_vendor",),
            "first_seen": ("first_seen",),
            "last_seen": ("last_seen",),
            "state": ("state",),
        },
        default="-last_seen",
    )

    def filtered(self) -> tuple[Any, Any, str]:
        params = self.request.GET.copy()
        if "state" not in params:
            params.setlist("state", [UnknownDeviceState.NEW])
        filterset = UnknownDeviceFilterSet(
            params, queryset=selectors.visible_unknown_devices(self.request.user, self.client)
        )
        filterset.form.fields.pop("seen_after", None)
        qs = filterset.qs if filterset.is_valid() else filterset.queryset.none()
        qs, chosen = self.sorting.apply(qs, self.request)
        return filterset, qs, chosen

    csv_name = "unknown-devices"
    csv_header = DEVICE_CSV_HEADER

    csv_row = staticmethod(_device_csv_row)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filterset, qs, chosen = self.filtered()
        page = _page(self.request, qs)
        total = page.paginator.count
        context.update(
            filterset=filterset,
            filter_errors=filterset.errors,
            page_obj=page,
            devices=page.object_list,
            count_line=count_line(page, "devices" if total != 1 else "device"),
            sort=self.sorting.links(self.request, chosen),
            export_query=_export_query(self.request),
            query=_query_without_page(self.request),
            summary=selectors.unknown_device_summary(),
            adopt_form=AdoptForm(),
            dismiss_form=DismissForm(),
        )
        return context


class UnknownDeviceActionView(ClientPageMixin, TemplateView):
    """POST only: adopt or dismiss one new unknown device."""

    capability = Capability.OPERATE
    action: str = ""
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        device = get_object_or_404(
            selectors.visible_unknown_devices(request.user, self.client), uuid=kwargs["uuid"]
        )
        back = "../../"
        if self.action == "dismiss":
            form = DismissForm(request.POST)
            if not form.is_valid():
                messages.error(
                    request, f"{device.display_name} was not dismissed: {form.errors['reason'][0]}"
                )
                return redirect(back)
            try:
                services.dismiss_unknown_device(
                    device=device, actor=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as exc:
                messages.error(request, _error_text(exc))
            else:
                messages.success(request, f"{device.display_name} dismissed.")
            return redirect(back)
        form = AdoptForm(request.POST)
        if not form.is_valid():
            errors = "; ".join(f"{k}: {v[0]}" for k, v in form.errors.items())
            messages.error(request, f"{device.display_name} was not adopted: {errors}")
            return redirect(back)
        try:
            asset = services.adopt_unknown_device(
                device=device,
                actor=request.user,
                hostname=form.cleaned_data["hostname"],
                asset_class=form.cleaned_data["asset_class"],
                role=form.cleaned_data["role"],
                os_family=form.cleaned_data["os_family"],
            )
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
            return redirect(back)
        site = form.cleaned_data.get("site")
        if site is not None:
            # The adopt service has no site argument yet; the site is a plain attribute.
            type(asset).objects.filter(pk=asset.pk).update(site=site)
        messages.success(request, f"{device.display_name} adopted as {asset.hostname}.")
        return redirect(f"../../../assets/{asset.uuid}/")


# ------------------------------------------------------------------------------------------
# Discovery runs and schedule


class DiscoveryRunListView(CsvExportMixin, ClientPageMixin, TemplateView):
    template_name = "inventory/discoveryrun_list.html"

    def required_capability(self, request: HttpRequest) -> Capability:
        return Capability.ADMINISTER if request.method == "POST" else Capability.VIEW

    sorting = Sorting(
        columns={
            "source": ("source", "source_name"),
            "started": ("started_at",),
            "finished": ("finished_at",),
            "status": ("status",),
        },
        default="-started",
    )

    def filtered(self) -> tuple[Any, Any, str]:
        filterset = DiscoveryRunFilterSet(
            self.request.GET or None,
            queryset=selectors.visible_discovery_runs(self.request.user, self.client),
        )
        for name in ("started_after", "started_before"):
            filterset.form.fields.pop(name, None)
        qs = filterset.qs if filterset.is_bound and filterset.is_valid() else filterset.queryset
        qs, chosen = self.sorting.apply(qs, self.request)
        return filterset, qs, chosen

    csv_name = "discovery-runs"
    csv_header = RUN_CSV_HEADER

    csv_row = staticmethod(_run_csv_row)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        filterset, qs, chosen = self.filtered()
        page = _page(self.request, qs)
        for run in page.object_list:
            run.badge = RUN_STATUS_COLORS.get(run.status, "gray")
        context.update(
            count_line=count_line(page, "runs" if page.paginator.count != 1 else "run"),
            sort=self.sorting.links(self.request, chosen),
            export_query=_export_query(self.request),
            filter_errors=filterset.errors if filterset.is_bound else {},
        )
        schedule = DiscoverySchedule.current()
        context.update(
            filterset=filterset,
            page_obj=page,
            runs=page.object_list,
            query=_query_without_page(self.request),
            schedule=schedule,
            weekday_name=dict(WEEKDAYS).get(schedule.weekday, ""),
            schedule_form=kwargs.get("schedule_form")
            or ScheduleForm(
                initial={
                    "local_hour": schedule.local_hour,
                    "weekday": schedule.weekday,
                    "is_enabled": schedule.is_enabled,
                }
            ),
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = ScheduleForm(request.POST)
        if not form.is_valid():
            messages.error(request, "The schedule was not saved; correct the form.")
            return self.render_to_response(self.get_context_data(schedule_form=form))
        try:
            services.update_discovery_schedule(
                schedule=DiscoverySchedule.current(), actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, "Discovery schedule saved.")
        return redirect(request.path)


# ------------------------------------------------------------------------------------------
# Scope validation and the supported/unsupported list


def _client_today(client: Any) -> Any:
    return timezone.localtime(timezone.now(), client.tz).date()


class ScopeView(ClientPageMixin, TemplateView):
    template_name = "inventory/scope.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            report=selectors.scope_report(today=_client_today(self.client)),
            policy_form=kwargs.get("policy_form") or PolicyForm(),
            review_form=ReviewForm(),
        )
        return context


class PolicyFormView(ClientPageMixin, TemplateView):
    """Add (no uuid) or edit one row of the supported/unsupported software list."""

    template_name = "inventory/softwarepolicy_form.html"
    capability = Capability.ADMINISTER

    def get_policy(self) -> Any:
        if "uuid" not in self.kwargs:
            return None
        return get_object_or_404(
            selectors.visible_software_policies(self.request.user, self.client),
            uuid=self.kwargs["uuid"],
        )

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        policy = self.get_policy()
        context.update(policy=policy, form=kwargs.get("form") or PolicyForm(instance=policy))
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        policy = self.get_policy()
        form = PolicyForm(request.POST, instance=policy)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        saved = form.save_recorded(actor=request.user)
        messages.success(request, f"“{saved.name_pattern}” saved.")
        return redirect("../" if policy is None else "../../")


class PolicyReviewView(ClientPageMixin, TemplateView):
    capability = Capability.ADMINISTER
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = ReviewForm(request.POST)
        if not form.is_valid():
            messages.error(request, "The review was not recorded; the notes are too long.")
            return redirect("../")
        review = services.record_policy_review(
            actor=request.user, notes=form.cleaned_data["notes"], on=_client_today(self.client)
        )
        messages.success(
            request, f"Review recorded; the next one is due {review.next_review_due:%Y-%m-%d}."
        )
        return redirect("../")


# ------------------------------------------------------------------------------------------
# Snapshots


class SnapshotListView(ClientPageMixin, TemplateView):
    template_name = "inventory/snapshot_list.html"

    def required_capability(self, request: HttpRequest) -> Capability:
        return Capability.OPERATE if request.method == "POST" else Capability.VIEW

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = _page(
            self.request, selectors.visible_snapshots(self.request.user, self.client), size=24
        )
        total = page.paginator.count
        context.update(
            page_obj=page,
            snapshots=page.object_list,
            count_line=count_line(page, "snapshots" if total != 1 else "snapshot"),
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        snapshot = services.create_snapshot(client=self.client, actor=request.user)
        messages.success(
            request,
            f"Snapshot taken: {snapshot.asset_count} asset{pluralize(snapshot.asset_count)}, "
            f"{snapshot.software_count} software row{pluralize(snapshot.software_count)}.",
        )
        return redirect(request.path)


class SnapshotDownloadView(ClientPageMixin, TemplateView):
    capability = Capability.REPORTS

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> FileResponse:
        snapshot = get_object_or_404(
            selectors.visible_snapshots(request.user, self.client), uuid=kwargs["uuid"]
        )
        kind = kwargs["kind"]
        if kind not in ("csv", "json"):
            raise Http404("Snapshots download as csv or json.")
        stored = snapshot.csv_file if kind == "csv" else snapshot.json_file
        try:
            handle = stored.open("rb")
        except (FileNotFoundError, ValueError) as exc:
            raise Http404("The snapshot file is missing.") from exc
        name = stored.name.rsplit("/", 1)[-1]
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=name,
            content_type="text/csv" if kind == "csv" else "application/json",
        )
        response["X-Content-SHA256"] = (
            snapshot.csv_sha256 if kind == "csv" else snapshot.json_sha256
        )
        return response
