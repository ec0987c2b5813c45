"""Off-the-job (OTJ) training hours: what the funding rules require, and where an apprentice stands.

The rule is the one in force on the apprenticeship's start date, whatever happens later:

- starts before 1 August 2022: 20% of contracted hours over the planned duration, less
  statutory leave;
- starts from 1 August 2022: 6 hours a week over the planned duration less statutory leave for
  full-time apprentices (30 hours a week or more), 20% of contracted hours for part-time ones;
- starts from 1 August 2025: the minimum published for the standard, whatever the hours.

Minimum planned durations: 12 months before 1 August 2025, 8 months from then.

The planned duration runs from the start date to the planned end date, both included, less
any breaks in learning, which stop the clock. Weeks are days / 7 and statutory leave is 5.6
weeks a year, a year being 365.25 days, so leave is worked out on the same days as the weeks.
Hours are rounded to the nearest whole hour.

Worked example (tested): full-time, started 2023-09-01, planned end 2025-08-31: 731 days =
104.43 weeks; leave 5.6 × 731 / 365.25 = 11.21 weeks; 6 × 93.22 = 559.3, so 559 hours.

"Expected by today" is the straight line from nothing at the start to the requirement at the
planned end, over learning days only; an apprentice is behind when the hours they logged (less
any the assessor queried) trail it by more than two weeks' worth.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum
from django.utils import timezone

from portal.models import Apprenticeship, BreakInLearning

from .models import OTJActivity

DAYS_PER_WEEK = Decimal(7)
DAYS_PER_YEAR = Decimal("365.25")
STATUTORY_LEAVE_WEEKS_PER_YEAR = Decimal("5.6")
FULL_TIME_HOURS_PER_WEEK = Decimal(30)
HOURS_A_WEEK_FULL_TIME = Decimal(6)
TWENTY_PERCENT = Decimal("0.2")
# An apprentice is flagged when they trail the trajectory by more than this many weeks of hours.
BEHIND_BY_WEEKS = 2


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` later, or the month's last day when it is shorter (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in range(day.day, 27, -1):
        try:
            return day.replace(year=year, month=month, day=candidate)
        except ValueError:
            continue
    return day.replace(year=year, month=month, day=min(day.day, 28))


def whole_hours(hours: Decimal) -> Decimal:
    return hours.quantize(Decimal(1), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Requirement:
    """The hours a rule requires, how it got there, and (instead) why it cannot say."""

    hours: Decimal | None
    working: str
    problem: str = ""


@dataclass(frozen=True)
class Duration:
    """A planned duration: learning days between start and planned end, breaks taken out."""

    days: int

    @property
    def weeks(self) -> Decimal:
        return Decimal(self.days) / DAYS_PER_WEEK

    @property
    def leave_weeks(self) -> Decimal:
        return STATUTORY_LEAVE_WEEKS_PER_YEAR * Decimal(self.days) / DAYS_PER_YEAR

    @property
    def weeks_less_leave(self) -> Decimal:
        return self.weeks - self.leave_weeks


class OTJRule:
    """The off-the-job rule for apprenticeships starting in one period."""

    name: str
    starts_from: datetime.date | None
    minimum_duration_months: int

    def required(self, *, duration: Duration, hours_per_week: Decimal, standard_minimum: int | None) -> Requirement:
        raise NotImplementedError

    def duration_problem(self, *, start: datetime.date, planned_end: datetime.date) -> str:
        # The last day of an N-month apprenticeship is the day before the same date N months on.
        shortest_end = add_months(start, self.minimum_duration_months) - datetime.timedelta(days=1)
        if planned_end < shortest_end:
            return (
                f"The planned duration must be at least {self.minimum_duration_months} months for a start on "
                f"{start:%-d %B %Y}: the planned end date must be {shortest_end:%-d %B %Y} or later."
            )
        return ""

    @staticmethod
    def _leave_working(duration: Duration) -> str:
        return (
            f"{duration.days} days = {duration.weeks:.2f} weeks, less statutory leave of "
            f"{duration.leave_weeks:.2f} weeks = {duration.weeks_less_leave:.2f} weeks"
        )


class TwentyPercentRule(OTJRule):
    name = "20% of contracted hours (starts before 1 August 2022)"
    starts_from = None
    minimum_duration_months = 12

    def required(self, *, duration: Duration, hours_per_week: Decimal, standard_minimum: int | None) -> Requirement:
        exact = TWENTY_PERCENT * hours_per_week * duration.weeks_less_leave
        return Requirement(
            whole_hours(exact),
            f"20% × {hours_per_week:g} contracted hours a week × {self._leave_working(duration)}: {exact:.1f} hours",
        )


class SixHoursRule(OTJRule):
    name = "6 hours a week full-time, 20% part-time (starts from 1 August 2022)"
    starts_from = datetime.date(2022, 8, 1)
    minimum_duration_months = 12

    def required(self, *, duration: Duration, hours_per_week: Decimal, standard_minimum: int | None) -> Requirement:
        if hours_per_week >= FULL_TIME_HOURS_PER_WEEK:
            exact = HOURS_A_WEEK_FULL_TIME * duration.weeks_less_leave
            working = f"full-time: 6 hours a week × {self._leave_working(duration)}: {exact:.1f} hours"
        else:
            exact = TWENTY_PERCENT * hours_per_week * duration.weeks_less_leave
            working = (
                f"part-time: 20% × {hours_per_week:g} contracted hours a week × "
                f"{self._leave_working(duration)}: {exact:.1f} hours"
            )
        return Requirement(whole_hours(exact), working)


class PublishedMinimumRule(OTJRule):
    name = "the minimum published for the standard (starts from 1 August 2025)"
    starts_from = datetime.date(2025, 8, 1)
    minimum_duration_months = 8

    def required(self, *, duration: Duration, hours_per_week: Decimal, standard_minimum: int | None) -> Requirement:
        if standard_minimum is None:
            return Requirement(
                None,
                "",
                "The standard's published minimum off-the-job hours have not been entered: "
                "a provider admin enters them on the standard's page.",
            )
        return Requirement(Decimal(standard_minimum), f"the standard's published minimum of {standard_minimum} hours")


# Newest first: the first whose period has begun by the start date applies.
RULES: list[OTJRule] = [PublishedMinimumRule(), SixHoursRule(), TwentyPercentRule()]


def rule_for(start: datetime.date) -> OTJRule:
    return next(rule for rule in RULES if rule.starts_from is None or start >= rule.starts_from)


def _days_in(breaks: Iterable[BreakInLearning], first: datetime.date, last: datetime.date) -> int:
    """Days of the breaks that fall between `first` and `last`, both included.

    A break still open runs on to `last`.
    """
    days = 0
    for b in breaks:
        start, end = max(b.starts_on, first), min(b.ends_on or last, last)
        if end >= start:
            days += (end - start).days + 1
    return days


def learning_days(start: datetime.date, last: datetime.date, breaks: Iterable[BreakInLearning] = ()) -> int:
    """Days from `start` to `last`, both included, less the days of breaks in learning."""
    if last < start:
        return 0
    return (last - start).days + 1 - _days_in(breaks, start, last)


def planned_learning_days(apprenticeship: Apprenticeship, breaks: Iterable[BreakInLearning] = ()) -> int:
    """The planned duration in learning days.

    Only finished breaks count: while a break lasts nobody knows its end, and on return the
    planned end date is moved (by the break's length unless the provider says otherwise).
    """
    finished = [b for b in breaks if b.ends_on is not None]
    return learning_days(apprenticeship.start_date, apprenticeship.planned_end_date, finished)


def required_hours(
    apprenticeship: Apprenticeship, breaks: Iterable[BreakInLearning] = ()
) -> tuple[OTJRule, Requirement]:
    """The rule in force at the start date, and what it requires over the planned duration."""
    rule = rule_for(apprenticeship.start_date)
    problem = rule.duration_problem(start=apprenticeship.start_date, planned_end=apprenticeship.planned_end_date)
    duration = Duration(planned_learning_days(apprenticeship, breaks))
    requirement = rule.required(
        duration=duration,
        hours_per_week=apprenticeship.contracted_hours_per_week,
        standard_minimum=apprenticeship.standard.minimum_otj_hours,
    )
    if problem and not requirement.problem:
        requirement = Requirement(requirement.hours, requirement.working, problem)
    return rule, requirement


@dataclass(frozen=True)
class OTJSummary:
    """Where an apprentice stands on a day: hours logged, verified, expected by then, required."""

    rule: OTJRule
    requirement: Requirement
    logged: Decimal
    verified: Decimal
    queried: Decimal
    expected: Decimal | None
    weekly: Decimal | None
    on: datetime.date

    @property
    def required(self) -> Decimal | None:
        return self.requirement.hours

    @property
    def shortfall(self) -> Decimal | None:
        """Hours short of the trajectory, or None when on or ahead of it."""
        if self.expected is None or self.logged >= self.expected:
            return None
        return self.expected - self.logged

    @property
    def behind(self) -> bool:
        """More than two weeks of hours behind the trajectory."""
        shortfall = self.shortfall
        return shortfall is not None and self.weekly is not None and shortfall > BEHIND_BY_WEEKS * self.weekly

    @property
    def met(self) -> bool:
        """The requirement is met by verified hours alone."""
        return self.required is not None and self.verified >= self.required

    @property
    def percent_verified(self) -> int:
        if not self.required:
            return 0
        return min(100, round(100 * self.verified / self.required))


def _hours(minutes: int | None) -> Decimal:
    return (Decimal(minutes or 0) / 60).quantize(Decimal("0.01"))


def otj_summaries(apprenticeships: list[Apprenticeship], *, on: datetime.date | None = None) -> dict[int, OTJSummary]:
    """Each apprenticeship's OTJ standing on a day (today by default), in two queries.

    Activities dated after `on` are left out, so a past day's standing can be captured. The
    apprenticeships' standards must be loaded with them (`with_people()` does).
    """
    on = on or timezone.localdate()
    ids = [a.pk for a in apprenticeships]
    minutes: dict[int, dict[str, int]] = defaultdict(dict)
    for apprenticeship_id, status, total in (
        OTJActivity.objects.filter(apprenticeship_id__in=ids, date__lte=on)
        .values("apprenticeship_id", "status")
        .annotate(total=Sum("minutes"))
        .values_list("apprenticeship_id", "status", "total")
        .order_by()
    ):
        minutes[apprenticeship_id][status] = total
    breaks: dict[int, list[BreakInLearning]] = defaultdict(list)
    for b in BreakInLearning.objects.filter(apprenticeship_id__in=ids):
        breaks[b.apprenticeship_id].append(b)

    summaries = {}
    for a in apprenticeships:
        rule, requirement = required_hours(a, breaks[a.pk])
        by_status = minutes[a.pk]
        expected = weekly = None
        if requirement.hours is not None:
            total_days = planned_learning_days(a, breaks[a.pk])
            # The clock stops during a break, the one still open included.
            elapsed = min(total_days, learning_days(a.start_date, min(on, a.planned_end_date), breaks[a.pk]))
            if total_days:
                expected = (requirement.hours * elapsed / total_days).quantize(Decimal("0.01"))
                weekly = requirement.hours * DAYS_PER_WEEK / total_days
        summaries[a.pk] = OTJSummary(
            rule=rule,
            requirement=requirement,
            logged=_hours(by_status.get(OTJActivity.Status.LOGGED, 0) + by_status.get(OTJActivity.Status.VERIFIED, 0)),
            verified=_hours(by_status.get(OTJActivity.Status.VERIFIED)),
            queried=_hours(by_status.get(OTJActivity.Status.QUERIED)),
            expected=expected,
            weekly=weekly,
            on=on,
        )
    return summaries


def otj_summary_of(apprenticeship: Apprenticeship, *, on: datetime.date | None = None) -> OTJSummary:
    return otj_summaries([apprenticeship], on=on)[apprenticeship.pk]
