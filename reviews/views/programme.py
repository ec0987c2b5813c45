"""Progress reviews and training plans: read by everyone who may see the apprenticeship, signed by its three parties."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from portal.decorators import role_required
from portal.models import Apprenticeship, User

from ..models import ProgressReview, Signature, TrainingPlan
from ..programme_forms import ProgressReviewForm, TrainingPlanForm, action_formset
from ..progress_reviews import (
    captured_coverage,
    may_record,
    may_see_safeguarding,
    record_progress_review,
    reviews_of,
    reviews_visible_to,
    update_progress_review,
)
from ..schedule import review_status_of
from ..signatures import content_hash, may_sign, missing_mentor_problem, parties_of, sign
from ..training_plans import current_plan, may_edit_plan, minimum_otj_hours, save_training_plan

assessor_only = role_required(User.Role.ASSESSOR)
plan_writers = role_required(User.Role.ASSESSOR, User.Role.PROVIDER_ADMIN)


def _visible_apprenticeship(request, pk: int) -> Apprenticeship:
    """The apprenticeship if this person may see it; a 404 otherwise, so its existence stays private."""
    return get_object_or_404(Apprenticeship.objects.visible_to(request.user).with_people(), pk=pk)


def _visible_review(request, pk: int) -> ProgressReview:
    return get_object_or_404(
        reviews_visible_to(request.user).select_related(
            "apprenticeship__apprentice",
            "apprenticeship__mentor",
            "apprenticeship__assessor",
            "apprenticeship__provider",
            "apprenticeship__employer",
            "apprenticeship__standard",
            "recorded_by",
        ),
        pk=pk,
    )


def _visible_plan(request, pk: int) -> TrainingPlan:
    return get_object_or_404(
        TrainingPlan.objects.visible_to(request.user).select_related(
            "apprenticeship__apprentice",
            "apprenticeship__mentor",
            "apprenticeship__assessor",
            "apprenticeship__provider",
            "apprenticeship__employer",
            "apprenticeship__standard",
            "created_by",
        ),
        pk=pk,
    )


def _add_errors(form: Form, error: ValidationError) -> None:
    """A service's errors beside the fields they are about; the rest above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _show_errors(request, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


# --- Progress reviews ---------------------------------------------------------------------------


@login_required
def progress_reviews(request, pk: int):
    """An apprenticeship's progress reviews, newest first, with when the next one is due."""
    apprenticeship = _visible_apprenticeship(request, pk)
    return render(
        request,
        "reviews/progress_reviews.html",
        {
            "apprenticeship": apprenticeship,
            "reviews": list(reviews_of(apprenticeship)),
            "review_status": review_status_of(apprenticeship),
            "can_record": may_record(request.user, apprenticeship),
        },
    )


def _review_form_page(request, apprenticeship: Apprenticeship, review: ProgressReview | None):
    """The form to record a review (review None) or edit one; what was typed survives any error."""
    form = ProgressReviewForm(request.POST or None, initial=ProgressReviewForm.initial_from(review) if review else None)
    actions = action_formset(request.POST or None, review=review)
    if request.method == "POST":
        form_ok, actions_ok = form.is_valid(), actions.is_valid()
        if form_ok and actions_ok:
            try:
                if review is None:
                    review = record_progress_review(
                        apprenticeship=apprenticeship, by=request.user, **form.cleaned_data, actions=actions.rows
                    )
                    messages.success(
                        request, "Review recorded. The apprentice and their mentor are asked to read and sign it."
                    )
                else:
                    review = update_progress_review(
                        review=review, by=request.user, **form.cleaned_data, actions=actions.rows
                    )
                    messages.success(request, "Review saved.")
            except ValidationError as error:
                _add_errors(form, error)
            else:
                return redirect(review)
    return render(
        request,
        "reviews/progress_review_form.html",
        {
            "apprenticeship": apprenticeship,
            "review": review,
            "form": form,
            "actions": actions,
        },
    )


@assessor_only
def progress_review_new(request, pk: int):
    apprenticeship = _visible_apprenticeship(request, pk)
    if not may_record(request.user, apprenticeship):
        raise PermissionDenied("Only the apprentice's assessor records their progress reviews.")
    return _review_form_page(request, apprenticeship, None)


@assessor_only
def progress_review_edit(request, pk: int):
    review = _visible_review(request, pk)
    if not may_record(request.user, review.apprenticeship):
        raise PermissionDenied("Only the apprentice's assessor edits their progress reviews.")
    if review.is_locked:
        messages.error(request, "This review is signed by all three parties and locked: it can no longer change.")
        return redirect(review)
    return _review_form_page(request, review.apprenticeship, review)


