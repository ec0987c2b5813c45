from django.contrib import admin

from .models import KSB, AlignedQualification, Duty, Standard, StandardOption


class KSBInline(admin.TabularInline):
    model = KSB
    fields = ["kind", "number", "text", "external_id"]
    extra = 0


class OptionInline(admin.TabularInline):
    model = StandardOption
    fields = ["number", "title", "external_id"]
    extra = 0


@admin.register(Standard)
class StandardAdmin(admin.ModelAdmin):
    list_display = ["reference", "version", "title", "level", "route", "lars_code", "status", "date_updated"]
    list_filter = ["level", "route", "regulated", "status"]
    search_fields = ["reference", "title"]
    inlines = [OptionInline, KSBInline]


@admin.register(Duty)
class DutyAdmin(admin.ModelAdmin):
    list_display = ["number", "standard", "text", "is_core"]
    list_filter = ["standard"]
    search_fields = ["text"]
    list_select_related = ["standard"]
    filter_horizontal = ["ksbs", "options"]


@admin.register(KSB)
class KSBAdmin(admin.ModelAdmin):
    list_display = ["code", "standard", "text"]
    list_filter = ["kind", "standard"]
    search_fields = ["text"]
    list_select_related = ["standard"]


@admin.register(AlignedQualification)
class AlignedQualificationAdmin(admin.ModelAdmin):
    list_display = ["title", "qualification_type", "level", "awarding_body", "approval_date"]
    filter_horizontal = ["standards"]
