"""The off-the-job rules, each with a worked example whose figures are stated in the test.

Weeks are days / 7 and statutory leave is 5.6 weeks for every 365.25 days of the planned
duration (start and planned end both counted), less breaks in learning.
"""

import datetime
from decimal import Decimal

import pytest

from evidence.models import OTJActivity
from evidence.otj import (
    PublishedMinimumRule,
    SixHoursRule,
    TwentyPercentRule,
    add_months,
    otj_summary_of,
    required_hours,
    rule_for,
)
from evidence.tests.factories import otj_activity
from portal.models import BreakInLearning

D = datetime.date


def enrolment(apprenticeship, *, start, end, hours="37.5", minimum=None):
    apprenticeship.start_date = start
    apprenticeship.planned_end_date = end
    apprenticeship.contracted_hours_per_week = Decimal(hours)
    apprenticeship.save()
    apprenticeship.standard.minimum_otj_hours = minimum
    apprenticeship.standard.save()
    return apprenticeship


def a_break(apprenticeship, starts_on, ends_on=None):
    return BreakInLearning.objects.create(
        apprenticeship=apprenticeship,
        starts_on=starts_on,
        ends_on=ends_on,
        reason="Long-term sickness",
        recorded_by=apprenticeship.assessor,
    )


@pytest.mark.parametrize(
    "start, rule",
    [
        (D(2019, 1, 7), TwentyPercentRule),
        (D(2022, 7, 31), TwentyPercentRule),
        (D(2022, 8, 1), SixHoursRule),
        (D(2025, 7, 31), SixHoursRule),
        (D(2025, 8, 1), PublishedMinimumRule),
        (D(2026, 11, 25), PublishedMinimumRule),
    ],
)
def test_the_rule_is_the_one_in_force_on_the_start_date(start, rule):
    assert isinstance(rule_for(start), rule)


def test_full_time_24_months_from_september_2023_needs_559_hours(apprenticeship):
    # 2023-09-01 to 2025-08-31 is 731 days (2024 is a leap year) = 104.43 weeks; leave is
    # 5.6 × 731 / 365.25 = 11.21 weeks; 6 × (104.43 − 11.21) = 559.33, rounded to 559.
    enrolment(apprenticeship, start=D(2023, 9, 1), end=D(2025, 8, 31))
    rule, requirement = required_hours(apprenticeship)
    assert isinstance(rule, SixHoursRule)
    assert requirement.hours == Decimal(559)
    assert "104.43 weeks" in requirement.working and "11.21 weeks" in requirement.working
    assert "559.3 hours" in requirement.working
    assert requirement.problem == ""


def test_thirty_hours_a_week_counts_as_full_time(apprenticeship):
    enrolment(apprenticeship, start=D(2023, 9, 1), end=D(2025, 8, 31), hours="30")
    assert required_hours(apprenticeship)[1].hours == Decimal(559)


def test_part_time_from_august_2022_is_20_percent_of_contracted_hours(apprenticeship):
    # 20% × 20 hours × 93.22 weeks = 372.9, so 373.
    enrolment(apprenticeship, start=D(2023, 9, 1), end=D(2025, 8, 31), hours="20")
    requirement = required_hours(apprenticeship)[1]
    assert requirement.hours == Decimal(373)
    assert requirement.working.startswith("part-time")


def test_before_august_2022_is_20_percent_of_contracted_hours_even_full_time(apprenticeship):
    # 2021-09-01 to 2023-08-31 is 730 days = 104.29 weeks, leave 11.19 weeks:
    # 20% × 37.5 × 93.09 = 698.2, so 698 (more than the 6-hour rule's 559 for the same dates).
    enrolment(apprenticeship, start=D(2021, 9, 1), end=D(2023, 8, 31))
    rule, requirement = required_hours(apprenticeship)
    assert isinstance(rule, TwentyPercentRule)
    assert requirement.hours == Decimal(698)


