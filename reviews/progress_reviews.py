"""Tripartite progress reviews: recorded by the assessor, signed by all three parties.

A review captures the off-the-job hours (as of the day it was held) and the KSB coverage (as of
the moment it is recorded) into its own row, so it always says what everyone saw that day; a
later sign-off or OTJ entry never changes it. A safeguarding concern raised in a review goes to
the provider's designated safeguarding lead, and its details stay with the provider's staff.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from evidence.otj import otj_summary_of
from portal import audit
from portal.models import Apprenticeship, Organisation, User
from portal.notices import notify
from standards.models import KSB

from .models import Party, ProgressReview, ReviewAction, Signature
from .progress import CoverageState, progress_of
from .signatures import content_hash, person_of

# (what, which party does it, by when)
ActionRow = tuple[str, str, datetime.date]

TEXT_FIELDS = ("actions_since_last", "progress_against_plan", "plan_updates", "wellbeing", "concerns")
REQUIRED_TEXT = {
    "actions_since_last": "Say what actions and training took place since the last review.",
    "progress_against_plan": "Say how the apprentice is progressing against the training plan.",
    "wellbeing": "Record how the apprentice is doing: their wellbeing and support.",
}


def may_record(user: User, apprenticeship: Apprenticeship) -> bool:
    """Only the apprentice's assessor records and edits their progress reviews."""
    return user.role == User.Role.ASSESSOR and apprenticeship.assessor_id == user.pk


def may_see_safeguarding(user: User, review: ProgressReview) -> bool:
    """The one rule for who reads a safeguarding concern's details: the provider's staff only.

    That is the apprentice's assessor, the provider's admins and its designated safeguarding
    lead; never the apprentice, the employer's mentor or the IQA (unless they are the lead).
    """
    if not user.is_authenticated or not user.is_active:
        return False
    apprenticeship = review.apprenticeship
    if user.organisation_id != apprenticeship.provider_id:
        return False
    if user.pk == apprenticeship.provider.safeguarding_lead_id:
        return True
    if user.role == User.Role.ASSESSOR:
        return apprenticeship.assessor_id == user.pk
    return user.role == User.Role.PROVIDER_ADMIN


def reviews_visible_to(user: User) -> QuerySet[ProgressReview]:
    """Whoever may see the apprenticeship, and the safeguarding lead for reviews that raised a concern.

    The lead is told of a concern with a link to the review, so they must be able to open it even
    when the apprentice is not otherwise theirs to see.
    """
    visible = ProgressReview.objects.visible_to(user)
    if user.is_authenticated and user.is_active and user.organisation_id:
        visible = visible | ProgressReview.objects.filter(
            safeguarding_concern=True,
            apprenticeship__provider_id=user.organisation_id,
            apprenticeship__provider__safeguarding_lead=user,
        )
    return visible


def reviews_of(apprenticeship: Apprenticeship) -> QuerySet[ProgressReview]:
    """The apprenticeship's reviews, newest first, each with its number of signatures."""
    return ProgressReview.objects.filter(apprenticeship=apprenticeship).annotate(signature_count=Count("signatures"))


def captured_coverage(review: ProgressReview) -> list[tuple[CoverageState, list[str]]]:
    """The KSB coverage captured with the review, as (state, KSB codes) from signed off down."""
    codes: dict[CoverageState, list[str]] = {state: [] for state in sorted(CoverageState, reverse=True)}
    for code, name in review.coverage.items():
        state = CoverageState.__members__.get(name.upper())
        if state is not None:
            codes[state].append(code)
    return [(state, sorted(found, key=_code_order)) for state, found in codes.items() if found]


def _code_order(code: str) -> tuple[int, int, str]:
    # K1..K34, S1..S30, B1 in the standard's order, whatever order the JSON came back in.
    parsed = KSB.parse_code(code)
    return ("KSB".index(parsed[0]), parsed[1], "") if parsed else (3, 0, code)


def safeguarding_recipients(provider: Organisation) -> list[User]:
    """The provider's designated safeguarding lead; without one, every active provider admin."""
    lead = provider.safeguarding_lead
    if lead is not None and lead.is_active:
        return [lead]
    return list(User.objects.filter(organisation=provider, role=User.Role.PROVIDER_ADMIN, is_active=True))


