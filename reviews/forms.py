from django import forms

from evidence.models import EvidenceVersion, KSBMapping


class AcceptForm(forms.Form):
    """One tick and comment per mapped KSB; ticked means the assessor confirms it."""

    feedback = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Feedback to the apprentice (optional)"
    )

    def __init__(self, *args, mappings: list[KSBMapping], **kwargs):
        super().__init__(*args, **kwargs)
        self.mappings = mappings
        for mapping in mappings:
            self.fields[f"confirm_{mapping.pk}"] = forms.BooleanField(
                required=False, initial=True, label=f"Confirm {mapping.ksb.code}"
            )
            self.fields[f"comment_{mapping.pk}"] = forms.CharField(
                required=False, max_length=500, label=f"Comment on {mapping.ksb.code}"
            )

    def rows(self):
        return [(m, self[f"confirm_{m.pk}"], self[f"comment_{m.pk}"]) for m in self.mappings]

    @property
    def judgements(self) -> dict[int, tuple[bool, str]]:
        data = self.cleaned_data
        return {m.pk: (data[f"confirm_{m.pk}"], data[f"comment_{m.pk}"]) for m in self.mappings}


class ReturnForm(forms.Form):
    feedback = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        label="Feedback",
        help_text="What the apprentice should change or add before resubmitting.",
        error_messages={"required": "Write the feedback the apprentice needs to revise the evidence."},
    )


class SignOffForm(forms.Form):
    versions = forms.ModelMultipleChoiceField(
        queryset=EvidenceVersion.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Evidence relied on",
        error_messages={"required": "Choose the accepted evidence the sign-off relies on."},
    )
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Comment",
        help_text="Why the evidence shows the KSB is met.",
        error_messages={"required": "Write a comment saying why the evidence meets the KSB."},
    )

    def __init__(self, *args, eligible, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["versions"].queryset = eligible
        self.fields["versions"].label_from_instance = lambda v: f"{v.title} (version {v.number})"


class RevokeForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason for revoking",
        error_messages={"required": "Give the reason for revoking the sign-off."},
    )
