from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError

from tenants import services
from tenants.models import Client, Domain, Membership, User


class ClientCreationForm(forms.ModelForm):
    class Meta:
        model = Client
        fields = ["slug", "name", "timezone", "is_hipaa"]

    def clean(self):
        data = super().clean()
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
    list_display = ["name", "slug", "timezone", "is_hipaa", "created_at"]
    search_fields = ["name", "slug"]
    filter_horizontal = ["account_managers"]

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(schema_name="public")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ClientCreationForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ["slug", "schema_name", "uuid"] if obj else []

    def get_exclude(self, request, obj=None):
        return ["schema_name"] if obj is None else []

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created = services.create_client(
            slug=obj.slug, name=obj.name, timezone_name=obj.timezone, is_hipaa=obj.is_hipaa
        )
        obj.pk = created.pk
        obj.schema_name = created.schema_name

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "staff_role", "is_active"]
    list_filter = ["staff_role", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["full_name", "staff_role"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser"]}),
    ]

    def has_delete_permission(self, request, obj=None):
        # Deactivate instead: signatures, approvals and evidence in client schemas name users.
        return False

    add_fieldsets = [
        (None, {"fields": ["email", "full_name", "staff_role", "password1", "password2"]})
    ]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "client", "role", "created_at"]
    list_filter = ["role", "client"]


admin.site.register(Domain)
admin.site.site_header = "PatchOps administration"
