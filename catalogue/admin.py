"""Read-mostly admin for the catalogue: rows come from imports, not from hand edits."""

from django.contrib import admin

from .models import Advisory, AdvisoryFix, CatalogueImport, EpssScore, KevEntry, Vulnerability


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Vulnerability)
class VulnerabilityAdmin(ReadOnlyAdmin):
    list_display = [
        "cve_id",
        "cvss3_score",
        "cvss4_score",
        "cvss_severity",
        "vendor_severity",
        "nvd_status",
        "ssvc_exploitation",
    ]
    list_filter = ["cvss_severity", "vendor_severity", "nvd_status", "ssvc_exploitation"]
    search_fields = ["cve_id", "description"]


class AdvisoryFixInline(admin.TabularInline):
    model = AdvisoryFix
    extra = 0
    can_delete = False
    fields = ["product", "package_name", "release", "fixed_version", "supersedes", "is_hotpatch"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Advisory)
class AdvisoryAdmin(ReadOnlyAdmin):
    list_display = ["identifier", "source", "release_date", "vendor_severity", "reboot_required"]
    list_filter = ["source", "vendor_severity", "os_family", "reboot_required"]
    search_fields = ["identifier", "title", "cves"]
    inlines = [AdvisoryFixInline]


@admin.register(AdvisoryFix)
class AdvisoryFixAdmin(ReadOnlyAdmin):
    list_display = ["advisory", "product", "package_name", "fixed_version", "is_hotpatch"]
    list_filter = ["ecosystem", "os_family", "is_hotpatch"]
    search_fields = ["advisory__identifier", "product", "package_name"]
    list_select_related = ["advisory"]


@admin.register(KevEntry)
class KevEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "cve_id",
        "vendor",
        "product",
        "date_added",
        "due_date",
        "known_ransomware",
        "is_overdue_on_add",
    ]
    list_filter = ["known_ransomware", "is_overdue_on_add"]
    search_fields = ["cve_id", "vendor", "product", "name"]
    date_hierarchy = "date_added"


@admin.register(EpssScore)
class EpssScoreAdmin(ReadOnlyAdmin):
    list_display = ["cve_id", "score", "percentile", "score_date", "model_version"]
    search_fields = ["cve_id"]


@admin.register(CatalogueImport)
class CatalogueImportAdmin(ReadOnlyAdmin):
    list_display = [
        "kind",
        "file_name",
        "status",
        "created",
        "updated",
        "unchanged",
        "started_at",
        "finished_at",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["file_name", "source_url", "sha256"]
