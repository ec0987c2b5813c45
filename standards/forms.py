from django import forms


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
