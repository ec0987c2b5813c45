"""The off-the-job log: the hours an apprentice has logged, the assessor's checks, and the summary."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from portal.decorators import role_required
from portal.models import Apprenticeship, User

from . import services
from .forms import OTJActivityForm, OTJFilterForm, OTJQueryForm
from .models import EvidenceItem, EvidenceVersion, OTJActivity
from .otj import otj_summary_of

ENTRIES_PER_PAGE = 50


def _visible_apprenticeship(request, pk: int) -> Apprenticeship:
    return get_object_or_404(Apprenticeship.objects.visible_to(request.user).with_people(), pk=pk)


def _visible_activity(request, pk: int) -> OTJActivity:
    """The entry if this person may see its apprenticeship; a 404 otherwise."""
    return get_object_or_404(
        OTJActivity.objects.visible_to(request.user).select_related(
            "apprenticeship__apprentice", "apprenticeship__standard", "logged_by"
        ),
        pk=pk,
    )


def _readable_evidence(user: User, apprenticeship: Apprenticeship) -> list[EvidenceItem]:
    """The apprenticeship's items this person may see, each with the title they may read as `label`.

    Others than the apprentice read the last submitted version, never a draft that followed it.
    """
    items = list(
        EvidenceItem.objects.visible_to(user)
        .filter(apprenticeship=apprenticeship)
        .prefetch_related(Prefetch("versions", queryset=EvidenceVersion.objects.order_by("number")))
    )
    own = apprenticeship.apprentice_id == user.pk
    for item in items:
        readable = [v for v in item.versions.all() if own or v.is_frozen]
        item.label = readable[-1].title if readable else f"Evidence {item.pk}"
    return items


def _entry_form(request, apprenticeship: Apprenticeship, **kwargs) -> OTJActivityForm:
    return OTJActivityForm(
        request.POST or None,
        ksbs=list(apprenticeship.standard.ksbs.all()),
        evidence_items=_readable_evidence(request.user, apprenticeship),
        **kwargs,
    )


def _show_errors(request, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


def _closed(request, apprenticeship: Apprenticeship) -> bool:
    """Says so, before anyone fills in a form that cannot be saved."""
    if apprenticeship.status in Apprenticeship.CLOSED_STATUSES:
        messages.error(
            request,
            f"This apprenticeship is {apprenticeship.get_status_display().lower()}; its off-the-job log is closed.",
        )
        return True
    return False


@role_required(User.Role.APPRENTICE)
def my_otj_log(request):
    """`/otj/`: the apprentice's own log, for their current apprenticeship."""
    apprenticeship = Apprenticeship.objects.current_of(request.user)
    if apprenticeship is None:
        return render(request, "evidence/no_apprenticeship.html")
    return redirect("evidence:otj_log", apprenticeship.pk)


@login_required
def otj_log(request, pk: int):
    """The summary against the requirement, then the entries, newest first, 50 to a page."""
    apprenticeship = _visible_apprenticeship(request, pk)
    filter_form = OTJFilterForm(request.GET or None)
    entries = (
        OTJActivity.objects.filter(apprenticeship=apprenticeship)
        .select_related("logged_by", "checked_by")
        .prefetch_related("ksbs")
        .order_by("-date", "-pk")
    )
    status = filter_form.cleaned_data["status"] if filter_form.is_valid() else ""
    if status:
        entries = entries.filter(status=status)
    page = Paginator(entries, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))

    user = request.user
    open_for_work = apprenticeship.status not in Apprenticeship.CLOSED_STATUSES
    linked = {e.evidence_id for e in page if e.evidence_id}
    evidence = {i.pk: i for i in _readable_evidence(user, apprenticeship) if i.pk in linked} if linked else {}
    is_assessor = apprenticeship.assessor_id == user.pk
    for entry in page:
        entry.apprenticeship = apprenticeship  # saves a query per entry in the permission checks
        entry.evidence_item = evidence.get(entry.evidence_id)
        entry.duration = services.duration_text(entry.minutes)
        entry.may_change = open_for_work and entry.is_editable and services.may_change_otj(user, entry)
        entry.may_check = open_for_work and is_assessor and entry.status == OTJActivity.Status.LOGGED
    return render(
        request,
        "evidence/otj_log.html",
        {
            "apprenticeship": apprenticeship,
            "otj": otj_summary_of(apprenticeship),
            "page": page,
            "filter_form": filter_form,
            "status": status,
            "may_log": open_for_work and services.may_log_otj(user, apprenticeship),
            "is_assessor": is_assessor,
        },
    )


