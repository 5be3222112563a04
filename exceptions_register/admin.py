"""Read-only admin: the register is changed through its services, never by hand."""

from django.contrib import admin

from .models import CompensatingControl, ExceptionReminder, RiskException, Signature


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ControlInline(admin.TabularInline):
    model = CompensatingControl
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RiskException)
class RiskExceptionAdmin(ReadOnlyAdmin):
    list_display = ["ticket_reference", "kind", "state", "version", "starts_at", "expires_at"]
    list_filter = ["state", "kind"]
    search_fields = ["ticket_reference", "reason"]
    inlines = [ControlInline]


@admin.register(Signature)
class SignatureAdmin(ReadOnlyAdmin):
    list_display = ["exception", "user_email", "decision", "signed_at", "ip_address"]


@admin.register(ExceptionReminder)
class ExceptionReminderAdmin(ReadOnlyAdmin):
    list_display = ["exception", "days_before", "sent_at"]
