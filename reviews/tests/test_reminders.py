"""Reminders: each kind reaches the right people once per condition, again only when it comes back."""

import datetime

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from evidence.models import EvidenceVersion, OTJActivity
from evidence.tests.factories import evidence, otj_activity
from portal.models import Apprenticeship, Notice
from reviews import reminders
from reviews.models import Party, ProgressReview, SentReminder, Signature, TrainingPlan
from reviews.reminders import (
    EVIDENCE_WAITING,
    KINDS,
    OTJ_BEHIND,
    REVIEW_DUE,
    SIGNATURES,
    evidence_waiting,
    otj_behind,
    reviews_due,
    send_reminders,
    signatures_outstanding,
)
from reviews.services import accept_evidence, return_evidence
from reviews.tests.bulk import build_cohort
from reviews.tests.programme import progress_review, training_plan

# The apprenticeship fixture starts on 1 Sep 2025, so its first review falls due on 24 Nov 2025.
FIRST_DUE = datetime.date(2025, 11, 24)


def at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def needs_hours(apprenticeship, hours=400):
    apprenticeship.standard.minimum_otj_hours = hours
    apprenticeship.standard.save(update_fields=["minimum_otj_hours"])


def submitted_on(apprenticeship, day: datetime.date):
    item = evidence(apprenticeship, title="QC on the analyser", submit=True)
    EvidenceVersion.objects.filter(item=item).update(submitted_at=at(day))
    return item


def unsigned_review(apprenticeship, recorded: datetime.date, signed_by=(Party.APPRENTICE,)):
    review = progress_review(apprenticeship, signed_by=signed_by)
    ProgressReview.objects.filter(pk=review.pk).update(recorded_at=at(recorded))
    return review


# Each kind's condition for the apprenticeship fixture, the day it holds, and who hears of it.
def _review_due(a):
    return datetime.date(2025, 11, 20), {"apprentice", "assessor", "mentor"}


def _evidence_waiting(a):
    submitted_on(a, datetime.date(2025, 11, 1))
    return datetime.date(2025, 11, 12), {"assessor"}


def _otj_behind(a):
    needs_hours(a)
    return datetime.date(2026, 9, 1), {"apprentice", "assessor"}


def _signatures(a):
    unsigned_review(a, datetime.date(2025, 11, 1))
    return datetime.date(2025, 11, 12), {"mentor", "assessor"}


SETUPS = {
    REVIEW_DUE: _review_due,
    EVIDENCE_WAITING: _evidence_waiting,
    OTJ_BEHIND: _otj_behind,
    SIGNATURES: _signatures,
}
SUBJECTS = {
    REVIEW_DUE: "Reminder: a progress review is due",
    EVIDENCE_WAITING: "Reminder: evidence is waiting for your decision",
    OTJ_BEHIND: "Reminder: off-the-job hours are behind",
    SIGNATURES: "Reminder: your signature is needed",
}


def send(kind, on, capture):
    """Runs one kind and lets the emails go, as they do once each reminder's transaction commits."""
    with capture(execute=True):
        return send_reminders(kind, on=on)


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_reaches_the_right_people_once(
    kind, apprenticeship, request, django_capture_on_commit_callbacks, mailoutbox
):
    on, personas = SETUPS[kind](apprenticeship)
    people = {request.getfixturevalue(p) for p in personas}
    assert send(kind, on, django_capture_on_commit_callbacks) == len(people)
    assert {n.recipient for n in Notice.objects.all()} == people
    assert sorted(m.to[0] for m in mail.outbox) == sorted(p.email for p in people)
    assert {m.subject for m in mail.outbox} == {SUBJECTS[kind]}
    assert all("Open it in the portal: http" in m.body for m in mail.outbox)
    # The next day's run finds the same conditions and sends nothing new.
    assert send(kind, on + datetime.timedelta(days=1), django_capture_on_commit_callbacks) == 0
    assert Notice.objects.count() == len(people)
    assert len(mail.outbox) == len(people)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("status", [Apprenticeship.Status.WITHDRAWN, Apprenticeship.Status.COMPLETED])
def test_closed_apprenticeships_are_never_reminded_about(kind, status, apprenticeship):
    on, _ = SETUPS[kind](apprenticeship)
    find = KINDS[kind][0]
    assert find(on=on)
    Apprenticeship.objects.filter(pk=apprenticeship.pk).update(status=status)
    assert find(on=on) == []
    assert send_reminders(kind, on=on) == 0


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_apprenticeship_on_a_break_is_not_reminded_about(kind, apprenticeship):
    on, _ = SETUPS[kind](apprenticeship)
    Apprenticeship.objects.filter(pk=apprenticeship.pk).update(status=Apprenticeship.Status.BREAK_IN_LEARNING)
    assert KINDS[kind][0](on=on) == []