@login_required
def otj_new(request, pk: int):
    apprenticeship = _visible_apprenticeship(request, pk)
    if not services.may_log_otj(request.user, apprenticeship):
        raise PermissionDenied("Only the apprentice, their mentor or their assessor logs off-the-job hours.")
    if _closed(request, apprenticeship):
        return redirect("evidence:otj_log", apprenticeship.pk)
    form = _entry_form(request, apprenticeship)
    if request.method == "POST" and form.is_valid():
        try:
            activity = services.log_otj_activity(apprenticeship=apprenticeship, by=request.user, **form.content)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, f"Logged {services.duration_text(activity.minutes)} on {activity.date:%-d %b %Y}."
            )
            return redirect("evidence:otj_log", apprenticeship.pk)
    return render(request, "evidence/otj_form.html", {"form": form, "apprenticeship": apprenticeship, "entry": None})


def _changeable_activity(request, pk: int) -> OTJActivity:
    """The entry if this person may change it; 404 when they may not see it, 403 when only see."""
    activity = _visible_activity(request, pk)
    if not services.may_change_otj(request.user, activity):
        raise PermissionDenied("Only whoever logged this entry, or the apprentice, changes it.")
    return activity


@login_required
def otj_edit(request, pk: int):
    activity = _changeable_activity(request, pk)
    apprenticeship = activity.apprenticeship
    if _closed(request, apprenticeship):
        return redirect("evidence:otj_log", apprenticeship.pk)
    if not activity.is_editable:
        messages.error(request, "This entry has been verified, so it no longer changes.")
        return redirect("evidence:otj_log", apprenticeship.pk)
    form = _entry_form(request, apprenticeship, initial=OTJActivityForm.initial_from(activity))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_otj_activity(activity=activity, by=request.user, **form.content)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Entry saved. It is waiting for your assessor to verify it.")
            return redirect("evidence:otj_log", apprenticeship.pk)
    return render(
        request, "evidence/otj_form.html", {"form": form, "apprenticeship": apprenticeship, "entry": activity}
    )


@login_required
def otj_delete(request, pk: int):
    """A confirmation page on GET; the deletion on POST."""
    activity = _changeable_activity(request, pk)
    apprenticeship = activity.apprenticeship
    if request.method == "POST":
        try:
            services.delete_otj_activity(activity=activity, by=request.user)
        except ValidationError as error:
            _show_errors(request, error)
        else:
            messages.success(
                request, f"Deleted the entry of {activity.date:%-d %b %Y} ({services.duration_text(activity.minutes)})."
            )
        return redirect("evidence:otj_log", apprenticeship.pk)
    return render(
        request,
        "evidence/otj_delete.html",
        {"entry": activity, "apprenticeship": apprenticeship, "duration": services.duration_text(activity.minutes)},
    )


@login_required
@require_POST
def otj_verify(request, pk: int):
    activity = _visible_activity(request, pk)
    try:
        services.verify_otj_activity(activity=activity, by=request.user)
    except ValidationError as error:
        _show_errors(request, error)
    else:
        messages.success(request, f"Verified {services.duration_text(activity.minutes)} on {activity.date:%-d %b %Y}.")
    return redirect("evidence:otj_log", activity.apprenticeship_id)


@login_required
def otj_query(request, pk: int):
    """The reason for a query: asked on its own page, which also shows the problem when it is empty."""
    activity = _visible_activity(request, pk)
    apprenticeship = activity.apprenticeship
    if apprenticeship.assessor_id != request.user.pk:
        raise PermissionDenied("Only the apprentice's assessor queries off-the-job hours.")
    form = OTJQueryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.query_otj_activity(activity=activity, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            if not hasattr(error, "error_dict"):
                _show_errors(request, error)
                return redirect("evidence:otj_log", apprenticeship.pk)
            form.add_error(None, error)
        else:
            messages.success(request, f"Queried the entry of {activity.date:%-d %b %Y}; the apprentice has been told.")
            return redirect("evidence:otj_log", apprenticeship.pk)
    return render(
        request,
        "evidence/otj_query.html",
        {
            "form": form,
            "entry": activity,
            "apprenticeship": apprenticeship,
            "duration": services.duration_text(activity.minutes),
        },
    )
