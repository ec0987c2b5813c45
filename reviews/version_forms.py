from django import forms

from standards.models import Standard


class MoveVersionForm(forms.Form):
    """Which newer version of the standard to move an apprenticeship to."""

    to = forms.ModelChoiceField(
        queryset=Standard.objects.none(),
        to_field_name="version",
        label="Move to version",
        empty_label=None,
        error_messages={"invalid_choice": "Choose one of the newer versions of the standard in the catalogue."},
    )

    def __init__(self, *args, versions: list[Standard], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = Standard.objects.filter(pk__in=[s.pk for s in versions])
        self.fields["to"].label_from_instance = lambda s: (
            f"{s.version}" + (f" (starts from {s.earliest_start_date:%d %b %Y})" if s.earliest_start_date else "")
        )
