"""Writes to people and apprenticeships. Views, admin actions and commands call these."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import Truncator

from standards.models import Standard

from . import audit
from .models import Apprenticeship, BreakInLearning, Organisation, User
from .notices import notify


@transaction.atomic
def enrol_apprentice(
    *,
    apprentice: User,
    standard: Standard,
    employer: Organisation,
    assessor: User,
    mentor: User | None = None,
    start_date: datetime.date,
    planned_end_date: datetime.date,
) -> Apprenticeship:
    """Enrols an apprentice on a standard version with their own provider.

    Raises ValidationError when the people and organisations do not fit together.
    """
    apprenticeship = Apprenticeship(
        apprentice=apprentice,
        standard=standard,
        provider=apprentice.organisation,
        employer=employer,
        assessor=assessor,
        mentor=mentor,
        start_date=start_date,
        planned_end_date=planned_end_date,
    )
    apprenticeship.full_clean()
    apprenticeship.save()
    return apprenticeship


# --- Breaks in learning and the planned end date ------------------------------------------------


def may_manage_programme(user: User, apprenticeship: Apprenticeship) -> bool:
    """An admin of the apprenticeship's provider, or its assessor, records breaks and moves the end date."""
    if not user.is_authenticated:
        return False
    if user.role == User.Role.PROVIDER_ADMIN:
        return user.organisation_id == apprenticeship.provider_id
    return user.role == User.Role.ASSESSOR and apprenticeship.assessor_id == user.pk


def _locked_apprenticeship(apprenticeship: Apprenticeship, by: User) -> Apprenticeship:
    # Locked so that two people starting or ending a break at once cannot both succeed.
    apprenticeship = Apprenticeship.objects.select_for_update().select_related("apprentice").get(pk=apprenticeship.pk)
    if not may_manage_programme(by, apprenticeship):
        raise PermissionDenied("Only an admin of the provider, or the apprentice's assessor, changes the programme.")
    return apprenticeship


def _tell_apprentice(apprenticeship: Apprenticeship, by: User, message: str) -> None:
    if by.pk != apprenticeship.apprentice_id:
        notify(recipient=apprenticeship.apprentice, message=message)


@transaction.atomic
def start_break(*, apprenticeship: Apprenticeship, by: User, starts_on: datetime.date, reason: str) -> BreakInLearning:
    """Starts a break in learning: the off-the-job clock stops until the break is ended."""
    reason = reason.strip()
    apprenticeship = _locked_apprenticeship(apprenticeship, by)
    if apprenticeship.status != Apprenticeship.Status.ACTIVE:
        raise ValidationError(
            f"This apprenticeship is {apprenticeship.get_status_display().lower()}: "
            "a break in learning starts only from active learning."
        )
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = "Say why the apprentice is taking a break, e.g. illness or parental leave."
    if starts_on > timezone.localdate():
        errors["starts_on"] = "The break cannot start in the future: record it on the day it starts, or after."
    elif starts_on < apprenticeship.start_date:
        errors["starts_on"] = (
            f"The apprenticeship started on {apprenticeship.start_date:%-d %B %Y}; the break cannot start before."
        )
    else:
        last = apprenticeship.breaks.filter(ends_on__gte=starts_on).order_by("-ends_on").first()
        if last:
            errors["starts_on"] = (
                f"An earlier break ran until {last.ends_on:%-d %B %Y}: a new one starts after that day."
            )
    if errors:
        raise ValidationError(errors)
    pause = BreakInLearning.objects.create(
        apprenticeship=apprenticeship, starts_on=starts_on, reason=reason, recorded_by=by
    )
    apprenticeship.status = Apprenticeship.Status.BREAK_IN_LEARNING
    apprenticeship.save(update_fields=["status"])
    audit.record(
        action="break.started",
        actor=by,
        apprenticeship=apprenticeship,
        payload={"break": pause.pk, "starts_on": starts_on, "reason": reason},
    )
    _tell_apprentice(
        apprenticeship,
        by,
        f"{by} recorded a break in learning from {starts_on:%-d %b %Y}: your off-the-job clock is paused.",
    )
    return pause


