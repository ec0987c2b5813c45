"""What an internal quality assurer samples: each assessor's recent decisions and sign-offs.

Reads only; everything comes through the models' `visible_to`, so an IQA sees their own
provider's work and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from evidence.models import EvidenceFile, KSBMapping
from portal.models import Apprenticeship, User

from .models import Decision, IQAReview, KSBJudgement, SignedFile, SignOff

# The latest few per assessor are enough to spot a pattern; the totals say how big a share it is.
SAMPLE_SIZE = 5
SAMPLE_DAYS = 90


@dataclass
class AssessorSample:
    """One assessor's latest decisions and sign-offs, and how many they made in the period."""

    assessor: User
    decisions: list[Decision] = field(default_factory=list)
    decision_total: int = 0
    sign_offs: list[SignOff] = field(default_factory=list)
    sign_off_total: int = 0

    @property
    def is_empty(self) -> bool:
        return not self.decision_total and not self.sign_off_total


def _iqa_reviews() -> Prefetch:
    """Earlier IQA reviews, newest first, so the first is the one that stands."""
    return Prefetch("iqa_reviews", queryset=IQAReview.objects.select_related("reviewer").order_by("-created_at", "-pk"))


def _visible_row_by_row(visible: QuerySet) -> QuerySet:
    """The rows of `visible`, with the access rule checked on each row read rather than on the whole set.

    The sample reads a few assessors' index ranges; joined as a set, the rule would first gather
    every evidence item of the provider, which costs more than the rows actually read.
    """
    return visible.model.objects.filter(Exists(visible.filter(pk=OuterRef("pk"))))


def _per_person(queryset: QuerySet, *, person: str, when: str, size: int) -> tuple[Coalesce, Subquery]:
    """For the outer person: how many rows of `queryset` they have, and the time of their `size`-th newest.

    Both walk the person's own (person, when) index range; the second stops after `size` rows.
    """
    theirs = queryset.filter(**{person: OuterRef("pk")})
    counted = theirs.order_by().values(person).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), 0), Subquery(theirs.order_by(f"-{when}", "-pk").values(when)[size - 1 : size])


def _newest(queryset: QuerySet, *, person: str, when: str, cutoffs: dict[int, datetime], size: int) -> dict[int, list]:
    """Each person's rows from the time of their `size`-th newest on, newest first.

    Rows that share that time with it are read too and dropped here, so each person keeps exactly
    the `size` newest by time and then id, as ranking all their rows would.
    """
    if not cutoffs:
        return {}
    since_cutoff = reduce(or_, (Q(**{person: pk, f"{when}__gte": cutoff}) for pk, cutoff in cutoffs.items()))
    newest: dict[int, list] = {pk: [] for pk in cutoffs}
    for row in queryset.filter(since_cutoff).order_by(f"-{when}", "-pk"):
        rows = newest[getattr(row, f"{person}_id")]
        if len(rows) < size:
            rows.append(row)
    return newest


def iqa_sample(
    user: User, *, size: int = SAMPLE_SIZE, days: int = SAMPLE_DAYS, now: datetime | None = None
) -> list[AssessorSample]:
    """Per assessor of the IQA's provider, the latest `size` decisions and sign-offs of the last `days` days."""
    since = (now or timezone.now()) - timedelta(days=days)
    decisions = _visible_row_by_row(Decision.objects.visible_to(user)).filter(decided_at__gte=since)
    sign_offs = _visible_row_by_row(SignOff.objects.visible_to(user)).filter(signed_at__gte=since)

    # Everyone with a caseload here is sampled, even with nothing decided in the period; so is any
    # other member of staff whose decisions are visible, such as an assessor whose caseload has moved on.
    apprenticeships = Apprenticeship.objects.visible_to(user)
    staff = User.objects.filter(
        Q(pk__in=apprenticeships.values("assessor"))
        | (Q(organisation__in=apprenticeships.values("provider")) & ~Q(role=User.Role.APPRENTICE))
    ).annotate(holds_caseload=Exists(apprenticeships.filter(assessor=OuterRef("pk"))))
    people = {person.pk: person for person in staff}
    if not people:
        return []

    # Counted in a second query over the ids themselves, so the database plans for these few people
    # rather than for a guess at how many the condition above lets through.
    counts = User.objects.filter(pk__in=people).values_list(
        "pk",
        *_per_person(decisions, person="assessor", when="decided_at", size=size),
        *_per_person(sign_offs, person="signed_by", when="signed_at", size=size),
    )
    samples: dict[int, AssessorSample] = {}
    decision_cutoffs: dict[int, datetime] = {}
    sign_off_cutoffs: dict[int, datetime] = {}
    for pk, decision_total, decision_cutoff, sign_off_total, sign_off_cutoff in counts:
        if not (people[pk].holds_caseload or decision_total or sign_off_total):
            continue
        samples[pk] = AssessorSample(people[pk], decision_total=decision_total, sign_off_total=sign_off_total)
        if decision_total:
            decision_cutoffs[pk] = decision_cutoff or since
        if sign_off_total:
            sign_off_cutoffs[pk] = sign_off_cutoff or since

    sampled_decisions = decisions.select_related("assessor", "version__item__apprenticeship__apprentice")
    for pk, rows in _newest(
        sampled_decisions.prefetch_related(_iqa_reviews()),
        person="assessor",
        when="decided_at",
        cutoffs=decision_cutoffs,
        size=size,
    ).items():
        samples[pk].decisions = rows
    sampled_sign_offs = sign_offs.select_related("signed_by", "ksb", "apprenticeship__apprentice")
    for pk, rows in _newest(
        sampled_sign_offs.prefetch_related(_iqa_reviews()),
        person="signed_by",
        when="signed_at",
        cutoffs=sign_off_cutoffs,
        size=size,
    ).items():
        samples[pk].sign_offs = rows
    return sorted(
        samples.values(), key=lambda s: (s.assessor.last_name.lower(), s.assessor.first_name.lower(), s.assessor.email)
    )


def decisions_for_iqa(user: User) -> QuerySet[Decision]:
    """Decisions this IQA may read, with everything the review page shows loaded up front."""
    return (
        Decision.objects.visible_to(user)
        .select_related(
            "assessor", "version__item__apprenticeship__apprentice", "version__item__apprenticeship__standard"
        )
        .prefetch_related(
            Prefetch("version__mappings", queryset=KSBMapping.objects.select_related("ksb")),
            Prefetch("version__files", queryset=EvidenceFile.objects.order_by("uploaded_at", "pk")),
            Prefetch("judgements", queryset=KSBJudgement.objects.all()),
            _iqa_reviews(),
        )
    )


def sign_offs_for_iqa(user: User) -> QuerySet[SignOff]:
    """Sign-offs this IQA may read, with the evidence relied on and the file hashes signed."""
    return (
        SignOff.objects.visible_to(user)
        .select_related("ksb", "signed_by", "revoked_by", "apprenticeship__apprentice", "apprenticeship__standard")
        .prefetch_related(
            "versions",
            Prefetch(
                "signed_files",
                queryset=SignedFile.objects.select_related("file", "version").order_by("version__number", "file__pk"),
            ),
            _iqa_reviews(),
        )
    )


def ksb_judgements(decision: Decision) -> list[tuple[KSBMapping, KSBJudgement | None]]:
    """Each KSB the version was mapped to, with the assessor's judgement on it (none when returned)."""
    by_mapping = {judgement.mapping_id: judgement for judgement in decision.judgements.all()}
    return [(mapping, by_mapping.get(mapping.pk)) for mapping in decision.version.sorted_mappings]