@login_required
def progress_review_detail(request, pk: int):
    """Everything the review recorded and captured, its actions, and who has signed it."""
    review = _visible_review(request, pk)
    signatures = list(review.signatures.select_related("signer"))
    return render(
        request,
        "reviews/progress_review.html",
        {
            "review": review,
            "apprenticeship": review.apprenticeship,
            "actions": list(review.actions.all()),
            "coverage": captured_coverage(review),
            "signatures": signatures,
            "parties": parties_of(review, signatures),
            "can_sign": may_sign(request.user, review, signatures),
            "can_edit": not review.is_locked and may_record(request.user, review.apprenticeship),
            "show_safeguarding": may_see_safeguarding(request.user, review),
            "content_hash": content_hash(review),
            "mentor_problem": missing_mentor_problem(review.apprenticeship),
        },
    )


@login_required
@require_POST
def progress_review_sign(request, pk: int):
    review = _visible_review(request, pk)
    try:
        signature = sign(review=review, by=request.user, seen_hash=request.POST.get("content_hash") or None)
    except ValidationError as error:
        _show_errors(request, error)
    else:
        _signed_message(request, signature)
    return redirect(review)


def _signed_message(request, signature: Signature) -> None:
    document = signature.review or signature.plan
    if document.is_locked:
        messages.success(request, "Signed. All three parties have signed, so it is now locked.")
    else:
        messages.success(request, f"Signed as the {signature.get_party_display().lower()}.")


# --- Training plans ---------------------------------------------------------------------------


def _plan_page(request, apprenticeship: Apprenticeship, plan: TrainingPlan | None = None):
    """A version of the plan (the current one when `plan` is None), its signatures, and all versions."""
    versions = list(apprenticeship.training_plans.order_by("-version").select_related("created_by"))
    current = versions[0] if versions else None
    plan = plan or current
    signatures = list(plan.signatures.select_related("signer")) if plan else []
    is_current = plan is not None and plan.pk == current.pk
    return render(
        request,
        "reviews/training_plan.html",
        {
            "apprenticeship": apprenticeship,
            "plan": plan,
            "is_current": is_current,
            "current": current,
            "versions": versions,
            "signatures": signatures,
            "parties": parties_of(plan, signatures) if plan else [],
            "can_sign": is_current and may_sign(request.user, plan, signatures, current=True),
            "can_edit": may_edit_plan(request.user, apprenticeship),
            "content_hash": content_hash(plan) if plan else "",
            "mentor_problem": missing_mentor_problem(apprenticeship),
        },
    )


@login_required
def training_plan(request, pk: int):
    """The current version of the training plan, its signatures, and the versions before it."""
    apprenticeship = _visible_apprenticeship(request, pk)
    return _plan_page(request, apprenticeship)


@login_required
def training_plan_version(request, pk: int):
    """One version of a training plan, as it was (read-only)."""
    plan = _visible_plan(request, pk)
    return _plan_page(request, plan.apprenticeship, plan)


@plan_writers
def training_plan_edit(request, pk: int):
    """Write the plan: changes the current version while unsigned, else makes a new version."""
    apprenticeship = _visible_apprenticeship(request, pk)
    if not may_edit_plan(request.user, apprenticeship):
        raise PermissionDenied("Only the apprentice's assessor or a provider admin writes the training plan.")
    latest = current_plan(apprenticeship)
    initial = TrainingPlanForm.initial_from(latest) if latest else {}
    # The apprenticeship's date is the one in force (a break may have moved it since the plan).
    initial["planned_end_date"] = apprenticeship.planned_end_date
    form = TrainingPlanForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            plan = save_training_plan(apprenticeship=apprenticeship, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(
                request, f"Training plan version {plan.version} saved. The other parties are asked to sign it."
            )
            return redirect(plan)
    minimum, working = minimum_otj_hours(apprenticeship, apprenticeship.planned_end_date)
    return render(
        request,
        "reviews/training_plan_form.html",
        {
            "apprenticeship": apprenticeship,
            "form": form,
            "latest": latest,
            "new_version": latest is not None and (latest.is_locked or latest.signatures.exists()),
            "date_moved": latest is not None and latest.planned_end_date != apprenticeship.planned_end_date,
            "minimum": minimum,
            "working": working,
        },
    )


@login_required
@require_POST
def training_plan_sign(request, pk: int):
    plan = _visible_plan(request, pk)
    try:
        signature = sign(plan=plan, by=request.user, seen_hash=request.POST.get("content_hash") or None)
    except ValidationError as error:
        _show_errors(request, error)
    else:
        _signed_message(request, signature)
    return redirect(plan)
