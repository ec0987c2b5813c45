"""Data protection: an apprentice's download of their own data, and erasing a withdrawn apprentice's."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from portal.decorators import role_required
from portal.models import Apprenticeship, User

from .. import erasure, personal_data
from ..models import Export


@role_required(User.Role.APPRENTICE)
def my_data(request):
    """What the portal holds about the apprentice, and their downloads of it."""
    return render(
        request,
        "reviews/data/my_data.html",
        {
            "apprenticeship": Apprenticeship.objects.current_of(request.user),
            "exports": Export.objects.visible_to(request.user).order_by("-created_at", "-pk")[:5],
            "retention_days": settings.EXPORT_RETENTION_DAYS,
        },
    )


@role_required(User.Role.APPRENTICE)
@require_POST
def start_my_data_export(request):
    try:
        export = personal_data.request_personal_data_export(by=request.user)
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return redirect("reviews:my_data")
    return redirect("reviews:my_data_export", export.pk)


@role_required(User.Role.APPRENTICE)
def my_data_export(request, pk: int):
    """The zip's progress; the status part reloads itself until the file is ready."""
    export = get_object_or_404(Export.objects.visible_to(request.user), pk=pk)
    partial = request.headers.get("HX-Request")
    template = "reviews/data/_export_status.html" if partial else "reviews/data/export.html"
    return render(request, template, {"export": export})


class ErasureForm(forms.Form):
    confirm_name = forms.CharField(
        label="Type the apprentice's name to confirm",
        max_length=300,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept in the audit log for good, so leave their name and email out, "
        "e.g. “Asked for erasure on 3 March 2026; withdrawn 1 February 2026.”",
    )

    def __init__(self, *args, expected: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = expected

    def clean_confirm_name(self) -> str:
        typed = " ".join(self.cleaned_data["confirm_name"].split())
        if typed.casefold() != " ".join(self.expected.split()).casefold():
            raise ValidationError(f"Type the name exactly as shown: {self.expected}.")
        return typed


@role_required(User.Role.PROVIDER_ADMIN)
@require_http_methods(["GET", "POST"])
def erase_personal_data(request, pk: int):
    """What erasing would take and keep, then the erasure once the name is typed."""
    apprenticeship = get_object_or_404(Apprenticeship.objects.visible_to(request.user).with_people(), pk=pk)
    expected = str(apprenticeship.apprentice)
    form = ErasureForm(request.POST or None, expected=expected)
    problems = erasure.erasure_problems(apprenticeship)
    if request.method == "POST" and not problems and form.is_valid():
        try:
            erasure.erase_personal_data(
                apprenticeship=apprenticeship, by=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            # A message about the reason lands beside that field; any other above the form.
            form.add_error(None, error)
        else:
            messages.success(
                request, "The apprentice's personal data was erased. The anonymised record stays for funding audits."
            )
            return redirect("reviews:apprenticeship", apprenticeship.pk)
    scope = erasure.erasure_scope(apprenticeship)
    return render(
        request,
        "reviews/data/erase.html",
        {
            "apprenticeship": apprenticeship,
            "expected": expected,
            "form": form,
            "problems": problems,
            "scope": scope,
            "counts": erasure.erasure_counts(scope) if not problems else None,
            "erased": erasure.erasure_entry(apprenticeship),
        },
    )