def test_from_august_2025_the_standards_published_minimum_applies_whatever_the_hours(apprenticeship):
    enrolment(apprenticeship, start=D(2025, 9, 1), end=D(2027, 2, 28), hours="16", minimum=312)
    rule, requirement = required_hours(apprenticeship)
    assert isinstance(rule, PublishedMinimumRule)
    assert requirement.hours == Decimal(312)
    assert requirement.problem == ""


def test_without_a_published_minimum_the_requirement_is_unknown_and_says_who_enters_it(apprenticeship):
    enrolment(apprenticeship, start=D(2025, 9, 1), end=D(2027, 2, 28), minimum=None)
    requirement = required_hours(apprenticeship)[1]
    assert requirement.hours is None
    assert "provider admin enters them" in requirement.problem
    summary = otj_summary_of(apprenticeship, on=D(2026, 1, 1))
    assert summary.expected is None and not summary.behind and not summary.met


def test_from_august_2025_the_planned_duration_is_at_least_8_months(apprenticeship):
    # 8 months from 1 September 2025 ends on 30 April 2026.
    enrolment(apprenticeship, start=D(2025, 9, 1), end=D(2026, 4, 30), minimum=250)
    assert required_hours(apprenticeship)[1].problem == ""
    enrolment(apprenticeship, start=D(2025, 9, 1), end=D(2026, 4, 29), minimum=250)
    problem = required_hours(apprenticeship)[1].problem
    assert "at least 8 months" in problem and "30 April 2026 or later" in problem


def test_before_august_2025_the_planned_duration_is_at_least_12_months(apprenticeship):
    enrolment(apprenticeship, start=D(2024, 1, 15), end=D(2025, 1, 13))
    assert "at least 12 months" in required_hours(apprenticeship)[1].problem
    enrolment(apprenticeship, start=D(2024, 1, 15), end=D(2025, 1, 14))
    assert required_hours(apprenticeship)[1].problem == ""


def test_adding_months_keeps_to_the_end_of_shorter_months():
    assert add_months(D(2025, 1, 31), 1) == D(2025, 2, 28)
    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert add_months(D(2025, 9, 1), 8) == D(2026, 5, 1)
    assert add_months(D(2025, 11, 30), 3) == D(2026, 2, 28)


def test_expected_hours_follow_a_straight_line_over_the_planned_duration(apprenticeship):
    enrolment(apprenticeship, start=D(2023, 9, 1), end=D(2025, 8, 31))
    # 2024-09-01 is day 367 of 731: 559 × 367 / 731 = 280.65.
    assert otj_summary_of(apprenticeship, on=D(2024, 9, 1)).expected == Decimal("280.65")
    assert otj_summary_of(apprenticeship, on=D(2023, 8, 1)).expected == Decimal("0.00")
    assert otj_summary_of(apprenticeship, on=D(2026, 1, 1)).expected == Decimal("559.00")


def test_logged_verified_and_queried_hours_are_counted_apart(apprenticeship):
    enrolment(apprenticeship, start=D(2023, 9, 1), end=D(2025, 8, 31))
    otj_activity(apprenticeship, on=D(2023, 10, 2), hours=7.5, status=OTJActivity.Status.VERIFIED)
    otj_activity(apprenticeship, on=D(2023, 10, 3), hours=2.25)
    otj_activity(apprenticeship, on=D(2023, 10, 4), hours=4, status=OTJActivity.Status.QUERIED, query_reason="Sick")
    otj_activity(apprenticeship, on=D(2023, 12, 1), hours=6)
    summary = otj_summary_of(apprenticeship, on=D(2023, 11, 1))
    assert summary.logged == Decimal("9.75")  # verified and awaiting verification; not queried, not later
    assert summary.verified == Decimal("7.50")
    assert summary.queried == Decimal("4.00")


