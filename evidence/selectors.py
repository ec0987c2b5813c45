"""Reads of portfolios that are more than a filter."""

from __future__ import annotations

from django.db.models import Max, OuterRef, Q, Subquery

from portal.models import User

from .models import EvidenceItem, EvidenceVersion


def shown_version(item: EvidenceItem, user: User) -> EvidenceVersion | None:
    """The version a person reads as 'the item now': the apprentice's newest, or else the newest submitted."""
    if item.apprenticeship.apprentice_id == user.pk:
        return item.current_version
    submitted = item.submitted_versions
    return submitted[-1] if submitted else None


def _shown_versions(user: User):
    """For each item, the version `shown_version` picks, as a queryset usable in filters."""
    candidates = EvidenceVersion.objects.filter(item=OuterRef("item"))
    if not user.is_superuser:
        candidates = candidates.filter(Q(item__apprenticeship__apprentice=user) | Q(submitted_at__isnull=False))
    latest = candidates.values("item").annotate(latest=Max("number")).values("latest")[:1]
    return EvidenceVersion.objects.filter(number=Subquery(latest))


def evidence_for(
    user: User,
    *,
    status: str = "",
    evidence_type: str = "",
    ksb: tuple[str, int] | None = None,
    words: str = "",
) -> list[EvidenceItem]:
    """The items this person may see, narrowed by what the version they see says.

    Each item comes with its versions, files and mappings, and `shown` set to `shown_version`.
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
    items = list(items.with_versions())
    for item in items:
        item.shown = shown_version(item, user)
    return items
