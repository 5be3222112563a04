from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit log is read here, never written: rows come only from ``accounts.audit``."""

    list_display = ["occurred_at", "kind", "actor_label", "client", "target", "ip_address"]
    list_filter = ["kind"]
    search_fields = ["actor_label", "target"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
