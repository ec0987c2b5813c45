"""Reminders: what needs someone's attention today, told to them once per condition.

Each kind has a function that finds the conditions that hold now, as Reminder rows (who, a key
naming the condition, the message, where to act), in a fixed number of queries however many
apprenticeships there are. `send_reminders` sends those not sent before, recording each in
SentReminder, and forgets rows whose condition has cleared, so a condition that comes back is
reminded again. Only active apprenticeships are reminded about; a break in learning, gateway,
withdrawal or completion stops them.

A daily Celery beat task runs each kind (see CELERY_BEAT_SCHEDULE).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Prefetch, Subquery
from django.urls import reverse
from django.utils import timezone

from evidence.models import EvidenceItem, EvidenceVersion
from evidence.otj import otj_summaries
from portal.models import Apprenticeship, Notice, User
from portal.notices import notify

from .models import Party, ProgressReview, SentReminder, Signature, TrainingPlan
from .schedule import review_statuses

REVIEW_DUE = "review_due"
EVIDENCE_WAITING = "evidence_waiting"
OTJ_BEHIND = "otj_behind"
SIGNATURES = "signatures"

MESSAGE_LENGTH = Notice._meta.get_field("message").max_length


@dataclass(frozen=True)
class Reminder:
    recipient: User
    key: str
    message: str
    url: str


def _reminder(recipient: User, key: str, message: str, url: str) -> Reminder:
    if len(message) > MESSAGE_LENGTH:
        message = message[: MESSAGE_LENGTH - 1] + "…"
    return Reminder(recipient=recipient, key=key, message=message, url=url)


def _day(day: datetime.date) -> str:
    return f"{day:%-d %b %Y}"


def _start_of(day: datetime.date) -> datetime.datetime:
    """Midnight at the start of a local day: "more than N days ago" counts whole days."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _active() -> list[Apprenticeship]:
    return list(Apprenticeship.objects.filter(status=Apprenticeship.Status.ACTIVE).with_people().order_by("pk"))


def _people(apprenticeship: Apprenticeship) -> list[User]:
    """The apprentice, the assessor and the mentor (when there is one), still able to sign in."""
    people = [apprenticeship.apprentice, apprenticeship.assessor, apprenticeship.mentor]
    return [p for p in people if p is not None and p.is_active]


def _whose(recipient: User, apprenticeship: Apprenticeship) -> str:
    return "Your" if recipient.pk == apprenticeship.apprentice_id else f"{apprenticeship.apprentice}'s"


# --- Finding -----------------------------------------------------------------------------------


def reviews_due(*, on: datetime.date | None = None) -> list[Reminder]:
    """Progress reviews due within seven days, or overdue: to the apprentice, the assessor and the mentor.

    The key carries the due date, so each is reminded once per due date, and once more when it
    turns from due soon to overdue. Two queries.
    """
    on = on or timezone.localdate()
    apprenticeships = _active()
    statuses = review_statuses(apprenticeships, on=on)
    reminders = []
    for a in apprenticeships:
        status = statuses[a.pk]
        if status.overdue:
            state = "overdue"
        elif status.due_soon:
            state = "soon"
        else:
            continue
        url = reverse("reviews:progress_reviews", args=[a.pk])
        for person in _people(a):
            if state == "overdue":
                message = (
                    f"{_whose(person, a)} progress review was due on {_day(status.next_due)} and is "
                    f"{status.days_overdue} days overdue: arrange it now."
                )
            else:
                message = f"{_whose(person, a)} progress review is due by {_day(status.next_due)}: arrange it now."
            reminders.append(_reminder(person, f"review-due:{state}:{a.pk}:{status.next_due}", message, url))
    return reminders


def evidence_waiting(*, on: datetime.date | None = None) -> list[Reminder]:
    """Submitted evidence waiting more than REMINDER_EVIDENCE_WAITING_DAYS for a decision: to the assessor.

    One reminder per submitted version, so a resubmission is a new condition. One query.
    """
    on = on or timezone.localdate()
    days = settings.REMINDER_EVIDENCE_WAITING_DAYS
    newest = EvidenceVersion.objects.filter(item=OuterRef("item")).order_by("-number").values("number")[:1]
    versions = (
        EvidenceVersion.objects.filter(
            item__status=EvidenceItem.Status.SUBMITTED,
            item__apprenticeship__status=Apprenticeship.Status.ACTIVE,
            submitted_at__lt=_start_of(on - datetime.timedelta(days=days)),
            number=Subquery(newest),
        )
        .select_related("item__apprenticeship__apprentice", "item__apprenticeship__assessor")
        .order_by("submitted_at", "pk")
    )
    reminders = []
    for version in versions:
        apprenticeship = version.item.apprenticeship
        assessor = apprenticeship.assessor
        if not assessor.is_active:
            continue
        submitted = timezone.localdate(version.submitted_at)
        message = (
            f"“{version.title}” from {apprenticeship.apprentice} has waited {(on - submitted).days} days for your "
            f"decision (submitted {_day(submitted)})."
        )
        url = reverse("reviews:review", args=[version.item_id])
        reminders.append(_reminder(assessor, f"evidence-waiting:{version.pk}", message, url))
    return reminders


