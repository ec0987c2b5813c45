from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Apprenticeship, AuditEntry, Organisation, User


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
