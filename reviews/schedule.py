"""When each apprenticeship's next progress review is due, and whether it is overdue.

The funding rules ask for a review with apprentice, employer and provider at least every 12
weeks, so the next one is due 12 weeks after the last one held (or after the start date, before
the first). Only active apprenticeships are expected to hold reviews: one on a break in
learning, at gateway or closed is never flagged.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Max, Q
from django.utils import timezone

from portal.models import Apprenticeship

from .models import ProgressReview

REVIEW_INTERVAL = datetime.timedelta(weeks=12)
# Reminders start this long before a review falls due.
DUE_SOON = datetime.timedelta(days=7)


@dataclass(frozen=True)
class ReviewStatus:
    last_held: datetime.date | None
    next_due: datetime.date
    on: datetime.date
    expected: bool
    awaiting_signatures: int = 0

    @property
    def overdue(self) -> bool:
        return self.expected and self.on > self.next_due

    @property
    def days_overdue(self) -> int:
        return (self.on - self.next_due).days if self.overdue else 0

    @property
    def due_soon(self) -> bool:
        """Due within the next seven days (and not yet overdue)."""
        return self.expected and not self.overdue and self.next_due - self.on <= DUE_SOON

    @property
    def held_within_interval(self) -> bool:
        return self.last_held is not None and self.on - self.last_held <= REVIEW_INTERVAL


def next_review_due(apprenticeship: Apprenticeship, last_held: datetime.date | None) -> datetime.date:
    return (last_held or apprenticeship.start_date) + REVIEW_INTERVAL


def review_statuses(
    apprenticeships: list[Apprenticeship], *, on: datetime.date | None = None
) -> dict[int, ReviewStatus]:
    """Each apprenticeship's review status on a day (today by default), in one query."""
    on = on or timezone.localdate()
    rows = {
        row["apprenticeship_id"]: row
        for row in ProgressReview.objects.filter(apprenticeship_id__in=[a.pk for a in apprenticeships])
        .values("apprenticeship_id")
        .annotate(last_held=Max("held_on"), unsigned=Count("pk", filter=Q(locked_at__isnull=True)))
        .order_by()
    }
    statuses = {}
    for a in apprenticeships:
        row = rows.get(a.pk, {})
        last_held = row.get("last_held")
        statuses[a.pk] = ReviewStatus(
            last_held=last_held,
            next_due=next_review_due(a, last_held),
            on=on,
            expected=a.status == Apprenticeship.Status.ACTIVE,
            awaiting_signatures=row.get("unsigned", 0),
        )
    return statuses


def review_status_of(apprenticeship: Apprenticeship, *, on: datetime.date | None = None) -> ReviewStatus:
    return review_statuses([apprenticeship], on=on)[apprenticeship.pk]