def otj_behind(*, on: datetime.date | None = None) -> list[Reminder]:
    """Apprentices more than two weeks of hours behind the off-the-job trajectory: to them and their assessor.

    Three queries.
    """
    on = on or timezone.localdate()
    apprenticeships = _active()
    summaries = otj_summaries(apprenticeships, on=on)
    reminders = []
    for a in apprenticeships:
        summary = summaries[a.pk]
        if not summary.behind:
            continue
        url = reverse("evidence:otj_log", args=[a.pk])
        for person in (a.apprentice, a.assessor):
            if not person.is_active:
                continue
            who = "You are" if person.pk == a.apprentice_id else f"{a.apprentice} is"
            message = (
                f"{who} {summary.shortfall:.0f} hours behind on off-the-job training: {summary.logged:.0f} hours "
                f"logged, {summary.expected:.0f} expected by {_day(on)}."
            )
            reminders.append(_reminder(person, f"otj-behind:{a.pk}", message, url))
    return reminders


def _unsigned(
    document: ProgressReview | TrainingPlan, signatures: Iterable[Signature], what: str, kind: str, url: str
) -> list[Reminder]:
    a = document.apprenticeship
    signed = {s.party for s in signatures}
    people = {Party.APPRENTICE: a.apprentice, Party.MENTOR: a.mentor, Party.ASSESSOR: a.assessor}
    reminders = []
    for party, person in people.items():
        if party in signed or person is None or not person.is_active:
            continue
        message = f"{_whose(person, a)} {what} is waiting for your signature as {Party(party).label.lower()}."
        reminders.append(_reminder(person, f"signature:{kind}:{document.pk}:{party}", message, url))
    return reminders


def signatures_outstanding(*, on: datetime.date | None = None) -> list[Reminder]:
    """Progress reviews and the current training plan unsigned for more than REMINDER_SIGNATURE_WAITING_DAYS.

    To each party who has not signed (the mentor only when there is one). Four queries.
    """
    on = on or timezone.localdate()
    cutoff = _start_of(on - datetime.timedelta(days=settings.REMINDER_SIGNATURE_WAITING_DAYS))
    people = ("apprenticeship__apprentice", "apprenticeship__assessor", "apprenticeship__mentor")
    active = {"apprenticeship__status": Apprenticeship.Status.ACTIVE, "locked_at__isnull": True}
    reminders = []
    reviews = (
        ProgressReview.objects.filter(recorded_at__lt=cutoff, **active)
        .select_related(*people)
        .prefetch_related(Prefetch("signatures", queryset=Signature.objects.only("pk", "review_id", "party")))
        .order_by("pk")
    )
    for review in reviews:
        url = review.get_absolute_url()
        what = f"progress review of {_day(review.held_on)}"
        reminders += _unsigned(review, review.signatures.all(), what, "review", url)
    # Only the newest version of a plan is signed; an older one was superseded, not left unsigned.
    newest = TrainingPlan.objects.filter(apprenticeship=OuterRef("apprenticeship")).order_by("-version")
    plans = (
        TrainingPlan.objects.filter(created_at__lt=cutoff, version=Subquery(newest.values("version")[:1]), **active)
        .select_related(*people)
        .prefetch_related(Prefetch("signatures", queryset=Signature.objects.only("pk", "plan_id", "party")))
        .order_by("pk")
    )
    for plan in plans:
        url = plan.get_absolute_url()
        reminders += _unsigned(plan, plan.signatures.all(), f"training plan (version {plan.version})", "plan", url)
    return reminders


# The kinds, each with its finder and the prefix every key of that kind starts with.
KINDS: dict[str, tuple[Callable[..., list[Reminder]], str]] = {
    REVIEW_DUE: (reviews_due, "review-due:"),
    EVIDENCE_WAITING: (evidence_waiting, "evidence-waiting:"),
    OTJ_BEHIND: (otj_behind, "otj-behind:"),
    SIGNATURES: (signatures_outstanding, "signature:"),
}


# --- Sending -----------------------------------------------------------------------------------


@transaction.atomic
def _send(reminder: Reminder, kind: str) -> bool:
    """Records and sends one reminder; False when another run has just sent it."""
    try:
        with transaction.atomic():
            SentReminder.objects.create(recipient=reminder.recipient, key=reminder.key)
    except IntegrityError:
        return False
    notify(
        recipient=reminder.recipient,
        message=reminder.message,
        url=reminder.url,
        email_template=f"reviews/email/reminder_{kind}",
    )
    return True


def send_reminders(kind: str, *, on: datetime.date | None = None) -> int:
    """Sends each reminder of a kind whose condition holds and was not reminded of yet; returns how many.

    Rows of conditions that no longer hold are deleted, so the condition arising again is
    reminded again. Safe to run twice: the second run sends nothing new.
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown kind of reminder {kind!r}: choose from {', '.join(KINDS)}.")
    find, prefix = KINDS[kind]
    reminders = find(on=on)
    current = {(r.recipient.pk, r.key) for r in reminders}
    already = {
        (recipient_id, key): pk
        for pk, recipient_id, key in SentReminder.objects.filter(key__startswith=prefix).values_list(
            "pk", "recipient_id", "key"
        )
    }
    cleared = [pk for condition, pk in already.items() if condition not in current]
    if cleared:
        SentReminder.objects.filter(pk__in=cleared).delete()
    sent = 0
    done = set(already)
    for reminder in reminders:
        condition = (reminder.recipient.pk, reminder.key)
        if condition in done:
            continue
        done.add(condition)
        sent += _send(reminder, kind)
    return sent
