"""Evidence is read-only in the admin: it is written by apprentices through the portal's services."""

from django.contrib import admin

from .models import EvidenceFile, EvidenceItem, EvidenceVersion


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class VersionInline(admin.TabularInline):
    model = EvidenceVersion
    fields = ["number", "title", "evidence_type", "activity_date", "submitted_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(EvidenceItem)
class EvidenceItemAdmin(ReadOnlyAdmin):
    list_display = ["pk", "apprenticeship", "status", "updated_at"]
    list_filter = ["status"]
    list_select_related = ["apprenticeship__apprentice", "apprenticeship__standard"]
    inlines = [VersionInline]


@admin.register(EvidenceFile)
class EvidenceFileAdmin(ReadOnlyAdmin):
    list_display = ["original_name", "content_type", "size", "sha256", "uploaded_at"]
    search_fields = ["original_name", "sha256"]
