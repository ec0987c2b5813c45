from django import forms

from .services import MAX_MINIMUM_OTJ_HOURS


class KSBSearchForm(forms.Form):
    q = forms.CharField(
        label="Search KSBs",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "A code such as S18, or words"}),
    )


class StandardImportForm(forms.Form):
    # A single standard is tens of kilobytes; the whole API list is better loaded with the command.
    MAX_BYTES = 5 * 1024 * 1024

    file = forms.FileField(
        label="Standard JSON file",
        help_text="Saved from the standards API: one standard, or a list of them. At most 5 MB.",
    )

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError(
                "The file is larger than 5 MB. Import a file that large with "
                "`python manage.py import_standard`, or split it."
            )
        return upload.read()


class MinimumOTJHoursForm(forms.Form):
    hours = forms.IntegerField(
        label="Minimum off-the-job hours",
        required=False,
        min_value=1,
        max_value=MAX_MINIMUM_OTJ_HOURS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        help_text="As published for this version of the standard. Leave empty if it is not published yet.",
        error_messages={
            "invalid": "Enter a whole number of hours, e.g. 278.",
            "min_value": "Enter at least 1 hour, or leave the box empty.",
            "max_value": f"Enter at most {MAX_MINIMUM_OTJ_HOURS} hours: check the figure published for the standard.",
        },
    )
