from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from portal import audit
from portal.decorators import role_required
from portal.models import Apprenticeship, User

from .. import exports
from ..cohort import CohortFilterForm
from ..models import Export


@role_required(User.Role.ASSESSOR, User.Role.PROVIDER_ADMIN)
@require_POST
def start_portfolio_export(request, pk: int):
    apprenticeship = get_object_or_404(Apprenticeship.objects.visible_to(request.user), pk=pk)
    export = exports.request_portfolio_export(apprenticeship=apprenticeship, by=request.user)
    return redirect(export)


@role_required(User.Role.PROVIDER_ADMIN)
@require_POST
def start_cohort_export(request):
    visible = Apprenticeship.objects.visible_to(request.user).with_people()
    form = CohortFilterForm(request.POST, apprenticeships=visible)
    if not form.is_valid():
        messages.error(request, "Those filters are not valid; the cohort was not exported.")
        return redirect("reviews:provider_home")
    data = form.cleaned_data
    try:
        export = exports.request_cohort_export(
            by=request.user,
            assessor=data.get("assessor"),
            employer=data.get("employer"),
            status=data.get("status", ""),
            inactive_only=data.get("inactive", False),
        )
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return redirect("reviews:provider_home")
    return redirect(export)


def _visible_export(request, pk: int) -> Export:
    return get_object_or_404(
        Export.objects.visible_to(request.user).select_related("apprenticeship__apprentice"), pk=pk
    )


@login_required
def export_status(request, pk: int):
    """The export's page; its progress part reloads itself until the file is ready."""
    export = _visible_export(request, pk)
    template = "reviews/_partials/export_status.html" if request.headers.get("HX-Request") else "reviews/export.html"
    return render(request, template, {"export": export})


@login_required
def export_download(request, pk: int):
    export = _visible_export(request, pk)
    if export.state != Export.State.DONE or not export.file:
        raise Http404("This export has no file (yet).")
    try:
        handle = export.file.open("rb")
    except FileNotFoundError:
        raise Http404("The export's file has been deleted.") from None
    try:
        # Every download of a portfolio is on the record: it carries a whole apprentice's evidence.
        # The apprenticeship goes in the payload, not the entry's own field, which gathers the
        # changes to a record that the portfolio PDF lists; a download changes nothing.
        with transaction.atomic():
            audit.record(
                action="export.downloaded",
                actor=request.user,
                apprenticeship=None,
                payload={
                    "apprenticeship": export.apprenticeship_id,
                    "export": export.pk,
                    # Not the file's name: it names the apprentice, and the audit log is never erased.
                    "kind": export.kind,
                },
            )
    except BaseException:
        handle.close()
        raise
    content_type = "application/pdf" if export.kind == Export.Kind.PORTFOLIO else "application/zip"
    response = FileResponse(handle, as_attachment=True, filename=export.file_name, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    # Opened as a page by mistake, it may run nothing and load nothing (the middleware's
    # X-Frame-Options: DENY keeps it out of frames).
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
