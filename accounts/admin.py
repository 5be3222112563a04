from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants.admin import UserAdmin as TenantsUserAdmin
from tenants.models import ApiToken, User

from . import lockout, people, tokens
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


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(TenantsUserAdmin):
    """The users' admin with the offboarding action (it ends sessions and revokes tokens)."""

    actions = ["deactivate"]

    @admin.action(description="Deactivate: end their sessions and revoke their API tokens")
    def deactivate(self, request, queryset):
        done = []
        for user in queryset:
            try:
                people.deactivate_user(user=user, actor=request.user, request=request)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.WARNING)
            else:
                done.append(user.email)
        if done:
            self.message_user(request, f"Deactivated: {', '.join(done)}.", messages.SUCCESS)


@admin.register(AccessAttempt)
class SignInLockoutAdmin(admin.ModelAdmin):
    """Failed sign-ins counted by the lockout (accounts.lockout); MSP admins lift them here."""

    list_display = ["username", "ip_address", "failures_since_start", "attempt_time", "locked"]
    search_fields = ["username", "ip_address"]
    fields = ["username", "ip_address", "user_agent", "failures_since_start", "attempt_time"]
    readonly_fields = fields
    actions = ["lift_lockout"]

    @admin.display(boolean=True, description="locked")
    def locked(self, obj: AccessAttempt) -> bool:
        return obj.failures_since_start >= settings.LOGIN_FAILURE_LIMIT

    @admin.action(description="Lift the selected lockouts")
    def lift_lockout(self, request, queryset):
        cleared = 0
        for username, ip in queryset.values_list("username", "ip_address").distinct():
            cleared += lockout.unlock(
                username=username, ip_address=ip, actor=request.user, request=request
            )
        self.message_user(request, f"Lockout lifted ({cleared} record(s) cleared).")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Lifting goes through the action, which records who lifted it.
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are read here and revoked with the action (recorded); nothing else about a token
    changes after it was issued, and a revoked one stays revoked."""

    list_display = [
        "name",
        "client",
        "scope",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["scope", "client"]
    search_fields = ["name", "key_id"]
    fields = [
        "name",
        "client",
        "scope",
        "created_by",
        "key_id",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = fields
    actions = ["revoke_tokens"]

    @admin.action(description="Revoke the selected tokens (for good)")
    def revoke_tokens(self, request, queryset):
        revoked = sum(
            tokens.revoke_token(token=token, actor=request.user, request=request)
            for token in queryset.select_related("client")
        )
        self.message_user(request, f"{revoked} token(s) revoked.")

    def has_add_permission(self, request):
        # Tokens are shown once at creation: the client's API tokens page or manage.py tokens.
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
