"""Reads of portfolios that are more than a filter."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, OuterRef, Prefetch, Q

from portal.models import Apprenticeship, User

from .models import EvidenceItem, EvidenceItemQuerySet, EvidenceVersion, KSBMapping


def shown_version(item: EvidenceItem, user: User) -> EvidenceVersion | None:
    """The version a person reads as 'the item now': the apprentice's newest, or else the newest submitted."""
    if item.apprenticeship.apprentice_id == user.pk:
        return item.current_version
    submitted = item.submitted_versions
    return submitted[-1] if submitted else None


def _shown_versions(user: User):
    """For each item this person may see, the version `shown_version` picks, as a queryset usable in filters.

    That is a version the person may read with no later one they may read: asked as "no later
    one exists" rather than "the highest number", which the database answers with one join
    instead of a grouped count per version.
    """
    readable = EvidenceVersion.objects.all()
    if not user.is_superuser:
        own_items = EvidenceItem.objects.filter(apprenticeship__apprentice=user).values("pk")
        readable = readable.filter(Q(item__in=own_items) | Q(submitted_at__isnull=False))
    later = readable.filter(item=OuterRef("item"), number__gt=OuterRef("number"))
    # Narrowed to the person's apprenticeships so that other providers' versions are never read.
    apprenticeships = Apprenticeship.objects.visible_to(user)
    return readable.filter(item__apprenticeship__in=apprenticeships).filter(~Exists(later))


EVIDENCE_PER_PAGE = 25


def evidence_for(
    user: User,
    *,
    status: str = "",
    evidence_type: str = "",
    ksb: tuple[str, int] | None = None,
    words: str = "",
) -> EvidenceItemQuerySet:
    """The items this person may see, narrowed by what the version they see says, newest change first.

    Unevaluated, so a caller can count it or take one page of it before anything is loaded.
    The id breaks ties of `updated_at`, so the order is total and pages never overlap.
    """
    items = EvidenceItem.objects.visible_to(user)
    if status:
        items = items.filter(status=status)
    if evidence_type or ksb or words:
        versions = _shown_versions(user)
        if evidence_type:
            versions = versions.filter(evidence_type=evidence_type)
        if ksb:
            versions = versions.filter(mappings__ksb__kind=ksb[0], mappings__ksb__number=ksb[1])
        if words:
            versions = versions.filter(Q(title__icontains=words) | Q(reflection__icontains=words))
        items = items.filter(pk__in=versions.values("item"))
    return items.order_by("-updated_at", "-pk")


def _listed(items: EvidenceItemQuerySet) -> EvidenceItemQuerySet:
    """What a row of the list shows: each version with its KSBs and how many files it has (counted,
    not loaded: a page's files were a query and a quarter of the objects it made)."""
    return items.select_related("apprenticeship__apprentice").prefetch_related(
        Prefetch(
            "versions",
            queryset=EvidenceVersion.objects.annotate(file_count=Count("files"))
            .order_by("number")
            .prefetch_related(Prefetch("mappings", queryset=KSBMapping.objects.select_related("ksb"))),
        )
    )


def evidence_page(user: User, *, number: int | str | None = 1, per_page: int = EVIDENCE_PER_PAGE, **filters) -> Page:
    """One page of `evidence_for`; a page number that is not a number, or past the end, gives a valid page.

    Only the page's items are loaded with their versions and mappings, each with `shown` set to
    `shown_version`: the count, the page, then its versions and mappings, whatever the total.
    """
    items = evidence_for(user, **filters)
    page = Paginator(items, per_page).get_page(number)
    # The page is chosen by sorting ids alone; only its rows are then read in full. Sorting whole
    # rows joined to their apprentices took most of the time of a list of 25,000 items.
    on_page = EvidenceItem.objects.filter(pk__in=page.object_list.values("pk")).order_by(*items.query.order_by)
    page.object_list = list(_listed(on_page))
    for item in page.object_list:
        item.shown = shown_version(item, user)
    return page
