"""The internal quality assurer's pages: read-only samples of assessors' work, and their own reviews of it."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from portal.decorators import role_required
from portal.models import User

from ..iqa_forms import IQAReviewForm
from ..models import Decision, SignOff
from ..sampling import SAMPLE_DAYS, SAMPLE_SIZE, decisions_for_iqa, iqa_sample, ksb_judgements, sign_offs_for_iqa
from ..services import record_iqa_review

iqa_only = role_required(User.Role.IQA)


@iqa_only
def iqa_home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "reviews/iqa_home.html",
        {"samples": iqa_sample(request.user), "sample_size": SAMPLE_SIZE, "sample_days": SAMPLE_DAYS},
    )


@iqa_only
@require_http_methods(["GET", "POST"])
def review_decision(request: HttpRequest, pk: int) -> HttpResponse:
    decision = get_object_or_404(decisions_for_iqa(request.user), pk=pk)
    return _review(
        request,
        decision=decision,
        context={"decision": decision, "judgements": ksb_judgements(decision), "subject": decision},
        recorded=f"on “{decision.version.title}”",
    )


@iqa_only
@require_http_methods(["GET", "POST"])
def review_sign_off(request: HttpRequest, pk: int) -> HttpResponse:
    sign_off = get_object_or_404(sign_offs_for_iqa(request.user), pk=pk)
    return _review(
        request,
        sign_off=sign_off,
        context={"sign_off": sign_off, "subject": sign_off},
        recorded=f"on the sign-off of {sign_off.ksb.code} for {sign_off.apprenticeship.apprentice}",
    )


def _review(
    request: HttpRequest,
    *,
    context: dict,
    recorded: str,
    decision: Decision | None = None,
    sign_off: SignOff | None = None,
) -> HttpResponse:
    """Shows the decision or sign-off read-only, and records the IQA's review of it."""
    form = IQAReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            review = record_iqa_review(by=request.user, decision=decision, sign_off=sign_off, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Your review ({review.get_outcome_display().lower()}) {recorded} is recorded.")
            return redirect("reviews:iqa_home")
    return render(request, "reviews/iqa_review.html", {**context, "form": form})