def test_an_unknown_kind_is_refused(db):
    with pytest.raises(ValueError, match="Unknown kind of reminder 'birthdays'"):
        send_reminders("birthdays")


# --- Reviews due -------------------------------------------------------------------------------


def test_a_review_is_due_soon_within_seven_days_and_not_before(apprenticeship, apprentice):
    assert reviews_due(on=FIRST_DUE - datetime.timedelta(days=8)) == []
    found = reviews_due(on=FIRST_DUE - datetime.timedelta(days=7))
    assert {r.key for r in found} == {f"review-due:soon:{apprenticeship.pk}:2025-11-24"}
    mine = next(r for r in found if r.recipient == apprentice)
    assert mine.message == "Your progress review is due by 24 Nov 2025: arrange it now."
    assert mine.url == f"/apprenticeships/{apprenticeship.pk}/progress-reviews/"


def test_an_overdue_review_is_reminded_again_under_its_own_key(
    apprenticeship, assessor, django_capture_on_commit_callbacks
):
    assert send(REVIEW_DUE, datetime.date(2025, 11, 20), django_capture_on_commit_callbacks) == 3
    assert send(REVIEW_DUE, datetime.date(2025, 11, 27), django_capture_on_commit_callbacks) == 3
    overdue = next(r for r in reviews_due(on=datetime.date(2025, 11, 27)) if r.recipient == assessor)
    assert overdue.key == f"review-due:overdue:{apprenticeship.pk}:2025-11-24"
    assert overdue.message == (
        f"{apprenticeship.apprentice}'s progress review was due on 24 Nov 2025 and is 3 days overdue: arrange it now."
    )
    # The "due soon" rows went when it turned overdue.
    assert set(SentReminder.objects.values_list("key", flat=True)) == {overdue.key}


def test_holding_the_review_clears_the_reminder_and_the_next_due_date_is_reminded(
    apprenticeship, django_capture_on_commit_callbacks
):
    assert send(REVIEW_DUE, datetime.date(2025, 11, 27), django_capture_on_commit_callbacks) == 3
    progress_review(apprenticeship, held_on=datetime.date(2025, 11, 28))
    assert send(REVIEW_DUE, datetime.date(2025, 12, 1), django_capture_on_commit_callbacks) == 0
    assert not SentReminder.objects.exists()
    # Twelve weeks on, the next review falls due: a new due date, a new reminder.
    assert send(REVIEW_DUE, datetime.date(2026, 2, 16), django_capture_on_commit_callbacks) == 3
    assert {k.split(":")[-1] for k in SentReminder.objects.values_list("key", flat=True)} == {"2026-02-20"}


def test_no_mentor_no_reminder_for_one(other_apprenticeship, other_apprentice, other_assessor):
    found = reviews_due(on=FIRST_DUE)
    assert {r.recipient for r in found if r.key.endswith(f":{other_apprenticeship.pk}:2025-11-24")} == {
        other_apprentice,
        other_assessor,
    }


def test_people_who_can_no_longer_sign_in_are_not_reminded(apprenticeship, mentor):
    mentor.is_active = False
    mentor.save(update_fields=["is_active"])
    assert mentor not in {r.recipient for r in reviews_due(on=FIRST_DUE)}


# --- Evidence waiting --------------------------------------------------------------------------


def test_evidence_is_reminded_after_more_than_ten_days(apprenticeship, assessor):
    item = submitted_on(apprenticeship, datetime.date(2025, 11, 1))
    assert settings.REMINDER_EVIDENCE_WAITING_DAYS == 10
    assert evidence_waiting(on=datetime.date(2025, 11, 11)) == []
    [found] = evidence_waiting(on=datetime.date(2025, 11, 12))
    version = item.versions.get()
    assert (found.recipient, found.key) == (assessor, f"evidence-waiting:{version.pk}")
    assert found.message == (
        f"“QC on the analyser” from {apprenticeship.apprentice} has waited 11 days for your decision "
        "(submitted 1 Nov 2025)."
    )
    assert found.url == f"/reviews/evidence/{item.pk}/"


def test_the_threshold_comes_from_settings(apprenticeship, settings):
    submitted_on(apprenticeship, datetime.date(2025, 11, 1))
    settings.REMINDER_EVIDENCE_WAITING_DAYS = 3
    assert len(evidence_waiting(on=datetime.date(2025, 11, 5))) == 1


