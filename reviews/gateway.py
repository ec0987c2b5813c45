"""Gateway: whether an apprentice is ready for end-point assessment, and moving them there.

The checklist is computed from the records, never ticked by hand: every KSB signed off, the
off-the-job requirement met by verified hours, English and maths recorded in the training plan,
a recent progress review and the training plan signed by all three parties, and the employer's
and the provider's recorded agreement. Only when all hold can a provider admin move the
apprenticeship to gateway, which also queues the portfolio PDF the assessment organisation reads.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from evidence.otj import otj_summary_of
from portal import audit
from portal.models import Apprenticeship, User
from portal.notices import notify
from standards.models import KSB

from .exports import request_portfolio_export
from .models import Export, GatewayConfirmation, Party, ProgressReview, SignOff, TrainingPlan
from .schedule import REVIEW_INTERVAL, review_status_of

# A long list of missing KSBs helps nobody in one line; the coverage grid shows them all.
MISSING_KSBS_SHOWN = 12


@dataclass(frozen=True)
class ChecklistItem:
    """One condition of gateway readiness: whether it holds, why in words, and where to act on it."""

    key: str
    label: str
    met: bool
    detail: str
    url_name: str = ""
    url_args: tuple = ()

    @property
    def url(self) -> str:
        """The page where someone can act on it."""
        return reverse(self.url_name, args=self.url_args) if self.url_name else ""


@dataclass(frozen=True)
class Checklist:
    apprenticeship: Apprenticeship
    items: list[ChecklistItem]
    on: datetime.date
    confirmations: dict[str, GatewayConfirmation] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(item.met for item in self.items)

    @property
    def unmet(self) -> list[ChecklistItem]:
        return [item for item in self.items if not item.met]

    @property
    def met_count(self) -> int:
        return sum(1 for item in self.items if item.met)

    def as_payload(self) -> list[dict]:
        """For the audit entry: what held on the day, in words."""
        return [{"item": i.key, "met": i.met, "detail": i.detail} for i in self.items]


def _hours(value: Decimal) -> str:
    """480.00 -> "480", 12.50 -> "12.5"."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _day(day: datetime.date | datetime.datetime) -> str:
    if isinstance(day, datetime.datetime):
        day = timezone.localdate(day)
    return f"{day:%-d %b %Y}"


def _waiting_for(apprenticeship: Apprenticeship, signatures) -> str:
    signed = {s.party for s in signatures}
    people = {Party.APPRENTICE: apprenticeship.apprentice, Party.MENTOR: apprenticeship.mentor}
    people[Party.ASSESSOR] = apprenticeship.assessor
    waiting = [
        f"{Party(party).label.lower()} {people[party] or '(none assigned)'}"
        for party in Party.values
        if party not in signed
    ]
    return f"signed by {len(signed)} of 3; waiting for the {', the '.join(waiting)}"


def _ksb_item(apprenticeship: Apprenticeship) -> ChecklistItem:
    live = SignOff.objects.live().filter(apprenticeship=apprenticeship, ksb=OuterRef("pk"))
    rows = list(KSB.objects.filter(standard_id=apprenticeship.standard_id).annotate(signed=Exists(live)))
    missing = [k.code for k in rows if not k.signed]
    signed = len(rows) - len(missing)
    if not rows:
        detail, met = "The standard has no KSBs loaded.", False
    elif missing:
        shown = ", ".join(missing[:MISSING_KSBS_SHOWN])
        more = f" and {len(missing) - MISSING_KSBS_SHOWN} more" if len(missing) > MISSING_KSBS_SHOWN else ""
        detail, met = f"{signed} of {len(rows)} signed off; missing: {shown}{more}", False
    else:
        detail, met = f"All {len(rows)} signed off", True
    return ChecklistItem("ksbs", "Every KSB signed off", met, detail, "reviews:apprenticeship", (apprenticeship.pk,))