def _check_content(
    apprenticeship: Apprenticeship,
    *,
    held_on: datetime.date,
    texts: dict[str, str],
    safeguarding_concern: bool,
    safeguarding_details: str,
    actions: Sequence[ActionRow],
) -> list[ActionRow]:
    """Raises a ValidationError keyed by field for anything wrong; returns the tidied actions."""
    errors: dict[str, list[str]] = {}
    if held_on > timezone.localdate():
        errors.setdefault("held_on", []).append(
            "A review is recorded after it is held: the date cannot be in the future."
        )
    if held_on < apprenticeship.start_date:
        errors.setdefault("held_on", []).append(
            f"The review cannot be held before the apprenticeship started on {apprenticeship.start_date:%-d %B %Y}."
        )
    for name, message in REQUIRED_TEXT.items():
        if not texts[name]:
            errors.setdefault(name, []).append(message)
    if safeguarding_concern and not safeguarding_details:
        errors.setdefault("safeguarding_details", []).append(
            "Describe the safeguarding concern: the designated safeguarding lead needs the details."
        )
    if safeguarding_details and not safeguarding_concern:
        errors.setdefault("safeguarding_details", []).append(
            "Tick “raise a safeguarding concern” to record these details, or clear them."
        )

    tidy = [(description.strip(), owner, due_on) for description, owner, due_on in actions]
    if not tidy:
        errors.setdefault(NON_FIELD_ERRORS, []).append(
            "Agree at least one next action: what will be done, by whom and by when."
        )
    for description, owner, due_on in tidy:
        if not description or owner not in Party.values or due_on is None:
            errors.setdefault(NON_FIELD_ERRORS, []).append(
                "Each next action needs what will be done, who does it and a due date."
            )
        elif due_on <= held_on:
            errors.setdefault(NON_FIELD_ERRORS, []).append(
                f"“{description}” is due on {due_on:%-d %b %Y}: a next action is due after the review "
                f"({held_on:%-d %b %Y})."
            )
    if errors:
        raise ValidationError(errors)
    return tidy


def _review_payload(review: ProgressReview, actions: list[ActionRow]) -> dict:
    # Never the safeguarding details: the audit log is read more widely than the provider's staff.
    return {
        "progress_review": review.pk,
        "held_on": review.held_on,
        "safeguarding_concern": review.safeguarding_concern,
        "actions": [[d, o, due] for d, o, due in actions],
    }


def _tell_safeguarding_lead(review: ProgressReview) -> None:
    # The email says only that a concern was raised: the details stay behind the sign-in.
    for recipient in safeguarding_recipients(review.apprenticeship.provider):
        notify(
            recipient=recipient,
            message=f"A safeguarding concern was raised in a progress review held on {review.held_on:%-d %b %Y}.",
            url=review.get_absolute_url(),
            email_template="reviews/email/safeguarding_concern",
            context={"review": review},
        )


def _ask_to_sign(review: ProgressReview, parties: Sequence[str], message: str, template: str) -> None:
    for party in parties:
        person = person_of(party, review.apprenticeship)
        if person is not None:
            notify(
                recipient=person,
                message=message,
                url=review.get_absolute_url(),
                email_template=f"reviews/email/{template}",
                context={"review": review},
            )


@transaction.atomic
def record_progress_review(
    *,
    apprenticeship: Apprenticeship,
    by: User,
    held_on: datetime.date,
    actions_since_last: str,
    progress_against_plan: str,
    plan_updates: str,
    wellbeing: str,
    concerns: str,
    safeguarding_concern: bool,
    safeguarding_details: str,
    actions: Sequence[ActionRow],
) -> ProgressReview:
    """Records a review the assessor held, capturing OTJ hours and KSB coverage as they stand."""
    apprenticeship = (
        Apprenticeship.objects.select_for_update(of=("self",))
        .select_related("apprentice", "mentor", "assessor", "provider__safeguarding_lead", "standard")
        .get(pk=apprenticeship.pk)
    )
    if not may_record(by, apprenticeship):
        raise PermissionDenied("Only the apprentice's assessor records their progress reviews.")
    texts = {
        name: value.strip()
        for name, value in zip(
            TEXT_FIELDS, (actions_since_last, progress_against_plan, plan_updates, wellbeing, concerns), strict=True
        )
    }
    safeguarding_details = safeguarding_details.strip()
    tidy = _check_content(
        apprenticeship,
        held_on=held_on,
        texts=texts,
        safeguarding_concern=safeguarding_concern,
        safeguarding_details=safeguarding_details,
        actions=actions,
    )
    otj = otj_summary_of(apprenticeship, on=held_on)
    coverage = progress_of(apprenticeship, drafts=False)
    review = ProgressReview.objects.create(
        apprenticeship=apprenticeship,
        held_on=held_on,
        recorded_by=by,
        **texts,
        safeguarding_concern=safeguarding_concern,
        safeguarding_details=safeguarding_details,
        otj_logged_hours=otj.logged,
        otj_verified_hours=otj.verified,
        otj_expected_hours=otj.expected,
        otj_required_hours=otj.required,
        ksb_signed_off=coverage.signed_off,
        ksb_total=coverage.total,
        coverage={cell.ksb.code: cell.state.name.lower() for cell in coverage.cells},
    )
    ReviewAction.objects.bulk_create(
        ReviewAction(review=review, description=d, owner=o, due_on=due) for d, o, due in tidy
    )
    audit.record(
        action="progress_review.recorded",
        actor=by,
        apprenticeship=apprenticeship,
        payload={
            **_review_payload(review, tidy),
            "otj": {
                "logged": otj.logged,
                "verified": otj.verified,
                "expected": otj.expected,
                "required": otj.required,
            },
            "ksb_signed_off": coverage.signed_off,
            "ksb_total": coverage.total,
        },
    )
    if safeguarding_concern:
        _tell_safeguarding_lead(review)
    _ask_to_sign(
        review,
        [Party.APPRENTICE, Party.MENTOR],
        f"Your progress review of {held_on:%-d %b %Y} is recorded: read it and sign it.",
        "progress_review_to_sign",
    )
    return review


