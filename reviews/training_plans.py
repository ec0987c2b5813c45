"""Training plans: versioned, signed by the apprentice, their employer mentor and their assessor.

A plan nobody has signed yet is changed in place; once anyone has signed a version, a change
makes a new version and the signed one stays as it was. The plan's planned end date is the
apprenticeship's: saving a plan with another date moves the apprenticeship's, so the off-the-job
requirement follows it.
"""

from __future__ import annotations

import copy
import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from evidence.otj import required_hours, rule_for
from portal import audit
from portal.models import Apprenticeship, User
from portal.notices import notify

from .models import Party, TrainingPlan
from .signatures import person_of

DONE = (TrainingPlan.EnglishMaths.ACHIEVED, TrainingPlan.EnglishMaths.EXEMPT)

CONTENT_FIELDS = (
    "planned_otj_hours",
    "planned_end_date",
    "epa_organisation",
    "english_status",
    "english_evidence",
    "maths_status",
    "maths_evidence",
    "text",
)


def may_edit_plan(user: User, apprenticeship: Apprenticeship) -> bool:
    """The apprentice's assessor, or an admin of their provider, writes the training plan."""
    if user.role == User.Role.ASSESSOR:
        return apprenticeship.assessor_id == user.pk
    return user.role == User.Role.PROVIDER_ADMIN and user.organisation_id == apprenticeship.provider_id


def current_plan(apprenticeship: Apprenticeship) -> TrainingPlan | None:
    return apprenticeship.training_plans.order_by("-version").first()


def minimum_otj_hours(apprenticeship: Apprenticeship, planned_end_date: datetime.date) -> tuple[int | None, str]:
    """The OTJ hours required were the apprenticeship to end on `planned_end_date`, and the working.

    Worked out on an unsaved copy, so nothing changes until the plan is saved.
    """
    planned = copy.copy(apprenticeship)
    planned.planned_end_date = planned_end_date
    _, requirement = required_hours(planned, list(apprenticeship.breaks.all()))
    if requirement.hours is None:
        return None, requirement.problem
    return int(requirement.hours), requirement.working


def _check(apprenticeship: Apprenticeship, values: dict) -> None:
    """Raises a ValidationError keyed by field for anything the funding rules or the plan need."""
    errors: dict[str, list[str]] = {}
    start, end = apprenticeship.start_date, values["planned_end_date"]
    if end <= start:
        errors["planned_end_date"] = [f"The planned end date must be after the start date ({start:%-d %B %Y})."]
    elif problem := rule_for(start).duration_problem(start=start, planned_end=end):
        errors["planned_end_date"] = [problem]
    else:
        minimum, working = minimum_otj_hours(apprenticeship, end)
        if minimum is not None and values["planned_otj_hours"] < minimum:
            errors["planned_otj_hours"] = [
                f"Plan at least {minimum} off-the-job hours: that is the minimum for this apprenticeship "
                f"ending on {end:%-d %B %Y} ({working})."
            ]
    if values["planned_otj_hours"] < 1:
        errors.setdefault("planned_otj_hours", []).append("Plan a number of off-the-job hours above nought.")
    for subject, label in (("english", "English"), ("maths", "maths")):
        status = values[f"{subject}_status"]
        if status not in TrainingPlan.EnglishMaths.values:
            errors[f"{subject}_status"] = [f"Choose where the apprentice stands on {label}."]
        elif status in DONE and not values[f"{subject}_evidence"]:
            errors[f"{subject}_evidence"] = [
                f"Record the {label} evidence (for example the qualification and grade, and that the certificate "
                "was seen): it is needed when it is achieved or exempt."
            ]
    if not values["epa_organisation"]:
        errors["epa_organisation"] = ["Name the end-point assessment organisation."]
    if not values["text"]:
        errors["text"] = ["Write the plan: the training, who delivers it and when."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def save_training_plan(
    *,
    apprenticeship: Apprenticeship,
    by: User,
    planned_otj_hours: int,
    planned_end_date: datetime.date,
    epa_organisation: str,
    english_status: str,
    english_evidence: str,
    maths_status: str,
    maths_evidence: str,
    text: str,
) -> TrainingPlan:
    """Saves the training plan: in place while nobody has signed it, else as a new version."""
    # Locking the apprenticeship serialises saves, so two cannot both make the same new version.
    apprenticeship = (
        Apprenticeship.objects.select_for_update(of=("self",))
        .select_related("apprentice", "mentor", "assessor", "standard")
        .get(pk=apprenticeship.pk)
    )
    if not may_edit_plan(by, apprenticeship):
        raise PermissionDenied("Only the apprentice's assessor or a provider admin writes the training plan.")
    values = {
        "planned_otj_hours": planned_otj_hours,
        "planned_end_date": planned_end_date,
        "epa_organisation": epa_organisation.strip(),
        "english_status": english_status,
        "english_evidence": english_evidence.strip(),
        "maths_status": maths_status,
        "maths_evidence": maths_evidence.strip(),
        "text": text.strip(),
    }
    _check(apprenticeship, values)

    # Locked too, so a signature cannot land between the check below and a change in place.
    latest = apprenticeship.training_plans.select_for_update().order_by("-version").first()
    in_place = latest is not None and not latest.is_locked and not latest.signatures.exists()
    unchanged = in_place and all(getattr(latest, name) == value for name, value in values.items())
    if unchanged and apprenticeship.planned_end_date == planned_end_date:
        return latest  # saved unchanged: nobody needs asking again
    if in_place:
        for name, value in values.items():
            setattr(latest, name, value)
        latest.save()
        plan = latest
    else:
        plan = TrainingPlan.objects.create(
            apprenticeship=apprenticeship,
            version=latest.version + 1 if latest else 1,
            created_by=by,
            **values,
        )
    audit.record(
        action="training_plan.saved",
        actor=by,
        apprenticeship=apprenticeship,
        payload={"training_plan": plan.pk, "version": plan.version, "new_version": not in_place, **values},
    )

    if apprenticeship.planned_end_date != planned_end_date:
        old = apprenticeship.planned_end_date
        apprenticeship.planned_end_date = planned_end_date
        apprenticeship.save(update_fields=["planned_end_date"])
        audit.record(
            action="apprenticeship.planned_end_date_changed",
            actor=by,
            apprenticeship=apprenticeship,
            payload={"old": old, "new": planned_end_date, "training_plan": plan.pk, "version": plan.version},
        )

    for party in Party:
        person = person_of(party, apprenticeship)
        if person is not None and person.pk != by.pk:
            notify(
                recipient=person,
                message=f"Version {plan.version} of the training plan is ready: read it and sign it.",
                url=plan.get_absolute_url(),
                email_template="reviews/email/training_plan_to_sign",
                context={"plan": plan, "apprenticeship": apprenticeship},
            )
    return plan
