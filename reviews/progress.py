"""Progress: how far each apprentice's evidence and sign-offs cover their standard's KSBs.

A KSB's state is the furthest anything has taken it: in a draft (or returned for revision),
submitted, accepted (with the KSB confirmed by the assessor), or signed off. Progress is
signed-off KSBs over all KSBs of the apprenticeship's standard version.

Everything is read in a fixed number of aggregate queries, however many apprentices, items
and KSBs there are, so the same code serves one apprentice's home and a cohort of hundreds.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property

from django.db.models import Max, OuterRef, Subquery

from evidence.models import EvidenceItem, EvidenceVersion, KSBMapping
from portal.models import Apprenticeship
from standards.models import KSB

from .models import SignOff


class CoverageState(IntEnum):
    NONE = 0
    DRAFT = 1
    SUBMITTED = 2
    ACCEPTED = 3
    SIGNED_OFF = 4

    @property
    def label(self) -> str:
        return _LABELS[self.value]

    @property
    def css(self) -> str:
        return _CSS[self.value]


_LABELS = ("No evidence yet", "In a draft", "Submitted", "Accepted", "Signed off")
_CSS = ("none", "draft", "submitted", "accepted", "signed_off")


ITEM_STATE = {
    EvidenceItem.Status.DRAFT: CoverageState.DRAFT,
    EvidenceItem.Status.RETURNED: CoverageState.DRAFT,
    EvidenceItem.Status.SUBMITTED: CoverageState.SUBMITTED,
    EvidenceItem.Status.ACCEPTED: CoverageState.ACCEPTED,
}


class KSBCoverage:
    """One KSB of one apprenticeship: how many items claim it in each state, and its live sign-off.

    A heatmap page holds 50 × 65 of these, so they are slotted, make their counter only when
    an item claims the KSB, and work out their state and tooltip once, when first asked (after
    `progress_for` has filled them in).
    """

    __slots__ = ("ksb", "counts", "signed_at", "signed_by", "_state", "_summary")

    def __init__(self, ksb: KSB) -> None:
        self.ksb = ksb
        self.counts: Counter = _NO_ITEMS
        self.signed_at: datetime.datetime | None = None
        self.signed_by = ""
        self._state: CoverageState | None = None
        self._summary: str | None = None

    def __repr__(self) -> str:
        return f"<KSBCoverage {self.ksb.code}: {self.state.css}>"

    def add_item(self, state: CoverageState) -> None:
        if self.counts is _NO_ITEMS:
            self.counts = Counter()
        self.counts[state] += 1

    @property
    def state(self) -> CoverageState:
        if self._state is None:
            self._state = CoverageState.SIGNED_OFF if self.signed_at else max(self.counts, default=CoverageState.NONE)
        return self._state

    @property
    def item_count(self) -> int:
        return sum(self.counts.values())

    @property
    def summary(self) -> str:
        """For a cell's tooltip, e.g. 'Signed off 3 Mar 2026 by D. Okafor; 1 accepted'."""
        if self._summary is None:
            parts = [f"{self.counts[s]} {_LOWER_LABELS[s]}" for s in sorted(self.counts, reverse=True)]
            if self.signed_at:
                parts.insert(0, f"Signed off {self.signed_at:%d %b %Y} by {self.signed_by}")
            self._summary = "; ".join(parts) or "No evidence yet"
        return self._summary


# Shared by every KSB no item claims; never written to (`add_item` makes a counter of its own).
_NO_ITEMS: Counter = Counter()
_LOWER_LABELS = tuple(label.lower() for label in _LABELS)