@transaction.atomic
def update_progress_review(
    *,
    review: ProgressReview,
    by: User,
    held_on: datetime.date,
    actions_since_last: str,
    progress_against_plan: str,
    plan_updates: str,
    wellbeing: str,
    concerns: str,
    safeguarding_concern: bool,
    safeguarding_details: str,
    actions: Sequence[ActionRow],
) -> ProgressReview:
    """Changes a review's content before it is locked; signatures given on the old content go.

    The OTJ hours and KSB coverage stay as first captured: they are what everyone saw that day.
    """
    review = (
        ProgressReview.objects.select_for_update(of=("self",))
        .select_related(
            "apprenticeship__apprentice",
            "apprenticeship__mentor",
            "apprenticeship__assessor",
            "apprenticeship__provider__safeguarding_lead",
        )
        .get(pk=review.pk)
    )
    apprenticeship = review.apprenticeship
    if not may_record(by, apprenticeship):
        raise PermissionDenied("Only the apprentice's assessor edits their progress reviews.")
    if review.is_locked:
        raise ValidationError("This review is signed by all three parties and locked: it can no longer change.")
    texts = {
        name: value.strip()
        for name, value in zip(
            TEXT_FIELDS, (actions_since_last, progress_against_plan, plan_updates, wellbeing, concerns), strict=True
        )
    }
    safeguarding_details = safeguarding_details.strip()
    if review.safeguarding_concern and not safeguarding_concern:
        raise ValidationError(
            {
                "safeguarding_concern": "A safeguarding concern, once raised, stays on the review: the designated "
                "safeguarding lead has been told of it and follows it up."
            }
        )
    tidy = _check_content(
        apprenticeship,
        held_on=held_on,
        texts=texts,
        safeguarding_concern=safeguarding_concern,
        safeguarding_details=safeguarding_details,
        actions=actions,
    )

    before = {name: getattr(review, name) for name in (*TEXT_FIELDS, "held_on", "safeguarding_details")}
    after = {**texts, "held_on": held_on, "safeguarding_details": safeguarding_details}
    old_actions = sorted((a.description, a.owner, a.due_on) for a in review.actions.all())
    changed = sorted(name for name in after if after[name] != before[name])
    if review.safeguarding_concern != safeguarding_concern:
        changed.append("safeguarding_concern")
    if old_actions != sorted(tidy):
        changed.append("actions")
    if not changed:
        return review  # nothing to change, so the signatures still hold

    newly_raised = safeguarding_concern and not review.safeguarding_concern
    signed_hash = content_hash(review)
    for name, value in after.items():
        setattr(review, name, value)
    review.safeguarding_concern = safeguarding_concern
    review.save()
    review.actions.all().delete()
    ReviewAction.objects.bulk_create(
        ReviewAction(review=review, description=d, owner=o, due_on=due) for d, o, due in tidy
    )
    audit.record(
        action="progress_review.updated",
        actor=by,
        apprenticeship=apprenticeship,
        payload={**_review_payload(review, tidy), "changed": changed},
    )

    # They signed different words: their signatures no longer stand. A change to the safeguarding
    # part alone leaves them, as it is not what they signed (and must not alert the employer).
    removed = []
    if content_hash(review) != signed_hash:
        removed = list(Signature.objects.filter(review=review).select_related("signer"))
    if removed:
        Signature.objects.filter(pk__in=[s.pk for s in removed]).delete()
        audit.record(
            action="progress_review.signatures_removed",
            actor=by,
            apprenticeship=apprenticeship,
            payload={
                "progress_review": review.pk,
                "signatures": [
                    {"party": s.party, "signer": s.signer_id, "content_hash": s.content_hash} for s in removed
                ],
            },
        )
        for signature in removed:
            if signature.signer_id != by.pk:
                notify(
                    recipient=signature.signer,
                    message=f"The progress review of {review.held_on:%-d %b %Y} changed after you signed it: "
                    "read it again and sign it.",
                    url=review.get_absolute_url(),
                    email_template="reviews/email/progress_review_sign_again",
                    context={"review": review},
                )
    if newly_raised:
        _tell_safeguarding_lead(review)
    return review