@transaction.atomic
def end_break(
    *,
    apprenticeship: Apprenticeship,
    by: User,
    ends_on: datetime.date,
    new_planned_end_date: datetime.date | None = None,
) -> BreakInLearning:
    """Ends the open break on its last day and returns the apprentice to active learning.

    The planned end date moves later by the break's length unless another date is given.
    """
    apprenticeship = _locked_apprenticeship(apprenticeship, by)
    pause = apprenticeship.breaks.filter(ends_on__isnull=True).first()
    if apprenticeship.status != Apprenticeship.Status.BREAK_IN_LEARNING or pause is None:
        raise ValidationError("This apprenticeship is not on a break in learning, so there is no break to end.")
    errors: dict[str, str] = {}
    if ends_on < pause.starts_on:
        errors["ends_on"] = f"The break started on {pause.starts_on:%-d %B %Y}: it cannot end before then."
    elif ends_on > timezone.localdate():
        errors["ends_on"] = "The break cannot end in the future: end it once the apprentice is back."
    days = (ends_on - pause.starts_on).days + 1
    old_end = apprenticeship.planned_end_date
    planned_end = new_planned_end_date or old_end + datetime.timedelta(days=days)
    if new_planned_end_date is not None and new_planned_end_date <= max(apprenticeship.start_date, ends_on):
        errors["new_planned_end_date"] = "The new planned end date must be after the start date and after the break."
    if errors:
        raise ValidationError(errors)
    pause.ends_on = ends_on
    pause.save(update_fields=["ends_on"])
    apprenticeship.status = Apprenticeship.Status.ACTIVE
    apprenticeship.planned_end_date = planned_end
    apprenticeship.save(update_fields=["status", "planned_end_date"])
    audit.record(
        action="break.ended",
        actor=by,
        apprenticeship=apprenticeship,
        payload={
            "break": pause.pk,
            "starts_on": pause.starts_on,
            "ends_on": ends_on,
            "days": days,
            "planned_end_date": {"old": old_end, "new": planned_end},
        },
    )
    _tell_apprentice(
        apprenticeship,
        by,
        f"Your break in learning ended on {ends_on:%-d %b %Y}. Your planned end date is now {planned_end:%-d %b %Y}.",
    )
    return pause


@transaction.atomic
def change_planned_end_date(
    *, apprenticeship: Apprenticeship, by: User, planned_end_date: datetime.date, reason: str
) -> Apprenticeship:
    """Moves the planned end date, e.g. after a change to the training plan; the reason is kept in the audit log."""
    reason = reason.strip()
    apprenticeship = _locked_apprenticeship(apprenticeship, by)
    errors: dict[str, str] = {}
    old_end = apprenticeship.planned_end_date
    if planned_end_date <= apprenticeship.start_date:
        errors["planned_end_date"] = (
            f"The planned end date must be after the start date, {apprenticeship.start_date:%-d %B %Y}."
        )
    elif planned_end_date == old_end:
        errors["planned_end_date"] = "That is already the planned end date."
    if not reason:
        errors["reason"] = "Say why the planned end date changes."
    if errors:
        raise ValidationError(errors)
    apprenticeship.planned_end_date = planned_end_date
    apprenticeship.save(update_fields=["planned_end_date"])
    audit.record(
        action="apprenticeship.planned_end_date_changed",
        actor=by,
        apprenticeship=apprenticeship,
        payload={"old": old_end, "new": planned_end_date, "reason": reason},
    )
    _tell_apprentice(
        apprenticeship,
        by,
        Truncator(
            f"Your planned end date moved from {old_end:%-d %b %Y} to {planned_end_date:%-d %b %Y}: {reason}"
        ).chars(300),
    )
    return apprenticeship