def _otj_item(apprenticeship: Apprenticeship, on: datetime.date) -> ChecklistItem:
    summary = otj_summary_of(apprenticeship, on=on)
    problem = summary.requirement.problem
    if summary.required is None:
        detail = f"{_hours(summary.verified)} verified hours, but the requirement is not known: {problem}"
    else:
        detail = f"{_hours(summary.verified)} of {_hours(summary.required)} verified hours"
        waiting = summary.logged - summary.verified
        if not summary.met and waiting > 0:
            detail += f" ({_hours(waiting)} more logged, waiting for the assessor to verify)"
        if problem:
            detail += f". {problem}"
    label = "Off-the-job hours requirement met by verified hours"
    return ChecklistItem("otj", label, summary.met, detail, "evidence:otj_log", (apprenticeship.pk,))


def _english_maths_item(apprenticeship: Apprenticeship, plan: TrainingPlan | None) -> ChecklistItem:
    label = "English and maths evidence recorded"
    link = ("reviews:training_plan", (apprenticeship.pk,))
    if plan is None:
        return ChecklistItem("english_maths", label, False, "No training plan has been recorded yet", *link)
    if plan.english_and_maths_recorded:
        return ChecklistItem(
            "english_maths",
            label,
            True,
            f"English: {plan.english_evidence.strip()}; maths: {plan.maths_evidence.strip()}",
            *link,
        )

    def state(status: str, evidence: str) -> str:
        words = TrainingPlan.EnglishMaths(status).label.lower()
        if status != TrainingPlan.EnglishMaths.WORKING_TOWARDS and not evidence.strip():
            words += ", but the evidence is not written down"
        return words

    detail = (
        f"English: {state(plan.english_status, plan.english_evidence)}; "
        f"maths: {state(plan.maths_status, plan.maths_evidence)}. Each must be achieved or exempt, with its evidence "
        f"recorded in the training plan (version {plan.version})"
    )
    return ChecklistItem("english_maths", label, False, detail, *link)


def _review_item(apprenticeship: Apprenticeship, on: datetime.date) -> ChecklistItem:
    label = "Last progress review within 12 weeks and signed by all three"
    link = ("reviews:progress_reviews", (apprenticeship.pk,))
    status = review_status_of(apprenticeship, on=on)
    latest = (
        ProgressReview.objects.filter(apprenticeship=apprenticeship)
        .order_by("-held_on", "-pk")
        .prefetch_related("signatures")
        .first()
    )
    if latest is None:
        return ChecklistItem("progress_review", label, False, "No progress review has been held yet", *link)
    held = f"Held {_day(latest.held_on)}"
    if not status.held_within_interval:
        weeks = REVIEW_INTERVAL.days // 7
        return ChecklistItem(
            "progress_review", label, False, f"{held}, more than {weeks} weeks ago: hold a new review", *link
        )
    if latest.is_locked:
        return ChecklistItem("progress_review", label, True, f"{held} and signed by all three", *link)
    detail = f"{held}; {_waiting_for(apprenticeship, latest.signatures.all())}"
    return ChecklistItem("progress_review", label, False, detail, "reviews:progress_review", (latest.pk,))


def _plan_item(apprenticeship: Apprenticeship, plan: TrainingPlan | None) -> ChecklistItem:
    label = "Training plan signed by all three"
    link = ("reviews:training_plan", (apprenticeship.pk,))
    if plan is None:
        return ChecklistItem("training_plan", label, False, "No training plan has been recorded yet", *link)
    if plan.is_locked:
        return ChecklistItem(
            "training_plan", label, True, f"Version {plan.version} signed by all three on {_day(plan.locked_at)}", *link
        )
    detail = f"Version {plan.version} {_waiting_for(apprenticeship, plan.signatures.all())}"
    return ChecklistItem("training_plan", label, False, detail, *link)


def _confirmation_item(
    apprenticeship: Apprenticeship, party: str, confirmation: GatewayConfirmation | None
) -> ChecklistItem:
    side = GatewayConfirmation.Party(party)
    label = f"{side.label} agrees the apprentice is ready"
    link = ("reviews:gateway", (apprenticeship.pk,))
    if confirmation:
        detail = f"Confirmed by {confirmation.confirmed_by} on {_day(confirmation.confirmed_at)}"
        if confirmation.comment:
            detail += f": “{confirmation.comment}”"
        return ChecklistItem(party, label, True, detail, *link)
    if party == GatewayConfirmation.Party.EMPLOYER:
        if apprenticeship.mentor_id is None:
            detail = "No employer mentor is assigned, so the employer cannot confirm: a provider admin assigns one"
        else:
            detail = f"Waiting for the employer mentor, {apprenticeship.mentor}, to confirm"
    else:
        detail = f"Waiting for the assessor, {apprenticeship.assessor}, or a provider admin to confirm"
    return ChecklistItem(party, label, False, detail, *link)