@dataclass
class Coverage:
    apprenticeship: Apprenticeship
    cells: list[KSBCoverage]
    last_activity: datetime.datetime | None = None

    @cached_property
    def by_kind(self) -> list[tuple[str, list[KSBCoverage]]]:
        labels = dict(KSB.Kind.choices)
        groups: dict[str, list[KSBCoverage]] = {}
        for cell in self.cells:
            groups.setdefault(cell.ksb.kind, []).append(cell)
        return [(labels[kind], cells) for kind, cells in groups.items()]

    @property
    def total(self) -> int:
        return len(self.cells)

    @cached_property
    def _states(self) -> Counter:
        # Every figure below counts states; the cells are complete once the coverage is made.
        return Counter(cell.state for cell in self.cells)

    def count(self, at_least: CoverageState) -> int:
        return sum(n for state, n in self._states.items() if state >= at_least)

    def percent(self, at_least: CoverageState) -> int:
        return round(100 * self.count(at_least) / self.total) if self.total else 0

    @property
    def signed_off(self) -> int:
        return self.count(CoverageState.SIGNED_OFF)

    @property
    def percent_signed_off(self) -> int:
        return self.percent(CoverageState.SIGNED_OFF)

    @property
    def progress(self) -> list[tuple[str, int, int]]:
        """(what, how many KSBs, percent of all) for the progress figures."""
        figures = [
            ("signed off", CoverageState.SIGNED_OFF),
            ("accepted or signed off", CoverageState.ACCEPTED),
            ("with any evidence", CoverageState.DRAFT),
        ]
        return [(label, self.count(state), self.percent(state)) for label, state in figures]

    @property
    def totals(self) -> list[tuple[CoverageState, int]]:
        return [(state, self._states[state]) for state in sorted(CoverageState, reverse=True)]

    @property
    def awaiting_sign_off(self) -> list[KSBCoverage]:
        """KSBs with accepted evidence and no sign-off yet."""
        return [cell for cell in self.cells if cell.state == CoverageState.ACCEPTED]


def _current_version_number():
    # The newest number straight off the (item, number) unique index: a quarter faster at scale
    # than a MAX grouped by item, which also joined the items again.
    return Subquery(
        EvidenceVersion.objects.filter(item=OuterRef("version__item")).order_by("-number").values("number")[:1]
    )


def progress_for(apprenticeships: list[Apprenticeship], *, drafts: bool = True) -> dict[int, Coverage]:
    """Coverage of each apprenticeship, keyed by its id, in four queries.

    With `drafts=False` (for everyone but the apprentice) items in draft or being revised after
    feedback are left out: what staff judge is what has been submitted.
    """
    ids = [a.pk for a in apprenticeships]
    standard_ids = {a.standard_id for a in apprenticeships}
    ksbs_by_standard: dict[int, list[KSB]] = defaultdict(list)
    for ksb in KSB.objects.filter(standard_id__in=standard_ids):
        ksbs_by_standard[ksb.standard_id].append(ksb)
    cells = {a.pk: {ksb.pk: KSBCoverage(ksb) for ksb in ksbs_by_standard[a.standard_id]} for a in apprenticeships}

    mappings = KSBMapping.objects.filter(
        version__item__apprenticeship_id__in=ids, version__number=_current_version_number()
    ).exclude(judgement__confirmed=False)
    rows = mappings.values_list("version__item__apprenticeship_id", "ksb_id", "version__item__status")
    if not drafts:
        rows = rows.exclude(version__item__status__in=[EvidenceItem.Status.DRAFT, EvidenceItem.Status.RETURNED])
    for apprenticeship_id, ksb_id, status in rows:
        cell = cells[apprenticeship_id].get(ksb_id)
        if cell:
            cell.add_item(ITEM_STATE[status])

    for apprenticeship_id, ksb_id, signed_at, first, last in (
        SignOff.objects.live()
        .filter(apprenticeship_id__in=ids)
        .values_list("apprenticeship_id", "ksb_id", "signed_at", "signed_by__first_name", "signed_by__last_name")
    ):
        cell = cells[apprenticeship_id].get(ksb_id)
        if cell:
            cell.signed_at = signed_at
            cell.signed_by = f"{first} {last}".strip()

    activity = dict(
        EvidenceItem.objects.filter(apprenticeship_id__in=ids)
        .values("apprenticeship_id")
        .annotate(latest=Max("updated_at"))
        .values_list("apprenticeship_id", "latest")
    )
    return {
        a.pk: Coverage(apprenticeship=a, cells=list(cells[a.pk].values()), last_activity=activity.get(a.pk))
        for a in apprenticeships
    }


def progress_of(apprenticeship: Apprenticeship, *, drafts: bool = True) -> Coverage:
    return progress_for([apprenticeship], drafts=drafts)[apprenticeship.pk]
