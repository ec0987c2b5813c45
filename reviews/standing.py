"""Where each apprentice stands on the whole programme: KSB coverage, off-the-job hours, reviews.

The lists of apprentices (the assessor's caseload, the provider's cohort, the mentor's mentees)
show the three side by side; each part is read in a fixed number of queries, so a list of
hundreds costs what a list of one does.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Exists, OuterRef
from django.utils import timezone

from evidence.otj import OTJSummary, otj_summaries
from portal.models import Apprenticeship, User

from .models import Party, ProgressReview, Signature, TrainingPlan
from .progress import Coverage, progress_for
from .schedule import ReviewStatus, review_statuses


@dataclass(frozen=True)
class Standing:
    coverage: Coverage
    otj: OTJSummary
    review: ReviewStatus

    @property
    def apprenticeship(self) -> Apprenticeship:
        return self.coverage.apprenticeship

    @property
    def needs_attention(self) -> bool:
        return self.otj.behind or self.review.overdue


def standings(
    apprenticeships: list[Apprenticeship], *, drafts: bool = False, on: datetime.date | None = None
) -> dict[int, Standing]:
    """Each apprenticeship's standing, keyed by id. Their standards must be loaded (`with_people()`)."""
    on = on or timezone.localdate()
    coverage = progress_for(apprenticeships, drafts=drafts)
    otj = otj_summaries(apprenticeships, on=on)
    reviews = review_statuses(apprenticeships, on=on)
    return {a.pk: Standing(coverage=coverage[a.pk], otj=otj[a.pk], review=reviews[a.pk]) for a in apprenticeships}


PARTY_OF_ROLE = {
    User.Role.APPRENTICE: (Party.APPRENTICE, "apprentice"),
    User.Role.MENTOR: (Party.MENTOR, "mentor"),
    User.Role.ASSESSOR: (Party.ASSESSOR, "assessor"),
}


def awaiting_signature(
    user: User, among: list[Apprenticeship] | None = None
) -> tuple[list[ProgressReview], list[TrainingPlan]]:
    """Progress reviews and current training plans this person still has to sign, in two queries.

    Only the party the person is on the apprenticeship counts (an assessor signs for their
    caseload, a mentor for their mentees); a plan superseded by a newer version is not asked for.
    A page that has already read the person's apprenticeships (`visible_to`) passes them as `among`.
    """
    if user.role not in PARTY_OF_ROLE:
        return [], []
    party, field = PARTY_OF_ROLE[user.role]
    if among is None:
        mine = Apprenticeship.objects.visible_to(user).filter(**{field: user}).values("pk")
    else:
        mine = [a.pk for a in among if getattr(a, f"{field}_id") == user.pk]
        if not mine:
            return [], []
    reviews = (
        ProgressReview.objects.filter(apprenticeship_id__in=mine, locked_at__isnull=True)
        .exclude(Exists(Signature.objects.filter(review=OuterRef("pk"), party=party)))
        .select_related("apprenticeship__apprentice")
        .order_by("held_on", "pk")
    )
    newer = TrainingPlan.objects.filter(apprenticeship=OuterRef("apprenticeship"), version__gt=OuterRef("version"))
    plans = (
        TrainingPlan.objects.filter(apprenticeship_id__in=mine, locked_at__isnull=True)
        .exclude(Exists(newer))
        .exclude(Exists(Signature.objects.filter(plan=OuterRef("pk"), party=party)))
        .select_related("apprenticeship__apprentice")
        .order_by("created_at", "pk")
    )
    return list(reviews), list(plans)
