"""Progress reviews are due every 12 weeks: from the start, then from the last one held."""

import datetime

import pytest

from portal.models import Apprenticeship
from reviews.schedule import review_status_of, review_statuses
from reviews.tests.programme import ALL_PARTIES, progress_review

D = datetime.date


@pytest.fixture
def started(apprenticeship):
    apprenticeship.start_date = D(2025, 9, 1)
    apprenticeship.save()
    return apprenticeship


def test_the_first_review_is_due_12_weeks_after_the_start(started):
    status = review_status_of(started, on=D(2025, 10, 1))
    assert status.last_held is None
    assert status.next_due == D(2025, 11, 24)
    assert not status.overdue and not status.due_soon


def test_due_soon_means_within_seven_days(started):
    assert not review_status_of(started, on=D(2025, 11, 16)).due_soon
    assert review_status_of(started, on=D(2025, 11, 17)).due_soon
    assert review_status_of(started, on=D(2025, 11, 24)).due_soon  # due today, not yet overdue


def test_overdue_from_the_day_after_it_was_due(started):
    status = review_status_of(started, on=D(2025, 11, 25))
    assert status.overdue and status.days_overdue == 1 and not status.due_soon


def test_the_next_review_is_due_12_weeks_after_the_last_one_held(started):
    progress_review(started, held_on=D(2025, 11, 20), signed_by=ALL_PARTIES)
    progress_review(started, held_on=D(2025, 10, 30))  # an older one recorded later changes nothing
    status = review_status_of(started, on=D(2026, 1, 5))
    assert status.last_held == D(2025, 11, 20)
    assert status.next_due == D(2026, 2, 12)
    assert status.held_within_interval
    assert status.awaiting_signatures == 1


def test_a_review_held_late_still_resets_the_clock_from_its_own_date(started):
    progress_review(started, held_on=D(2025, 12, 15))
    status = review_status_of(started, on=D(2026, 1, 5))
    assert status.next_due == D(2026, 3, 9) and not status.overdue


def test_held_within_12_weeks_ends_on_the_84th_day(started):
    progress_review(started, held_on=D(2025, 11, 20))
    assert review_status_of(started, on=D(2026, 2, 12)).held_within_interval
    assert not review_status_of(started, on=D(2026, 2, 13)).held_within_interval


@pytest.mark.parametrize(
    "status",
    [
        Apprenticeship.Status.BREAK_IN_LEARNING,
        Apprenticeship.Status.AT_GATEWAY,
        Apprenticeship.Status.WITHDRAWN,
        Apprenticeship.Status.COMPLETED,
    ],
)
def test_only_active_apprenticeships_are_ever_overdue(started, status):
    started.status = status
    started.save()
    result = review_status_of(started, on=D(2026, 6, 1))
    assert not result.expected and not result.overdue and not result.due_soon


def test_statuses_of_many_apprenticeships_take_one_query(started, other_apprenticeship, django_assert_num_queries):
    for n in range(5):
        progress_review(started, held_on=D(2025, 10, 1) + datetime.timedelta(weeks=n))
    with django_assert_num_queries(1):
        statuses = review_statuses([started, other_apprenticeship], on=D(2026, 1, 5))
    assert statuses[started.pk].last_held == D(2025, 10, 29)
    assert statuses[other_apprenticeship.pk].last_held is None
