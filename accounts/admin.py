from django.contrib import admin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import AuditEvent

# Second factors belong to their owner alone: the admin neither shows a TOTP key or a recovery
# code nor adds a device for someone (which would let staff produce a client owner's codes).
for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


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
