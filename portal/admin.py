from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django_otp.admin import OTPAdminSite
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import Apprenticeship, AuditEntry, Organisation, User

# The admin site asks for a second factor as well as the password. A staff member whose session
# has not passed one is treated as not staff there: /admin/ shows the sign-in form with a code field.
# The class of the default site is swapped, rather than a new site made, so that every app's
# admin registrations and the `admin:` URL names stay as they are.
admin.site.__class__ = OTPAdminSite


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "ukprn"]
    list_filter = ["kind"]
    search_fields = ["name", "ukprn"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "role", "organisation", "is_active"]
    list_filter = ["role", "organisation", "is_active", "is_staff"]
    list_select_related = ["organisation"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["first_name", "last_name", "role", "organisation"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]}),
        ("Person", {"fields": ["first_name", "last_name", "role", "organisation"]}),
    ]


@admin.register(Apprenticeship)
class ApprenticeshipAdmin(admin.ModelAdmin):
    list_display = ["apprentice", "standard", "provider", "employer", "assessor", "status", "start_date"]
    list_filter = ["status", "provider", "standard"]
    list_select_related = ["apprentice", "standard", "provider", "employer", "assessor"]
    search_fields = ["apprentice__email", "apprentice__first_name", "apprentice__last_name"]
    autocomplete_fields = ["apprentice", "assessor", "mentor"]
    date_hierarchy = "start_date"


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Readable by site administrators; nobody changes or deletes an entry."""

    list_display = ["sequence", "created_at", "action", "actor", "apprenticeship"]
    list_filter = ["action"]
    list_select_related = ["actor", "apprenticeship__apprentice"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# django-otp registers its own admin for authenticator apps, which only superusers could use.
admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class StaffTOTPDeviceAdmin(TOTPDeviceAdmin):
    """Every staff member adds and removes their own authenticator apps; superusers manage everyone's.

    Without this a staff member would need model permissions that would also show them everyone
    else's secret keys.
    """

    @staticmethod
    def _is_staff(request) -> bool:
        return request.user.is_active and request.user.is_staff

    def _may_touch(self, request, obj) -> bool:
        return self._is_staff(request) and (request.user.is_superuser or obj is None or obj.user_id == request.user.pk)

    def has_module_permission(self, request):
        return self._is_staff(request)

    def has_view_permission(self, request, obj=None):
        return self._may_touch(request, obj)

    def has_add_permission(self, request):
        return self._is_staff(request)

    def has_change_permission(self, request, obj=None):
        return self._may_touch(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may_touch(request, obj)

    def get_queryset(self, request):
        devices = super().get_queryset(request)
        return devices if request.user.is_superuser else devices.filter(user=request.user)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        # The device is always their own, and resetting the throttle would undo the guessing limit.
        return [*fields, "user", "throttling_failure_timestamp", "throttling_failure_count"]

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            obj.user = request.user
        super().save_model(request, obj, form, change)
