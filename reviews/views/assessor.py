from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Max, Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from evidence.models import EvidenceItem, EvidenceVersion, KSBMapping
from evidence.otj import otj_summary_of
from portal.decorators import role_required
from portal.models import Apprenticeship, User
from portal.notices import unread_notices
from portal.services import may_manage_programme
from standards.models import KSB

from .. import services
from ..charts import activity_over_time
from ..duties import duties_of, duty_coverage
from ..exports import may_export
from ..forms import AcceptForm, ReturnForm, RevokeForm, SignOffForm
from ..models import SignedFile, SignOff
from ..progress import progress_of
from ..schedule import review_status_of
from ..standing import awaiting_signature, standings
from ..templatetags.coverage_cells import drawn_rows
from ..versions import left_on_earlier_versions, may_move, newer_versions

assessor_only = role_required(User.Role.ASSESSOR)

# Submitted items the assessor's home lists a page at a time, oldest first.
QUEUE_PAGE_SIZE = 20


def _queue_rows(items):
    """Only what a row of the queue shows: the apprentice, and each submitted version with its KSBs."""
    return items.select_related("apprenticeship__apprentice").prefetch_related(
        Prefetch(
            "versions",
            queryset=EvidenceVersion.objects.filter(submitted_at__isnull=False)
            .order_by("number")
            .prefetch_related(Prefetch("mappings", queryset=KSBMapping.objects.select_related("ksb"))),
        )
    )


def _with_judgements(items):
    """Items with every version, its decision and each mapping's judgement, in fixed queries."""
    return items.with_versions().prefetch_related("versions__decision__assessor", "versions__mappings__judgement")