def gateway_checklist(apprenticeship: Apprenticeship, *, on: datetime.date | None = None) -> Checklist:
    """Where the apprenticeship stands against each gateway condition on a day (today by default).

    About ten queries, however many KSBs, reviews and hours there are. Expects the apprenticeship's
    people and standard loaded (`with_people()`); it still works without, a few queries dearer.
    """
    on = on or timezone.localdate()
    plan = apprenticeship.training_plans.order_by("-version").prefetch_related("signatures").first()
    confirmations = {
        c.party: c
        for c in GatewayConfirmation.objects.filter(apprenticeship=apprenticeship).select_related("confirmed_by")
    }
    items = [
        _ksb_item(apprenticeship),
        _otj_item(apprenticeship, on),
        _english_maths_item(apprenticeship, plan),
        _review_item(apprenticeship, on),
        _plan_item(apprenticeship, plan),
        *(
            _confirmation_item(apprenticeship, party, confirmations.get(party))
            for party in (GatewayConfirmation.Party.EMPLOYER, GatewayConfirmation.Party.PROVIDER)
        ),
    ]
    return Checklist(apprenticeship=apprenticeship, items=items, on=on, confirmations=confirmations)


# --- Who may do what ---------------------------------------------------------------------------


def confirming_party(user: User, apprenticeship: Apprenticeship) -> str | None:
    """The side a person confirms readiness for: the mentor for the employer, staff for the provider."""
    if user.role == User.Role.MENTOR and apprenticeship.mentor_id == user.pk:
        return GatewayConfirmation.Party.EMPLOYER
    if user.role == User.Role.ASSESSOR and apprenticeship.assessor_id == user.pk:
        return GatewayConfirmation.Party.PROVIDER
    if user.role == User.Role.PROVIDER_ADMIN and user.organisation_id == apprenticeship.provider_id:
        return GatewayConfirmation.Party.PROVIDER
    return None


def may_move_to_gateway(user: User, apprenticeship: Apprenticeship) -> bool:
    return user.role == User.Role.PROVIDER_ADMIN and user.organisation_id == apprenticeship.provider_id


def _locked(apprenticeship: Apprenticeship) -> Apprenticeship:
    # The locking read: two people acting at once on the same apprenticeship take turns.
    # of=("self",): the mentor is a nullable join, which PostgreSQL cannot lock.
    return Apprenticeship.objects.select_for_update(of=("self",)).with_people().get(pk=apprenticeship.pk)


def _check_active(apprenticeship: Apprenticeship, doing: str) -> None:
    if apprenticeship.status != Apprenticeship.Status.ACTIVE:
        raise ValidationError(
            f"Only an active apprenticeship can {doing}: this one is {apprenticeship.get_status_display().lower()}."
        )


# --- Services ----------------------------------------------------------------------------------


@transaction.atomic
def confirm_gateway_readiness(*, apprenticeship: Apprenticeship, by: User, comment: str = "") -> GatewayConfirmation:
    """Records the employer's (by the mentor) or the provider's (by the assessor or an admin) agreement."""
    comment = comment.strip()
    apprenticeship = _locked(apprenticeship)
    party = confirming_party(by, apprenticeship)
    if party is None:
        raise PermissionDenied(
            "Only the apprentice's employer mentor, their assessor or a provider admin confirms gateway readiness."
        )
    _check_active(apprenticeship, "be confirmed ready for gateway")
    existing = (
        GatewayConfirmation.objects.filter(apprenticeship=apprenticeship, party=party)
        .select_related("confirmed_by")
        .first()
    )
    side = GatewayConfirmation.Party(party).label.lower()
    if existing:
        raise ValidationError(
            f"The {side} already confirmed readiness ({existing.confirmed_by}, {_day(existing.confirmed_at)}): "
            "withdraw that confirmation first to confirm again."
        )
    if len(comment) > 500:
        raise ValidationError("Keep the comment to 500 characters.")
    try:
        with transaction.atomic():
            confirmation = GatewayConfirmation.objects.create(
                apprenticeship=apprenticeship, party=party, confirmed_by=by, comment=comment
            )
    except IntegrityError:
        raise ValidationError(f"The {side} has just confirmed readiness.") from None
    audit.record(
        action="gateway.confirmed",
        actor=by,
        apprenticeship=apprenticeship,
        payload={"confirmation": confirmation.pk, "party": party, "comment": comment},
    )
    url = reverse("reviews:gateway", args=[apprenticeship.pk])
    for person in _other_side(apprenticeship, party):
        notify(
            recipient=person,
            message=f"{by} confirmed for the {side} that {apprenticeship.apprentice} is ready for gateway.",
            url=url,
        )
    return confirmation