def test_a_decision_clears_the_reminder_and_a_resubmission_is_a_new_one(
    apprenticeship, assessor, django_capture_on_commit_callbacks
):
    from evidence.services import revise_evidence, submit_evidence

    item = submitted_on(apprenticeship, datetime.date(2025, 11, 1))
    assert send(EVIDENCE_WAITING, datetime.date(2025, 11, 12), django_capture_on_commit_callbacks) == 1
    return_evidence(item=item, by=assessor, feedback="Add the QC chart.")
    assert send(EVIDENCE_WAITING, datetime.date(2025, 11, 13), django_capture_on_commit_callbacks) == 0
    assert not SentReminder.objects.exists()
    revise_evidence(item=item, by=apprenticeship.apprentice)
    item.refresh_from_db()
    submit_evidence(item=item, by=apprenticeship.apprentice)
    EvidenceVersion.objects.filter(item=item, number=2).update(submitted_at=at(datetime.date(2025, 11, 14)))
    assert send(EVIDENCE_WAITING, datetime.date(2025, 11, 25), django_capture_on_commit_callbacks) == 1
    assert SentReminder.objects.get().key == f"evidence-waiting:{item.versions.get(number=2).pk}"


def test_accepted_evidence_is_not_waiting(apprenticeship, assessor):
    item = submitted_on(apprenticeship, datetime.date(2025, 11, 1))
    accept_evidence(item=item, by=assessor)
    assert evidence_waiting(on=datetime.date(2025, 12, 1)) == []


# --- Off-the-job hours behind ------------------------------------------------------------------


def test_behind_on_otj_reaches_the_apprentice_and_the_assessor(apprenticeship, apprentice):
    needs_hours(apprenticeship)
    found = otj_behind(on=datetime.date(2026, 9, 1))
    assert {r.key for r in found} == {f"otj-behind:{apprenticeship.pk}"}
    mine = next(r for r in found if r.recipient == apprentice)
    assert mine.message.startswith("You are ") and "hours behind on off-the-job training" in mine.message
    assert mine.url == f"/apprenticeships/{apprenticeship.pk}/otj/"


def test_on_track_or_with_the_requirement_unknown_nobody_is_reminded(apprenticeship):
    assert otj_behind(on=datetime.date(2026, 9, 1)) == []  # no published minimum entered
    needs_hours(apprenticeship)
    otj_activity(apprenticeship, on=datetime.date(2026, 8, 1), hours=250)
    assert otj_behind(on=datetime.date(2026, 9, 1)) == []


def test_catching_up_clears_it_and_falling_behind_again_is_reminded_again(
    apprenticeship, django_capture_on_commit_callbacks
):
    needs_hours(apprenticeship)
    on = datetime.date(2026, 9, 1)
    assert send(OTJ_BEHIND, on, django_capture_on_commit_callbacks) == 2
    caught_up = otj_activity(apprenticeship, on=datetime.date(2026, 8, 1), hours=250)
    assert send(OTJ_BEHIND, on, django_capture_on_commit_callbacks) == 0
    assert not SentReminder.objects.exists()
    OTJActivity.objects.filter(pk=caught_up.pk).update(status=OTJActivity.Status.QUERIED, query_reason="Not OTJ.")
    assert send(OTJ_BEHIND, on, django_capture_on_commit_callbacks) == 2
    assert Notice.objects.count() == 4


# --- Signatures outstanding --------------------------------------------------------------------


def test_a_review_unsigned_for_more_than_seven_days_reaches_those_who_have_not_signed(apprenticeship, mentor):
    review = unsigned_review(apprenticeship, datetime.date(2025, 11, 1))
    assert signatures_outstanding(on=datetime.date(2025, 11, 8)) == []
    found = signatures_outstanding(on=datetime.date(2025, 11, 9))
    assert {(r.recipient, r.key) for r in found} == {
        (mentor, f"signature:review:{review.pk}:mentor"),
        (apprenticeship.assessor, f"signature:review:{review.pk}:assessor"),
    }
    to_mentor = next(r for r in found if r.recipient == mentor)
    assert to_mentor.message == (
        f"{apprenticeship.apprentice}'s progress review of 20 Nov 2025 is waiting for your signature "
        "as employer mentor."
    )
    assert to_mentor.url == f"/progress-reviews/{review.pk}/"


def test_a_locked_review_needs_no_signatures(apprenticeship):
    everyone = (Party.APPRENTICE, Party.MENTOR, Party.ASSESSOR)
    unsigned_review(apprenticeship, datetime.date(2025, 11, 1), signed_by=everyone)
    assert signatures_outstanding(on=datetime.date(2025, 12, 1)) == []


