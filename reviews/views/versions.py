"""Moving an apprenticeship to a newer version of its standard: a preview, then the move."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from ..version_forms import MoveVersionForm
from ..versions import movable_apprenticeships, move_apprenticeship, newer_versions, preview_move


@login_required
@require_http_methods(["GET", "POST"])
def move_version(request, pk: int):
    """What moving would carry over and what it would leave for the assessor; confirming moves."""
    apprenticeship = get_object_or_404(movable_apprenticeships(request.user).with_people(), pk=pk)
    newer = newer_versions(apprenticeship.standard)
    to_standard = newer[-1] if newer else None
    if request.method == "POST":
        form = MoveVersionForm(request.POST, versions=newer)
        if form.is_valid():
            to_standard = form.cleaned_data["to"]
            try:
                move_apprenticeship(apprenticeship=apprenticeship, to_standard=to_standard, by=request.user)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request,
                    f"{apprenticeship.apprentice} moved to {to_standard.reference} version {to_standard.version}.",
                )
                return redirect("reviews:apprenticeship", apprenticeship.pk)
    else:
        form = MoveVersionForm(request.GET or None, versions=newer, initial={"to": to_standard})
        if form.is_bound:
            to_standard = form.cleaned_data["to"] if form.is_valid() else None
    return render(
        request,
        "reviews/move_version.html",
        {
            "apprenticeship": apprenticeship,
            "newer": newer,
            "form": form,
            "to_standard": to_standard,
            "report": preview_move(apprenticeship, to_standard) if to_standard else None,
        },
    )
