"""What an internal quality assurer samples: each assessor's recent decisions and sign-offs.

Reads only; everything comes through the models' `visible_to`, so an IQA sees their own
provider's work and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, F, Prefetch, QuerySet, Window
from django.db.models.functions import RowNumber
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


def _latest_per_person(queryset: QuerySet, *, person: str, when: str, size: int) -> QuerySet:
    """The newest `size` rows per person, each carrying how many rows that person has in all.

    Ranked by a window function in the database, so the page reads a bounded number of rows
    in one query however many decisions there are.
    """
    newest_first = [F(when).desc(), F("pk").desc()]
    return (
        queryset.annotate(
            rank=Window(RowNumber(), partition_by=F(person), order_by=newest_first),
            person_total=Window(Count("pk"), partition_by=F(person)),
        )
        .filter(rank__lte=size)
        .order_by(person, *newest_first)
    )


def iqa_sample(
    user: User, *, size: int = SAMPLE_SIZE, days: int = SAMPLE_DAYS, now: datetime | None = None
) -> list[AssessorSample]:
    """Per assessor of the IQA's provider, the latest `size` decisions and sign-offs of the last `days` days."""
    since = (now or timezone.now()) - timedelta(days=days)
    decisions = _latest_per_person(
        Decision.objects.visible_to(user).filter(decided_at__gte=since),
        person="assessor",
        when="decided_at",
        size=size,
    ).select_related("assessor", "version__item__apprenticeship__apprentice")
    sign_offs = _latest_per_person(
        SignOff.objects.visible_to(user).filter(signed_at__gte=since),
        person="signed_by",
        when="signed_at",
        size=size,
    ).select_related("signed_by", "ksb", "apprenticeship__apprentice")

    # Everyone with a caseload here is sampled, even with nothing decided in the period; so is
    # anyone whose decisions are visible, such as an assessor whose caseload has moved on.
    caseload_holders = User.objects.filter(caseload__in=Apprenticeship.objects.visible_to(user)).distinct()
    samples = {assessor.pk: AssessorSample(assessor) for assessor in caseload_holders}
    for decision in decisions.prefetch_related(_iqa_reviews()):
        sample = samples.setdefault(decision.assessor_id, AssessorSample(decision.assessor))
        sample.decisions.append(decision)
        sample.decision_total = decision.person_total
    for sign_off in sign_offs.prefetch_related(_iqa_reviews()):
        sample = samples.setdefault(sign_off.signed_by_id, AssessorSample(sign_off.signed_by))
        sample.sign_offs.append(sign_off)
        sample.sign_off_total = sign_off.person_total
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
