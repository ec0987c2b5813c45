from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from standards.models import KSB

from .models import EvidenceFile, EvidenceItem, OTJActivity
from .uploads import ACCEPTED_SUMMARY, check_upload


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field; each is checked by content, and every problem is reported."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        uploads = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(uploads) > settings.MAX_FILES_PER_UPLOAD:
            raise ValidationError(
                f"Choose at most {settings.MAX_FILES_PER_UPLOAD} files at a time; you chose {len(uploads)}."
            )
        errors = []
        for upload in uploads:
            try:
                super().clean(upload, initial)
                check_upload(upload)
            except ValidationError as error:
                errors.extend(error.messages)
        if errors:
            raise ValidationError(errors)
        return uploads


class EvidenceForm(forms.Form):
    """The content of a draft: what happened, the reflection, files, and the KSBs it shows."""

    title = forms.CharField(max_length=200)
    activity_date = forms.DateField(
        label="Date of the activity", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    evidence_type = forms.ChoiceField(label="Type of evidence", choices=EvidenceItem.Type.choices)
    reflection = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What you did, what you learned, and what you would do differently next time.",
    )
    files = MultipleFileField(
        required=False,
        label="Add files",
        help_text=f"{ACCEPTED_SUMMARY}; up to {settings.MAX_UPLOAD_SIZE_MB} MB each.",
    )
    remove_files = forms.ModelMultipleChoiceField(
        queryset=EvidenceFile.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Remove files",
    )

    def __init__(self, *args, ksbs: list[KSB], current_files=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.ksbs = ksbs
        self.fields["remove_files"].queryset = EvidenceFile.objects.filter(pk__in=[f.pk for f in current_files])
        self.current_files = list(current_files)
        if not self.current_files:
            del self.fields["remove_files"]
        for ksb in ksbs:
            self.fields[f"ksb_{ksb.pk}"] = forms.BooleanField(required=False, label=ksb.code)
            self.fields[f"note_{ksb.pk}"] = forms.CharField(
                required=False, max_length=500, label=f"How this shows {ksb.code}"
            )

    def ksb_rows(self):
        """(ksb, tick box, note) for each KSB of the standard, for the mapping table."""
        return [(ksb, self[f"ksb_{ksb.pk}"], self[f"note_{ksb.pk}"]) for ksb in self.ksbs]

    def clean_activity_date(self):
        day = self.cleaned_data["activity_date"]
        # Evidence records something that happened; a date ahead is a slip of the keyboard (2062 for 2026).
        if day > timezone.localdate():
            raise forms.ValidationError("The activity cannot be in the future: give the day it took place.")
        return day

    def clean(self):
        cleaned = super().clean()
        for ksb in self.ksbs:
            if cleaned.get(f"note_{ksb.pk}", "").strip() and not cleaned.get(f"ksb_{ksb.pk}"):
                self.add_error(
                    f"ksb_{ksb.pk}", f"You wrote a note for {ksb.code}: tick it to map it, or clear the note."
                )
        return cleaned

    @property
    def mappings(self) -> dict[KSB, str]:
        return {
            ksb: self.cleaned_data.get(f"note_{ksb.pk}", "")
            for ksb in self.ksbs
            if self.cleaned_data.get(f"ksb_{ksb.pk}")
        }

    @property
    def content(self) -> dict:
        """The cleaned draft content, as the evidence services take it."""
        data = self.cleaned_data
        return {
            "title": data["title"],
            "activity_date": data["activity_date"],
            "evidence_type": data["evidence_type"],
            "reflection": data["reflection"],
            "mappings": self.mappings,
            "uploads": data["files"],
        }

    @staticmethod
    def initial_from(version) -> dict:
        initial = {
            "title": version.title,
            "activity_date": version.activity_date,
            "evidence_type": version.evidence_type,
            "reflection": version.reflection,
        }
        for mapping in version.mappings.all():
            initial[f"ksb_{mapping.ksb_id}"] = True
            initial[f"note_{mapping.ksb_id}"] = mapping.note
        return initial


class EvidenceFilterForm(forms.Form):
    q = forms.CharField(
        required=False, max_length=200, label="Search", widget=forms.TextInput(attrs={"type": "search"})
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *EvidenceItem.Status.choices])
    type = forms.ChoiceField(required=False, choices=[("", "Any type"), *EvidenceItem.Type.choices])
    ksb = forms.CharField(
        required=False, max_length=6, label="KSB", widget=forms.TextInput(attrs={"placeholder": "e.g. K1"})
    )

    def clean_ksb(self):
        code = self.cleaned_data["ksb"].strip()
        if not code:
            return None
        parsed = KSB.parse_code(code)
        if not parsed:
            raise ValidationError("Enter a KSB code such as K1, S18 or B1.")
        return parsed