@transaction.atomic
def withdraw_gateway_confirmation(*, confirmation: GatewayConfirmation, by: User) -> None:
    """Takes back a side's agreement; only someone of that side may, and only before gateway."""
    apprenticeship = _locked(confirmation.apprenticeship)
    confirmation = GatewayConfirmation.objects.select_related("confirmed_by").get(pk=confirmation.pk)
    if confirming_party(by, apprenticeship) != confirmation.party:
        raise PermissionDenied("Only someone on the side that confirmed readiness withdraws it.")
    _check_active(apprenticeship, "have a gateway confirmation withdrawn")
    side = confirmation.get_party_display().lower()
    audit.record(
        action="gateway.confirmation_withdrawn",
        actor=by,
        apprenticeship=apprenticeship,
        payload={
            "confirmation": confirmation.pk,
            "party": confirmation.party,
            "confirmed_by": confirmation.confirmed_by_id,
            "confirmed_at": confirmation.confirmed_at,
            "comment": confirmation.comment,
        },
    )
    confirmation.delete()
    url = reverse("reviews:gateway", args=[apprenticeship.pk])
    for person in _other_side(apprenticeship, confirmation.party):
        notify(
            recipient=person,
            message=f"{by} withdrew the {side}'s confirmation that {apprenticeship.apprentice} is ready for gateway.",
            url=url,
        )


def _other_side(apprenticeship: Apprenticeship, party: str) -> list[User]:
    """Who needs to hear of one side's agreement: the other side's person on this apprenticeship."""
    if party == GatewayConfirmation.Party.EMPLOYER:
        return [apprenticeship.assessor]
    return [apprenticeship.mentor] if apprenticeship.mentor else []


@transaction.atomic
def move_to_gateway(*, apprenticeship: Apprenticeship, by: User) -> Export:
    """Moves a ready apprenticeship to gateway and queues its portfolio PDF for the assessment organisation."""
    apprenticeship = _locked(apprenticeship)
    if not may_move_to_gateway(by, apprenticeship):
        raise PermissionDenied("Only a provider admin of the apprentice's provider moves them to gateway.")
    _check_active(apprenticeship, "move to gateway")
    # Recomputed under the lock: what the page showed may have changed since.
    checklist = gateway_checklist(apprenticeship)
    if not checklist.ready:
        raise ValidationError(
            ["Not ready for gateway yet:"] + [f"{item.label}: {item.detail}." for item in checklist.unmet]
        )
    apprenticeship.status = Apprenticeship.Status.AT_GATEWAY
    apprenticeship.save(update_fields=["status"])
    audit.record(
        action="apprenticeship.gateway",
        actor=by,
        apprenticeship=apprenticeship,
        payload={"on": checklist.on, "checklist": checklist.as_payload()},
    )
    export = request_portfolio_export(apprenticeship=apprenticeship, by=by)
    url = reverse("reviews:gateway", args=[apprenticeship.pk])
    for person in (apprenticeship.apprentice, apprenticeship.assessor, apprenticeship.mentor):
        if person is None:
            continue
        whose = "You have" if person.pk == apprenticeship.apprentice_id else f"{apprenticeship.apprentice} has"
        standard = f"{apprenticeship.standard.reference} {apprenticeship.standard.title}"
        notify(
            recipient=person,
            message=f"{whose} moved to gateway for {standard}.",
            url=url,
            email_template="reviews/email/gateway_moved",
            context={"apprenticeship": apprenticeship, "checklist": checklist, "moved_by": by},
        )
    return export
