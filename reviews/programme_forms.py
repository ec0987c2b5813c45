"""Forms for progress reviews and training plans. They check what was typed; the rules are the services'."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from portal.forms import validate_planned_end_date

from .models import Party, ProgressReview, TrainingPlan


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _text(label: str, *, required: bool = True, rows: int = 4, help_text: str = "", message: str = ""):
    return forms.CharField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows}),
        error_messages={"required": message} if message else None,
    )


class ProgressReviewForm(forms.Form):
    held_on = forms.DateField(
        label="Held on", widget=_date_input(), error_messages={"required": "Give the date the review was held."}
    )
    actions_since_last = _text(
        "Actions and training since the last review",
        message="Say what actions and training took place since the last review.",
    )
    progress_against_plan = _text(
        "Progress against the training plan",
        message="Say how the apprentice is progressing against the training plan.",
    )
    plan_updates = _text(
        "Updates to the training plan", required=False, rows=3, help_text="Leave empty when the plan stays as it is."
    )
    wellbeing = _text("Wellbeing", rows=3, message="Record how the apprentice is doing: their wellbeing and support.")
    concerns = _text("Concerns or changes of circumstance", required=False, rows=3)
    safeguarding_concern = forms.BooleanField(
        label="Raise a safeguarding concern",
        required=False,
        help_text="The provider's designated safeguarding lead is told at once. The details are seen by the "
        "provider's staff only: never by the apprentice, the employer or in the portfolio.",
    )
    safeguarding_details = _text("Safeguarding details", required=False, rows=4)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("safeguarding_concern") and not (data.get("safeguarding_details") or "").strip():
            self.add_error(
                "safeguarding_details",
                "Describe the safeguarding concern: the designated safeguarding lead needs the details.",
            )
        return data

    @staticmethod
    def initial_from(review: ProgressReview) -> dict:
        return {name: getattr(review, name) for name in ProgressReviewForm.base_fields}


class ActionForm(forms.Form):
    """One agreed next action. A row left wholly empty is ignored."""

    description = forms.CharField(label="Action", max_length=300, required=False)
    owner = forms.ChoiceField(label="Who", choices=[("", "—"), *Party.choices], required=False)
    due_on = forms.DateField(label="Due on", widget=_date_input(), required=False)

    def clean(self) -> dict:
        data = super().clean()
        if self.is_blank(data):
            return data
        if not (data.get("description") or "").strip():
            self.add_error("description", "Say what will be done.")
        if not data.get("owner"):
            self.add_error("owner", "Choose who does it.")
        if not data.get("due_on") and "due_on" not in self.errors:
            self.add_error("due_on", "Give the date it is due.")
        return data

    @staticmethod
    def is_blank(data: dict) -> bool:
        return not ((data.get("description") or "").strip() or data.get("owner") or data.get("due_on"))


class BaseActionFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        if not self.rows:
            raise ValidationError("Agree at least one next action: what will be done, by whom and by when.")

    @property
    def rows(self) -> list[tuple[str, str, object]]:
        """The filled-in rows as (description, owner, due on)."""
        return [
            (f.cleaned_data["description"].strip(), f.cleaned_data["owner"], f.cleaned_data["due_on"])
            for f in self.forms
            if hasattr(f, "cleaned_data") and not ActionForm.is_blank(f.cleaned_data)
        ]


ActionFormSet = forms.formset_factory(ActionForm, formset=BaseActionFormSet, extra=3, max_num=30, validate_max=True)


def action_formset(data=None, *, review: ProgressReview | None = None) -> BaseActionFormSet:
    """The next actions: the review's own, then three empty rows to add more."""
    initial = (
        [{"description": a.description, "owner": a.owner, "due_on": a.due_on} for a in review.actions.all()]
        if review
        else None
    )
    return ActionFormSet(data, initial=initial, prefix="actions")


class TrainingPlanForm(forms.Form):
    planned_otj_hours = forms.IntegerField(
        label="Planned off-the-job hours",
        min_value=1,
        max_value=10000,
        error_messages={"required": "Give the off-the-job hours planned over the whole apprenticeship."},
    )
    planned_end_date = forms.DateField(
        label="Planned end date",
        widget=_date_input(),
        validators=[validate_planned_end_date],
        help_text="Saving moves the apprenticeship's planned end date to this one, and the off-the-job "
        "requirement with it.",
        error_messages={"required": "Give the planned end date."},
    )
    epa_organisation = forms.CharField(
        label="End-point assessment organisation",
        max_length=200,
        error_messages={"required": "Name the end-point assessment organisation."},
    )
    english_status = forms.ChoiceField(label="English", choices=TrainingPlan.EnglishMaths.choices)
    english_evidence = forms.CharField(
        label="English evidence",
        max_length=300,
        required=False,
        help_text="Needed when achieved or exempt: the qualification and grade, and that the certificate was seen.",
    )
    maths_status = forms.ChoiceField(label="Maths", choices=TrainingPlan.EnglishMaths.choices)
    maths_evidence = forms.CharField(
        label="Maths evidence",
        max_length=300,
        required=False,
        help_text="Needed when achieved or exempt: the qualification and grade, and that the certificate was seen.",
    )
    text = _text(
        "The plan",
        rows=10,
        help_text="The training, who delivers it and when; how off-the-job hours will be made up.",
        message="Write the plan: the training, who delivers it and when.",
    )

    @staticmethod
    def initial_from(plan: TrainingPlan) -> dict:
        return {name: getattr(plan, name) for name in TrainingPlanForm.base_fields}