def test_only_the_newest_training_plan_is_reminded_about(apprenticeship, apprentice):
    training_plan(apprenticeship, signed_by=(Party.MENTOR,))
    newest = training_plan(apprenticeship, version=2, signed_by=(Party.MENTOR, Party.ASSESSOR))
    TrainingPlan.objects.update(created_at=at(datetime.date(2025, 10, 1)))
    [found] = signatures_outstanding(on=datetime.date(2025, 10, 20))
    assert (found.recipient, found.key) == (apprentice, f"signature:plan:{newest.pk}:apprentice")
    assert found.message == "Your training plan (version 2) is waiting for your signature as apprentice."
    assert found.url == f"/apprenticeships/{apprenticeship.pk}/training-plan/"


def test_without_a_mentor_only_the_others_are_asked(other_apprenticeship, other_apprentice, other_assessor):
    training_plan(other_apprenticeship)
    TrainingPlan.objects.update(created_at=at(datetime.date(2025, 10, 1)))
    found = signatures_outstanding(on=datetime.date(2025, 10, 20))
    assert {r.recipient for r in found} == {other_apprentice, other_assessor}


def test_signing_clears_it_and_a_removed_signature_is_reminded_again(
    apprenticeship, mentor, django_capture_on_commit_callbacks
):
    review = unsigned_review(apprenticeship, datetime.date(2025, 11, 1))
    on = datetime.date(2025, 11, 12)
    assert send(SIGNATURES, on, django_capture_on_commit_callbacks) == 2
    signature = Signature.objects.create(review=review, party=Party.MENTOR, signer=mentor, content_hash="0" * 64)
    assert send(SIGNATURES, on, django_capture_on_commit_callbacks) == 0
    assert list(SentReminder.objects.values_list("key", flat=True)) == [f"signature:review:{review.pk}:assessor"]
    # The review was changed, so the mentor's signature went and they must sign again.
    signature.delete()
    assert send(SIGNATURES, on, django_capture_on_commit_callbacks) == 1
    assert Notice.objects.filter(recipient=mentor).count() == 2


# --- Tasks and schedule ------------------------------------------------------------------------


def test_the_task_sends_a_kind_of_reminder(apprenticeship):
    from reviews.tasks import send_reminders as task

    needs_hours(apprenticeship)  # behind today: started in 2025 with nothing logged
    assert task.delay(OTJ_BEHIND).get() == 2
    assert task.delay(OTJ_BEHIND).get() == 0


def test_beat_runs_every_kind_daily_at_seven():
    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "reviews.tasks.send_reminders"]
    assert sorted(e["args"][0] for e in entries) == sorted(KINDS)
    for entry in entries:
        assert entry["schedule"].hour == {7} and entry["schedule"].minute == {0}
    assert settings.CELERY_TIMEZONE == "Europe/London"


def test_a_long_message_is_cut_to_fit_a_notice(apprenticeship):
    long = reminders._reminder(apprenticeship.apprentice, "k", "x" * 400, "/")
    assert len(long.message) == 300 and long.message.endswith("…")


# --- Fixed queries, however many apprenticeships -----------------------------------------------

QUERIES = {REVIEW_DUE: 2, EVIDENCE_WAITING: 1, OTJ_BEHIND: 3, SIGNATURES: 4}


@pytest.fixture
def hundred(provider, employer, assessor, other_assessor, mentor, st0220):
    """100 apprenticeships with reviews, plans and hours (see bulk.py), all mentored, signatures long due."""
    cohort = build_cohort(
        provider=provider,
        employer=employer,
        assessors=[assessor, other_assessor],
        standard=st0220,
        apprentices=100,
        items_each=4,
    )
    Apprenticeship.objects.filter(pk__in=[a.pk for a in cohort]).update(mentor=mentor)
    needs_hours(cohort[0], 400)
    long_ago = at(timezone.localdate() - datetime.timedelta(days=30))
    ProgressReview.objects.update(recorded_at=long_ago)
    TrainingPlan.objects.update(created_at=long_ago)
    return cohort


@pytest.mark.parametrize("kind", list(KINDS))
def test_finding_takes_a_fixed_number_of_queries(kind, hundred, django_assert_max_num_queries):
    find = KINDS[kind][0]
    with django_assert_max_num_queries(QUERIES[kind]):
        found = find()
    active = sum(1 for a in hundred if a.status == Apprenticeship.Status.ACTIVE)
    assert active > 90
    # Enough found, across enough apprenticeships, that a query for each would have shown.
    least = {REVIEW_DUE: 60, EVIDENCE_WAITING: 30, OTJ_BEHIND: active, SIGNATURES: 3 * active}
    assert len(found) >= least[kind]
