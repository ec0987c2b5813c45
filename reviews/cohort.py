"""The provider's cohort: where each apprentice stands across the standard, and who has gone quiet.

The provider admin's home reads it as a heatmap, with each apprentice's off-the-job hours and
review status beside it. Coverage leaves drafts out (staff judge what has been submitted), and
the whole cohort costs a fixed number of queries however many apprentices, items and KSBs there are.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from evidence.otj import OTJSummary
from portal.models import Apprenticeship, Organisation, User

from .progress import Coverage
from .schedule import ReviewStatus
from .standing import standings

# An apprentice who has touched no evidence for this long needs a nudge from the provider.
INACTIVITY = datetime.timedelta(weeks=4)

SORTS = {
    "name": "Name",
    "progress": "Progress, least first",
    "-progress": "Progress, most first",
}


def is_inactive(
    apprenticeship: Apprenticeship, last_activity: datetime.datetime | None, *, now: datetime.datetime
) -> bool:
    """True when an active apprentice has touched no evidence for four weeks.

    Someone enrolled less than four weeks ago has not had the time to fall quiet, and
    apprenticeships on a break, at gateway or closed are not expected to add evidence.
    """
    if apprenticeship.status != Apprenticeship.Status.ACTIVE:
        return False
    cutoff = now - INACTIVITY
    if last_activity is not None and last_activity >= cutoff:
        return False
    return apprenticeship.start_date <= timezone.localdate(cutoff)


@dataclass
class CohortRow:
    apprenticeship: Apprenticeship
    coverage: Coverage
    inactive: bool
    otj: OTJSummary
    review: ReviewStatus

    @property
    def progress(self) -> float:
        """Signed-off share of the standard, exact, so that sorting does not tie on rounding."""
        return self.coverage.signed_off / self.coverage.total if self.coverage.total else 0.0


@dataclass
class Cohort:
    rows: list[CohortRow]
    sort: str

    @property
    def inactive_count(self) -> int:
        return sum(1 for row in self.rows if row.inactive)


def cohort_heatmap(
    apprenticeships: QuerySet[Apprenticeship],
    *,
    assessor: User | None = None,
    employer: Organisation | None = None,
    status: str = "",
    inactive_only: bool = False,
    sort: str = "name",
    now: datetime.datetime | None = None,
) -> Cohort:
    """The rows of the heatmap: the given apprenticeships narrowed, with coverage, flagged and sorted.

    `apprenticeships` must already be limited to what the reader may see.
    """
    now = now or timezone.now()
    if assessor is not None:
        apprenticeships = apprenticeships.filter(assessor=assessor)
    if employer is not None:
        apprenticeships = apprenticeships.filter(employer=employer)
    if status:
        apprenticeships = apprenticeships.filter(status=status)
    chosen = list(apprenticeships.order_by("apprentice__last_name", "apprentice__first_name", "pk"))
    standing = standings(chosen, on=timezone.localdate(now))
    rows = [
        CohortRow(
            apprenticeship=a,
            coverage=(coverage := standing[a.pk].coverage),
            inactive=is_inactive(a, coverage.last_activity, now=now),
            otj=standing[a.pk].otj,
            review=standing[a.pk].review,
        )
        for a in chosen
    ]
    if inactive_only:
        rows = [row for row in rows if row.inactive]
    if sort not in SORTS:
        sort = "name"
    if sort in ("progress", "-progress"):
        # A stable sort keeps equal progress in name order, both ways.
        rows.sort(key=lambda row: row.progress, reverse=sort.startswith("-"))
    return Cohort(rows=rows, sort=sort)


class CohortFilterForm(forms.Form):
    """Narrows the cohort. Only this provider's assessors and employers are valid choices."""

    assessor = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="Any assessor",
        error_messages={"invalid_choice": "Choose one of the assessors listed."},
    )
    employer = forms.ModelChoiceField(
        queryset=Organisation.objects.none(),
        required=False,
        empty_label="Any employer",
        error_messages={"invalid_choice": "Choose one of the employers listed."},
    )
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any status"), *Apprenticeship.Status.choices],
        error_messages={"invalid_choice": "Choose one of the statuses listed."},
    )
    inactive = forms.BooleanField(required=False, label="Only those with no activity for 4 weeks")
    sort = forms.ChoiceField(
        required=False,
        choices=list(SORTS.items()),
        label="Sort by",
        error_messages={"invalid_choice": "Choose one of the orders listed."},
    )

    def __init__(self, data: Any, *, apprenticeships: QuerySet[Apprenticeship]) -> None:
        super().__init__(data)
        # Choices come from the cohort the reader may see, so another provider's id is simply invalid.
        self.fields["assessor"].queryset = User.objects.filter(pk__in=apprenticeships.values("assessor_id"))
        self.fields["employer"].queryset = Organisation.objects.filter(pk__in=apprenticeships.values("employer_id"))

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for `cohort_heatmap`: the valid filters; an invalid one is left out."""
        self.is_valid()
        cleaned = self.cleaned_data
        return {
            "assessor": cleaned.get("assessor"),
            "employer": cleaned.get("employer"),
            "status": cleaned.get("status", ""),
            "inactive_only": cleaned.get("inactive", False),
            "sort": cleaned.get("sort") or "name",
        }

    @property
    def is_filtered(self) -> bool:
        filters = self.filters()
        return any(filters[name] for name in ("assessor", "employer", "status", "inactive_only"))