def test_behind_means_more_than_two_weeks_of_hours_short_of_the_trajectory(apprenticeship):
    # 559 hours over 731 days is 5.35 hours a week; two weeks' worth is 10.71 hours.
    enrolment(apprenticeship, start=D(2023, 9, 1), end=D(2025, 8, 31))
    on = D(2024, 9, 1)  # expected 280.65
    otj_activity(apprenticeship, on=D(2024, 3, 1), hours=270)
    summary = otj_summary_of(apprenticeship, on=on)
    assert summary.shortfall == Decimal("10.65") and not summary.behind
    otj_activity(apprenticeship, on=D(2024, 3, 2), hours=0.25, status=OTJActivity.Status.QUERIED, query_reason="x")
    assert not otj_summary_of(apprenticeship, on=on).behind  # queried hours do not count either way
    OTJActivity.objects.filter(status=OTJActivity.Status.LOGGED).update(minutes=269 * 60)
    summary = otj_summary_of(apprenticeship, on=on)
    assert summary.shortfall == Decimal("11.65") and summary.behind


def test_a_finished_break_stops_the_clock_and_the_moved_end_date_keeps_the_requirement(apprenticeship):
    # A 92-day break (1 Mar to 31 May 2024) with the planned end moved 92 days later: the
    # learning days stay 731, so the requirement stays 559 and the trajectory pauses.
    enrolment(apprenticeship, start=D(2023, 9, 1), end=D(2025, 8, 31) + datetime.timedelta(days=92))
    a_break(apprenticeship, D(2024, 3, 1), D(2024, 5, 31))
    summary_in_break = otj_summary_of(apprenticeship, on=D(2024, 5, 1))
    summary_at_break_end = otj_summary_of(apprenticeship, on=D(2024, 5, 31))
    assert summary_in_break.required == Decimal(559)
    assert (
        summary_in_break.expected
        == summary_at_break_end.expected
        == otj_summary_of(apprenticeship, on=D(2024, 2, 29)).expected
    )


def test_a_break_without_moving_the_end_date_shortens_the_planned_duration(apprenticeship):
    # 731 − 92 = 639 learning days = 91.29 weeks, leave 9.80 weeks: 6 × 81.49 = 488.9, so 489.
    enrolment(apprenticeship, start=D(2023, 9, 1), end=D(2025, 8, 31))
    a_break(apprenticeship, D(2024, 3, 1), D(2024, 5, 31))
    assert required_hours(apprenticeship, apprenticeship.breaks.all())[1].hours == Decimal(489)


def test_a_break_still_open_pauses_the_trajectory_but_not_the_requirement(apprenticeship):
    enrolment(apprenticeship, start=D(2023, 9, 1), end=D(2025, 8, 31))
    a_break(apprenticeship, D(2024, 3, 1))
    before = otj_summary_of(apprenticeship, on=D(2024, 2, 29))
    during = otj_summary_of(apprenticeship, on=D(2024, 7, 1))
    assert during.required == Decimal(559)
    assert during.expected == before.expected


def test_moving_the_planned_end_date_recalculates(apprenticeship):
    enrolment(apprenticeship, start=D(2023, 9, 1), end=D(2025, 8, 31))
    assert otj_summary_of(apprenticeship, on=D(2024, 9, 1)).required == Decimal(559)
    # Six months longer: 2023-09-01 to 2026-02-28 is 912 days; 6 × (130.29 − 13.98) = 697.8, so 698.
    apprenticeship.planned_end_date = D(2026, 2, 28)
    apprenticeship.save()
    summary = otj_summary_of(apprenticeship, on=D(2024, 9, 1))
    assert summary.required == Decimal(698)
    assert summary.expected == Decimal("280.88")  # 698 × 367 / 912 = 280.875


def test_summaries_of_many_apprenticeships_take_two_queries(apprenticeship, django_assert_num_queries):
    from portal.models import Apprenticeship

    enrolment(apprenticeship, start=D(2023, 9, 1), end=D(2025, 8, 31))
    for day in range(1, 29):
        otj_activity(apprenticeship, on=D(2024, 2, day), hours=1)
    chosen = list(Apprenticeship.objects.with_people())
    with django_assert_num_queries(2):
        from evidence.otj import otj_summaries

        otj_summaries(chosen, on=D(2024, 9, 1))
