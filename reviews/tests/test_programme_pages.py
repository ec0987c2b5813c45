"""Off-the-job hours and review status beside KSB progress on every home page that lists apprentices."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from evidence.models import OTJActivity
from evidence.tests.factories import otj_activity
from portal.models import Apprenticeship, Notice
from reviews.models import Party
from reviews.tests.bulk import build_cohort
from reviews.tests.programme import ALL_PARTIES, progress_review, training_plan

TODAY = timezone.localdate()


@pytest.fixture
def tracked(apprenticeship):
    """Full-time since 2024-09-02 on the 6-hour rule, 24 months, a few hours logged, last review long ago."""
    apprenticeship.start_date = datetime.date(2024, 9, 2)
    apprenticeship.planned_end_date = apprenticeship.start_date + datetime.timedelta(days=730)
    apprenticeship.save()
    otj_activity(apprenticeship, on=datetime.date(2024, 10, 1), hours=12, status=OTJActivity.Status.VERIFIED)
    otj_activity(apprenticeship, on=datetime.date(2024, 10, 2), hours=3.5)
    progress_review(apprenticeship, held_on=TODAY - datetime.timedelta(weeks=14), signed_by=ALL_PARTIES)
    return apprenticeship


def test_the_apprentice_sees_hours_review_status_and_what_to_sign(client, tracked, apprentice):
    waiting = progress_review(tracked, held_on=TODAY - datetime.timedelta(days=3), signed_by=(Party.ASSESSOR,))
    training_plan(tracked, signed_by=(Party.MENTOR,))
    client.force_login(apprentice)
    response = client.get("/portfolio/")
    body = response.content.decode()
    otj = response.context["otj"]
    assert otj.logged == Decimal("15.50") and otj.verified == Decimal("12.00") and otj.behind
    assert "Behind by" in body
    assert "Waiting for your signature" in body
    assert f"/progress-reviews/{waiting.pk}/" in body
    assert "Training plan, version 1" in body
    # The review held three days ago resets the 12-week clock.
    assert response.context["review_status"].next_due == TODAY - datetime.timedelta(days=3) + datetime.timedelta(
        weeks=12
    )


def test_an_overdue_review_is_flagged_on_the_apprentices_home(client, tracked, apprentice):
    client.force_login(apprentice)
    response = client.get("/portfolio/")
    assert response.context["review_status"].overdue
    assert "Overdue" in response.content.decode()


def test_the_caseload_shows_hours_and_the_overdue_review(client, tracked, assessor):
    client.force_login(assessor)
    response = client.get("/assessor/")
    ((row, _),) = response.context["caseload_rows"]
    assert row.otj.logged == Decimal("15.50") and row.review.overdue
    body = response.content.decode()
    assert f"/apprenticeships/{tracked.pk}/otj/" in body
    assert "Overdue" in body


def test_the_assessor_is_asked_to_sign_only_what_waits_on_them_in_their_caseload(
    client, tracked, other_apprenticeship, assessor
):
    waiting = progress_review(tracked, held_on=TODAY - datetime.timedelta(days=2), signed_by=(Party.APPRENTICE,))
    progress_review(tracked, held_on=TODAY - datetime.timedelta(days=1), signed_by=(Party.ASSESSOR,))
    training_plan(tracked, version=1)
    plan = training_plan(tracked, version=2, signed_by=(Party.MENTOR,))
    progress_review(other_apprenticeship, held_on=TODAY - datetime.timedelta(days=2))
    training_plan(other_apprenticeship)
    client.force_login(assessor)
    response = client.get("/assessor/")
    assert response.context["reviews_to_sign"] == [waiting]
    assert response.context["plans_to_sign"] == [plan]
    assert f"/progress-reviews/{waiting.pk}/" in response.content.decode()


def test_the_cohort_view_shows_hours_and_review_status(client, tracked, provider_admin):
    client.force_login(provider_admin)
    response = client.get("/provider/")
    (row,) = response.context["cohort"].rows
    assert row.otj.verified == Decimal("12.00")
    assert row.review.overdue
    assert f"/apprenticeships/{tracked.pk}/progress-reviews/" in response.content.decode()


def test_a_review_on_a_break_in_learning_is_not_overdue(client, tracked, provider_admin):
    Apprenticeship.objects.filter(pk=tracked.pk).update(status=Apprenticeship.Status.BREAK_IN_LEARNING)
    client.force_login(provider_admin)
    (row,) = client.get("/provider/").context["cohort"].rows
    assert not row.review.overdue


def test_reminders_show_on_every_home_page_as_notices(client, tracked, assessor, provider_admin, mentor):
    for person in (assessor, provider_admin, mentor):
        Notice.objects.create(recipient=person, message="A progress review is overdue.")
        client.force_login(person)
        home = client.get(client.get("/")["Location"])
        assert "A progress review is overdue." in home.content.decode()


# --- The mentor's home ---------------------------------------------------------------------------


def test_mentors_land_on_their_mentees_with_hours_reviews_and_signatures(client, tracked, mentor):
    review = progress_review(tracked, held_on=TODAY - datetime.timedelta(days=1), signed_by=(Party.APPRENTICE,))
    client.force_login(mentor)
    assert client.get("/")["Location"] == "/mentor/"
    response = client.get("/mentor/")
    (row,) = response.context["mentees"]
    assert row.apprenticeship == tracked
    body = response.content.decode()
    assert f"/progress-reviews/{review.pk}/" in body
    assert f"/apprenticeships/{tracked.pk}/otj/new/" in body


def test_a_mentor_is_not_asked_to_sign_what_they_signed_or_what_is_locked(client, tracked, mentor):
    progress_review(tracked, held_on=TODAY - datetime.timedelta(days=1), signed_by=(Party.MENTOR,))
    client.force_login(mentor)
    response = client.get("/mentor/")
    assert response.context["reviews_to_sign"] == []


def test_a_superseded_training_plan_is_not_waiting_for_signatures(client, tracked, mentor):
    training_plan(tracked, version=1, signed_by=(Party.APPRENTICE,))
    newest = training_plan(tracked, version=2)
    client.force_login(mentor)
    assert client.get("/mentor/").context["plans_to_sign"] == [newest]


def test_a_mentor_sees_only_their_own_mentees(client, tracked, other_apprenticeship, outsider_apprenticeship):
    client.force_login(outsider_apprenticeship.mentor)
    rows = client.get("/mentor/").context["mentees"]
    assert [row.apprenticeship for row in rows] == [outsider_apprenticeship]


@pytest.mark.parametrize("persona", ["apprentice", "assessor", "provider_admin", "iqa"])
def test_the_mentor_home_is_for_mentors(client, persona, request, apprenticeship):
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/mentor/").status_code == 403


# --- Scale -------------------------------------------------------------------------------------


def test_the_mentor_home_keeps_its_queries_with_many_mentees(
    client, provider, employer, assessor, mentor, st0220, django_assert_max_num_queries
):
    cohort = build_cohort(
        provider=provider, employer=employer, assessors=[assessor], standard=st0220, apprentices=120, items_each=5
    )
    Apprenticeship.objects.filter(pk__in=[a.pk for a in cohort]).update(mentor=mentor)
    client.force_login(mentor)
    with django_assert_max_num_queries(16):
        response = client.get("/mentor/")
    assert len(response.context["mentees"]) == 120
    assert len(response.context["plans_to_sign"]) == 120  # version 2 of each, signed by the apprentice only
