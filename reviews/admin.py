"""Judgements are read-only in the admin: they are made in the portal, through its services."""

from django.contrib import admin

from evidence.admin import ReadOnlyAdmin

from .models import Decision, IQAReview, SignOff


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ["version", "outcome", "assessor", "decided_at"]
    list_filter = ["outcome"]
    list_select_related = ["version", "assessor"]


@admin.register(SignOff)
class SignOffAdmin(ReadOnlyAdmin):
    list_display = ["ksb", "apprenticeship", "signed_by", "signed_at", "revoked_at"]
    list_select_related = ["ksb", "apprenticeship__apprentice", "signed_by"]


@admin.register(IQAReview)
class IQAReviewAdmin(ReadOnlyAdmin):
    list_display = ["reviewer", "outcome", "decision", "sign_off", "created_at"]
    list_filter = ["outcome"]