# --- Off-the-job hours -------------------------------------------------------------------------


class OTJActivityForm(forms.Form):
    """An off-the-job entry.

    How long it took is asked as hours and minutes, so nobody has to turn 1 h 45 into 1.75.
    """

    date = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    hours = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=24,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={"invalid": "Enter the hours as a whole number, e.g. 2."},
    )
    minutes = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=59,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": 5}),
        error_messages={"invalid": "Enter the minutes as a whole number, e.g. 30."},
    )
    activity_type = forms.ChoiceField(label="Type of activity", choices=OTJActivity.Type.choices)
    description = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What you did and what it taught you.",
        error_messages={"required": "Say what the activity was and what it taught you."},
    )
    ksbs = forms.ModelMultipleChoiceField(
        label="KSBs it develops",
        queryset=KSB.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choose KSBs of this apprenticeship's standard only."},
    )
    evidence = forms.ModelChoiceField(
        label="Evidence it produced",
        queryset=EvidenceItem.objects.none(),
        required=False,
        empty_label="None",
        error_messages={"invalid_choice": "Choose an evidence item of this apprenticeship's portfolio."},
    )

    def __init__(self, *args, ksbs: list[KSB], evidence_items: list[EvidenceItem], **kwargs):
        super().__init__(*args, **kwargs)
        self.ksb_list = ksbs
        self.fields["ksbs"].queryset = KSB.objects.filter(pk__in=[k.pk for k in ksbs])
        self.fields["evidence"].queryset = EvidenceItem.objects.filter(pk__in=[i.pk for i in evidence_items])
        # Choices from the lists already loaded, so rendering costs no query; each item's `label` is
        # the title this person may read (the view sets it).
        self.fields["evidence"].choices = [("", "None"), *((i.pk, i.label) for i in evidence_items)]
        self.fields["ksbs"].choices = [(k.pk, k.code) for k in ksbs]

    def clean(self):
        cleaned = super().clean()
        hours, minutes = cleaned.get("hours"), cleaned.get("minutes")
        if "hours" in self.errors or "minutes" in self.errors:
            return cleaned
        total = (hours or 0) * 60 + (minutes or 0)
        if total == 0:
            self.add_error("hours", "Enter how long the activity took, in hours and minutes.")
        elif total > 24 * 60:
            self.add_error("hours", "An activity takes at most 24 hours: split longer ones over the days they took.")
        cleaned["duration"] = total
        return cleaned

    def ksb_groups(self) -> list[tuple[str, list[tuple[KSB, bool]]]]:
        """The standard's KSBs by kind (K, S, B), each with whether it is ticked."""
        value = self["ksbs"].value() or []
        ticked = {str(getattr(v, "pk", v)) for v in value}
        labels = dict(KSB.Kind.choices)
        groups: dict[str, list[tuple[KSB, bool]]] = {}
        for ksb in self.ksb_list:
            groups.setdefault(labels[ksb.kind], []).append((ksb, str(ksb.pk) in ticked))
        return list(groups.items())

    @property
    def content(self) -> dict:
        """The cleaned entry, as the OTJ services take it."""
        data = self.cleaned_data
        return {
            "date": data["date"],
            "minutes": data["duration"],
            "activity_type": data["activity_type"],
            "description": data["description"],
            "ksbs": list(data["ksbs"]),
            "evidence": data["evidence"],
        }

    @staticmethod
    def initial_from(activity: OTJActivity) -> dict:
        return {
            "date": activity.date,
            "hours": activity.minutes // 60,
            "minutes": activity.minutes % 60,
            "activity_type": activity.activity_type,
            "description": activity.description,
            "ksbs": [k.pk for k in activity.ksbs.all()],
            "evidence": activity.evidence_id,
        }


class OTJFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *OTJActivity.Status.choices])


class OTJQueryForm(forms.Form):
    reason = forms.CharField(
        label="What is wrong with this entry",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say what is wrong with the entry, so it can be corrected."},
    )
