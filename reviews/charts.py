"""Evidence submitted and KSBs signed off month by month, laid out for an SVG bar chart.

The geometry is worked out here so that the template only draws; the same partial serves the
web pages and the portfolio PDF.
"""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass

from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone

from evidence.models import EvidenceVersion
from portal.models import Apprenticeship

from .models import SignOff

WIDTH, PLOT_TOP, PLOT_HEIGHT, LEFT, RIGHT = 660, 14, 120, 36, 10
BAR_GAP = 2


@dataclass
class MonthBars:
    label: str
    submitted: int
    signed_off: int
    x: float
    submitted_y: float
    submitted_height: float
    signed_off_x: float
    signed_off_y: float
    signed_off_height: float
    label_x: float


@dataclass
class ActivityChart:
    months: list[MonthBars]
    bar_width: float
    top: int
    ticks: list[tuple[int, float]]
    baseline: float
    width: int = WIDTH
    height: int = PLOT_TOP + PLOT_HEIGHT + 34

    @property
    def total_submitted(self) -> int:
        return sum(m.submitted for m in self.months)

    @property
    def total_signed_off(self) -> int:
        return sum(m.signed_off for m in self.months)


def _month_starts(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    months, current = [], first.replace(day=1)
    while current <= last:
        months.append(current)
        current = (current + datetime.timedelta(days=32)).replace(day=1)
    return months


def activity_over_time(
    apprenticeship: Apprenticeship, *, months: int = 12, today: datetime.date | None = None
) -> ActivityChart:
    """The last `months` months (or fewer, from the start date), in two queries."""
    today = today or timezone.localdate()
    earliest = (today.replace(day=1) - datetime.timedelta(days=31 * (months - 1))).replace(day=1)
    first = max(earliest, apprenticeship.start_date.replace(day=1))
    starts = _month_starts(min(first, today.replace(day=1)), today)

    def by_month(queryset, field: str) -> Counter:
        rows = queryset.annotate(month=TruncMonth(field)).values("month").annotate(n=Count("pk"))
        return Counter({timezone.localtime(row["month"]).date(): row["n"] for row in rows})

    submitted = by_month(
        EvidenceVersion.objects.filter(item__apprenticeship=apprenticeship, submitted_at__date__gte=starts[0]),
        "submitted_at",
    )
    signed = by_month(
        SignOff.objects.filter(apprenticeship=apprenticeship, signed_at__date__gte=starts[0]), "signed_at"
    )

    top = max([1, *submitted.values(), *signed.values()])
    step = max(1, -(-top // 4))  # four gridlines, whole numbers
    top = step * 4
    slot = (WIDTH - LEFT - RIGHT) / len(starts)
    bar = max(2.0, (slot - 8) / 2 - BAR_GAP / 2)
    baseline = PLOT_TOP + PLOT_HEIGHT

    def height(count: int) -> float:
        return round(PLOT_HEIGHT * count / top, 1)

    bars = []
    for index, start in enumerate(starts):
        x = LEFT + index * slot + 4
        s, o = submitted.get(start, 0), signed.get(start, 0)
        bars.append(
            MonthBars(
                label=start.strftime("%b %y"),
                submitted=s,
                signed_off=o,
                x=round(x, 1),
                submitted_y=round(baseline - height(s), 1),
                submitted_height=height(s),
                signed_off_x=round(x + bar + BAR_GAP, 1),
                signed_off_y=round(baseline - height(o), 1),
                signed_off_height=height(o),
                label_x=round(x + bar + BAR_GAP / 2, 1),
            )
        )
    ticks = [(step * k, round(baseline - PLOT_HEIGHT * step * k / top, 1)) for k in range(5)]
    return ActivityChart(months=bars, bar_width=round(bar, 1), top=top, ticks=ticks, baseline=baseline)
