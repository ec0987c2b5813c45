"""The provider's cohort: where each apprentice stands across the standard, and who has gone quiet.

The provider admin's home reads it as a heatmap, 50 apprentices a page, with each apprentice's
off-the-job hours and review status beside it. Coverage leaves drafts out (staff judge what has
been submitted).

Filtering, the inactivity filter, the counts and sorting by progress work on the whole filtered
cohort in the database (signed-off share and recent activity read by subqueries of the cohort's
query), so a page is cut from the right order; only the page's apprentices then get their full
standing (coverage, hours, reviews). A page costs the same fixed number of queries whatever the
size of the cohort and whichever page it is.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, F, FloatField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Coalesce, NullIf
from django.utils import timezone

from evidence.models import EvidenceItem
from evidence.otj import OTJSummary
from portal.models import Apprenticeship, Organisation, User
from standards.models import KSB

from .models import SignOff
from .progress import Coverage
from .schedule import ReviewStatus
from .standing import standings

# An apprentice who has touched no evidence for this long needs a nudge from the provider.
INACTIVITY = datetime.timedelta(weeks=4)

# Rows of the heatmap a page shows: each carries a strip of every KSB (65 for ST0220).
PAGE_SIZE = 50

SORTS = {
    "name": "Name",
    "progress": "Progress, least first",
    "-progress": "Progress, most first",
}

NAME_ORDER = ("apprentice__last_name", "apprentice__first_name", "pk")


def is_inactive(
    apprenticeship: Apprenticeship, last_activity: datetime.datetime | None, *, now: datetime.datetime
) -> bool:
    """True when an active apprentice has touched no evidence for four weeks.

    Someone enrolled less than four weeks ago has not had the time to fall quiet, and
    apprenticeships on a break, at gateway or closed are not expected to add evidence.
    `inactive_condition` is the same rule for the database: the two must agree.
    """
    if apprenticeship.status != Apprenticeship.Status.ACTIVE:
        return False
    cutoff = now - INACTIVITY
    if last_activity is not None and last_activity >= cutoff:
        return False
    return apprenticeship.start_date <= timezone.localdate(cutoff)


def inactive_condition(*, now: datetime.datetime) -> Q:
    """`is_inactive` as a filter on apprenticeships, for the whole cohort at once.

    "Last activity before the cutoff, or none" is asked as "no evidence changed since the
    cutoff": one probe per apprenticeship that stops at the first recent item, where the
    latest change (a Max per apprenticeship) would read them all.
    """
    cutoff = now - INACTIVITY
    recent = EvidenceItem.objects.filter(apprenticeship=OuterRef("pk"), updated_at__gte=cutoff)
    return Q(~Exists(recent), status=Apprenticeship.Status.ACTIVE, start_date__lte=timezone.localdate(cutoff))


def _progress_expressions() -> dict[str, Any]:
    """Each apprenticeship's signed-off share of its standard, as SQL.

    - `signed_off`: its live sign-offs of KSBs of its current standard version (a sign-off left
      on an older version after a move does not count, as on the coverage grid);
    - `ksb_total`: the KSBs of that version; `progress`: the first over the second, exact.

    Correlated subqueries rather than joins, so that nothing else joined to the apprenticeships
    multiplies the rows counted.
    """
    signed = (
        SignOff.objects.live()
        .filter(apprenticeship=OuterRef("pk"), ksb__standard_id=OuterRef("standard_id"))
        .order_by()
        .values("apprenticeship")
        .annotate(n=Count("pk"))
        .values("n")
    )
    total = (
        KSB.objects.filter(standard_id=OuterRef("standard_id"))
        .order_by()
        .values("standard_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return {
        "signed_off": Coalesce(Subquery(signed), 0),
        "ksb_total": Coalesce(Subquery(total), 0),
        # Cast before dividing (integer division would tie everyone at 0); a standard with no
        # KSBs counts as no progress rather than dividing by zero.
        "progress": Coalesce(
            Cast(F("signed_off"), FloatField()) / NullIf(Cast(F("ksb_total"), FloatField()), Value(0.0)),
            Value(0.0),
        ),
    }


def with_progress(apprenticeships: QuerySet[Apprenticeship]) -> QuerySet[Apprenticeship]:
    """The apprenticeships with `signed_off`, `ksb_total` and `progress` read in the same query."""
    return apprenticeships.annotate(**_progress_expressions())


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
    """One page of the filtered cohort, with the counts of the whole of it."""

    rows: list[CohortRow]
    sort: str
    page: Page
    count: int
    inactive_count: int

    @property
    def page_numbers(self) -> list[int | str]:
        """The page links to offer: the ends and a few either side of this page, "…" between."""
        return list(self.page.paginator.get_elided_page_range(self.page.number, on_each_side=2, on_ends=1))


def cohort_heatmap(
    apprenticeships: QuerySet[Apprenticeship],
    *,
    assessor: User | None = None,
    employer: Organisation | None = None,
    status: str = "",
    inactive_only: bool = False,
    sort: str = "name",
    page: Any = 1,
    now: datetime.datetime | None = None,
) -> Cohort:
    """One page of the heatmap: the given apprenticeships narrowed, flagged and sorted, then paged.

    `apprenticeships` must already be limited to what the reader may see. `page` is the requested
    page number as typed; anything that is not a page number gives the first page, and a number
    past the end the last.
    """
    now = now or timezone.now()
    if assessor is not None:
        apprenticeships = apprenticeships.filter(assessor=assessor)
    if employer is not None:
        apprenticeships = apprenticeships.filter(employer=employer)
    if status:
        apprenticeships = apprenticeships.filter(status=status)
    quiet = inactive_condition(now=now)
    if inactive_only:
        apprenticeships = apprenticeships.filter(quiet)
    counts = apprenticeships.aggregate(count=Count("pk"), inactive=Count("pk", filter=quiet))

    if sort not in SORTS:
        sort = "name"
    if sort == "name":
        apprenticeships = apprenticeships.order_by(*NAME_ORDER)
    else:
        # Only ordered by, not selected: the page's rows read their coverage in full below.
        # Equal progress stays in name order, both ways.
        progress = F("progress").desc() if sort.startswith("-") else F("progress").asc()
        apprenticeships = apprenticeships.alias(**_progress_expressions()).order_by(progress, *NAME_ORDER)
    # Only what a row shows, not `with_people()`: the mentor's outer join made PostgreSQL spend
    # 8 ms planning this page's query, against 2 without it.
    paginator = Paginator(apprenticeships.select_related("apprentice", "assessor", "employer", "standard"), PAGE_SIZE)
    # Counted above with the inactive ones, in the same query: spare the paginator its own.
    paginator.count = counts["count"]
    current = paginator.get_page(page)
    chosen = list(current.object_list)
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
    return Cohort(rows=rows, sort=sort, page=current, count=counts["count"], inactive_count=counts["inactive"])


class ListedChoices(forms.models.ModelChoiceIterator):
    """A model choice field's options read once per form. Django's own iterator reads them again,
    through a server-side cursor (three round trips on PostgreSQL), each time the field is drawn."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for choice in self.queryset:
            yield self.choice(choice)


class ListedModelChoiceField(forms.ModelChoiceField):
    iterator = ListedChoices


class CohortFilterForm(forms.Form):
    """Narrows the cohort. Only this provider's assessors and employers are valid choices."""

    assessor = ListedModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="Any assessor",
        error_messages={"invalid_choice": "Choose one of the assessors listed."},
    )
    employer = ListedModelChoiceField(
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
