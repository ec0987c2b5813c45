"""The IQA's review of a decision or sign-off. The rules (who, and why a disagreement) live in the service."""

from __future__ import annotations

from django import forms

from .models import IQAReview


class IQAReviewForm(forms.Form):
    outcome = forms.ChoiceField(
        label="Do you agree with the assessor?",
        choices=IQAReview.Outcome.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose agree or disagree."},
    )
    comment = forms.CharField(
        label="Comment",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Needed when you disagree: say why, so the assessor can act on it.",
    )
