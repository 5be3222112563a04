from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.core.exceptions import PermissionDenied, ValidationError

from tenants import services
from tenants.models import Client, Domain, Membership, User
from tenants.tiers import DEFAULT_PLAN


class ClientCreationForm(forms.ModelForm):
    class Meta:
        model = Client
        fields = ["slug", "name", "timezone", "is_hipaa", "plan"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].required = False  # the default plan unless one is chosen

    def clean(self):
        data = super().clean()
        data["plan"] = data.get("plan") or DEFAULT_PLAN
        if not self.errors:
            try:
                services.validate_new_client(
                    slug=data["slug"], name=data["name"], timezone_name=data["timezone"]
                )
            except ValidationError as exc:
                raise ValidationError(exc.message_dict) from exc
        return data


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "locale", "is_hipaa", "plan", "created_at"]
    search_fields = ["name", "slug"]
    filter_horizontal = ["account_managers"]

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(schema_name="public")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ClientCreationForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        # The viewers' second-factor requirement changes only on the client's sign-in security
        # page, where the change is audited and recorded in the client's evidence chain.
        return ["slug", "schema_name", "uuid", "require_mfa_for_viewers"] if obj else []

    def get_exclude(self, request, obj=None):
        return ["schema_name", "require_mfa_for_viewers"] if obj is None else []

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created = services.create_client(
            slug=obj.slug,
            name=obj.name,
            timezone_name=obj.timezone,
            is_hipaa=obj.is_hipaa,
            plan=obj.plan,
        )
        obj.pk = created.pk
        obj.schema_name = created.schema_name

    def has_delete_permission(self, request, obj=None):
        return False


def is_client_user(user: User | None) -> bool:
    """A user without a staff role: they join by invitation and own their password."""
    return user is not None and not user.staff_role and not user.is_superuser


class StaffCreationForm(AdminUserCreationForm):
    """The admin creates MSP staff only: client users join by invitation (People page)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "staff_role" in self.fields:
            self.fields["staff_role"].required = True
            self.fields["staff_role"].help_text = (
                "MSP staff only. Client users join through an invitation from their client's "
                "People page or manage.py invite_user."
            )


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """MSP staff are managed here. A client user's account is theirs: the admin shows it read
    only, with no password field and no password form (they reset their own by e-mail)."""

    add_form = StaffCreationForm
    ordering = ["email"]
    list_display = ["email", "full_name", "staff_role", "is_active"]
    list_filter = ["staff_role", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["full_name", "staff_role"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser"]}),
    ]
    client_user_fieldsets = [
        (None, {"fields": ["email", "full_name"]}),
        ("Access", {"fields": ["is_active", "last_login", "date_joined"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        if is_client_user(obj):
            return self.client_user_fieldsets
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if is_client_user(obj):
            return ["email", "full_name", "is_active", "last_login", "date_joined"]
        # Deactivation ends sessions and revokes tokens: the "Deactivate" action, not a checkbox.
        return ["is_active", "is_staff"] if obj is not None else []

    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, admin.utils.unquote(id))
        if is_client_user(user):
            raise PermissionDenied("A client user sets their own password.")
        return super().user_change_password(request, id, form_url)

    def has_delete_permission(self, request, obj=None):
        # Deactivate instead: signatures, approvals and evidence in client schemas name users.
        return False

    add_fieldsets = [
        (None, {"fields": ["email", "full_name", "staff_role", "password1", "password2"]})
    ]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Read only: people join a client by invitation and leave through its People page, so
    every change is in the client's evidence chain and told to its owners."""

    list_display = ["user", "client", "role", "created_at"]
    list_filter = ["role", "client"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(Domain)
admin.site.site_header = "PatchOps administration"