@assessor_only
def assessor_home(request):
    """The queue of submitted evidence (oldest first), the caseload's progress, KSBs to sign off."""
    caseload = list(Apprenticeship.objects.visible_to(request.user).with_people())
    waiting = (
        EvidenceItem.objects.visible_to(request.user)
        .filter(status=EvidenceItem.Status.SUBMITTED, apprenticeship__in=[a.pk for a in caseload])
        .annotate(submitted_at=Max("versions__submitted_at"))
        .order_by("submitted_at", "pk")
    )
    # Oldest first, a page at a time: only the page's items read their versions.
    queue = Paginator(_queue_rows(waiting), QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    standing = standings(caseload)
    caseload_standing = [standing[a.pk] for a in caseload]
    # Signed-off figures and sign-off badges as drawn, cached until the apprentice's evidence changes.
    rows = list(zip(caseload_standing, drawn_rows([s.coverage for s in caseload_standing]), strict=True))
    reviews_to_sign, plans_to_sign = awaiting_signature(request.user, among=caseload)
    return render(
        request,
        "reviews/assessor_home.html",
        {
            "queue": queue,
            "queue_pages": queue.paginator.get_elided_page_range(queue.number, on_each_side=2, on_ends=1),
            "caseload_rows": rows,
            "to_sign_off": [(s.apprenticeship, drawn.sign_off_links) for s, drawn in rows if drawn.sign_off_links],
            "reviews_to_sign": reviews_to_sign,
            "plans_to_sign": plans_to_sign,
            **unread_notices(request.user),
        },
    )


@assessor_only
def review_evidence(request, pk: int):
    """Accept the submitted version (confirming each KSB) or return it with feedback."""
    item = get_object_or_404(_with_judgements(EvidenceItem.objects.visible_to(request.user)), pk=pk)
    versions = item.submitted_versions
    version = versions[-1]
    mappings = version.sorted_mappings
    accept_form = AcceptForm(mappings=mappings)
    return_form = ReturnForm()
    if request.method == "POST":
        if request.POST.get("action") == "accept":
            accept_form = AcceptForm(request.POST, mappings=mappings)
            if accept_form.is_valid():
                try:
                    services.accept_evidence(
                        item=item,
                        by=request.user,
                        judgements=accept_form.judgements,
                        feedback=accept_form.cleaned_data["feedback"],
                    )
                except ValidationError as error:
                    accept_form.add_error(None, error)
                else:
                    messages.success(request, f"Accepted “{version.title}”.")
                    return redirect("reviews:assessor_home")
        else:
            return_form = ReturnForm(request.POST)
            if return_form.is_valid():
                try:
                    services.return_evidence(item=item, by=request.user, feedback=return_form.cleaned_data["feedback"])
                except ValidationError as error:
                    return_form.add_error(None, error)
                else:
                    messages.success(request, f"Returned “{version.title}” with your feedback.")
                    return redirect("reviews:assessor_home")
    return render(
        request,
        "reviews/review.html",
        {
            "item": item,
            "version": version,
            "versions": versions,
            "accept_form": accept_form,
            "return_form": return_form,
            "can_decide": item.status == EvidenceItem.Status.SUBMITTED
            and item.apprenticeship.assessor_id == request.user.pk,
        },
    )


@login_required
def apprenticeship_progress(request, pk: int):
    """One apprenticeship's coverage grid, each KSB linking to its evidence and sign-off."""
    apprenticeship = get_object_or_404(Apprenticeship.objects.visible_to(request.user).with_people(), pk=pk)
    is_apprentice = apprenticeship.apprentice_id == request.user.pk
    coverage = progress_of(apprenticeship, drafts=is_apprentice)
    return render(
        request,
        "reviews/apprenticeship.html",
        {
            "apprenticeship": apprenticeship,
            "coverage": coverage,
            "activity": activity_over_time(apprenticeship),
            "duties": duty_coverage(coverage, duties_of(apprenticeship.standard)),
            "left_behind": left_on_earlier_versions(apprenticeship),
            "can_move": may_move(request.user, apprenticeship) and bool(newer_versions(apprenticeship.standard)),
            "can_export": may_export(request.user, apprenticeship),
            "otj": otj_summary_of(apprenticeship),
            "review_status": review_status_of(apprenticeship),
            "plan": apprenticeship.training_plans.first(),
            "manages_dates": may_manage_programme(request.user, apprenticeship),
        },
    )


def _already_signed_off(apprenticeship: Apprenticeship, ksb: KSB) -> str:
    """Why a KSB cannot be signed off again, or "" when it has no live sign-off."""
    if SignOff.objects.live().filter(apprenticeship=apprenticeship, ksb=ksb).exists():
        return f"{ksb.code} is already signed off: revoke that sign-off first to sign it off again."
    return ""


def _ksb_of(apprenticeship: Apprenticeship, code: str) -> KSB:
    parsed = KSB.parse_code(code)
    if not parsed:
        raise Http404("No such KSB.")
    return get_object_or_404(apprenticeship.standard.ksbs, kind=parsed[0], number=parsed[1])


@login_required
def ksb_detail(request, pk: int, code: str):
    """A KSB of one apprenticeship: the accepted evidence for it, and its sign-off and history."""
    apprenticeship = get_object_or_404(Apprenticeship.objects.visible_to(request.user).with_people(), pk=pk)
    ksb = _ksb_of(apprenticeship, code)
    eligible = services.eligible_versions(apprenticeship, ksb).select_related("item", "decision__assessor")
    may_sign = apprenticeship.assessor_id == request.user.pk
    form = SignOffForm(request.POST or None, eligible=eligible)
    if request.method == "POST":
        if not may_sign:
            raise Http404("Only the apprentice's assessor signs off.")
        already = _already_signed_off(apprenticeship, ksb)
        if already:
            # A double submit, or signed off in another tab: the page shows the sign-off, not the form.
            messages.error(request, already)
            return redirect("reviews:ksb", apprenticeship.pk, ksb.code)
        if form.is_valid():
            try:
                services.sign_off_ksb(
                    apprenticeship=apprenticeship,
                    ksb=ksb,
                    versions=form.cleaned_data["versions"],
                    by=request.user,
                    comment=form.cleaned_data["comment"],
                )
            except ValidationError as error:
                already = _already_signed_off(apprenticeship, ksb)
                if already:
                    messages.error(request, already)
                    return redirect("reviews:ksb", apprenticeship.pk, ksb.code)
                form.add_error(None, error)
            else:
                messages.success(request, f"{ksb.code} signed off.")
                return redirect("reviews:ksb", apprenticeship.pk, ksb.code)
    history = (
        SignOff.objects.visible_to(request.user)
        .filter(apprenticeship=apprenticeship, ksb=ksb)
        .select_related("signed_by", "revoked_by")
        .prefetch_related(
            Prefetch("versions", queryset=EvidenceVersion.objects.select_related("item")),
            Prefetch("signed_files", queryset=SignedFile.objects.select_related("file", "version")),
        )
    )
    live = next((s for s in history if s.is_live), None)
    return render(
        request,
        "reviews/ksb.html",
        {
            "apprenticeship": apprenticeship,
            "ksb": ksb,
            "eligible": eligible,
            "history": history,
            "live": live,
            "form": form if may_sign and live is None else None,
            "revoke_form": RevokeForm() if live and services.may_revoke(request.user, apprenticeship) else None,
        },
    )


@login_required
@require_POST
def revoke(request, pk: int):
    sign_off = get_object_or_404(SignOff.objects.visible_to(request.user).select_related("ksb"), pk=pk)
    form = RevokeForm(request.POST)
    if form.is_valid():
        try:
            services.revoke_sign_off(sign_off=sign_off, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, f"The sign-off of {sign_off.ksb.code} was revoked.")
    else:
        messages.error(request, "Give the reason for revoking the sign-off.")
    return redirect("reviews:ksb", sign_off.apprenticeship_id, sign_off.ksb.code)
