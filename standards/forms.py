from django import forms


class KSBSearchForm(forms.Form):
    q = forms.CharField(
        label="Search KSBs",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "A code such as S18, or words"}),
    )
