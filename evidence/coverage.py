"""How far an apprentice's evidence covers the KSBs of their standard.

Each KSB's state is the furthest any item's current version has taken it: in a draft (or
returned for revision), submitted, or accepted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum

from standards.models import KSB

from .models import EvidenceItem


class CoverageState(IntEnum):
    NONE = 0
    DRAFT = 1
    SUBMITTED = 2
    ACCEPTED = 3

    @property
    def label(self) -> str:
        return {0: "No evidence yet", 1: "In a draft", 2: "Submitted", 3: "Accepted"}[self.value]

    @property
    def css(self) -> str:
        return {0: "none", 1: "draft", 2: "submitted", 3: "accepted"}[self.value]


ITEM_STATE = {
    EvidenceItem.Status.DRAFT: CoverageState.DRAFT,
    EvidenceItem.Status.RETURNED: CoverageState.DRAFT,
    EvidenceItem.Status.SUBMITTED: CoverageState.SUBMITTED,
    EvidenceItem.Status.ACCEPTED: CoverageState.ACCEPTED,
}


@dataclass
class KSBCoverage:
    ksb: KSB
    counts: Counter = field(default_factory=Counter)

    @property
    def state(self) -> CoverageState:
        return max(self.counts, default=CoverageState.NONE)

    @property
    def item_count(self) -> int:
        return sum(self.counts.values())

    @property
    def summary(self) -> str:
        """E.g. '1 accepted, 2 submitted' for a cell's tooltip."""
        if not self.counts:
            return "No evidence yet"
        parts = [f"{self.counts[s]} {s.label.lower()}" for s in sorted(self.counts, reverse=True)]
        return ", ".join(parts)


@dataclass
class Coverage:
    cells: list[KSBCoverage]

    @property
    def by_kind(self) -> list[tuple[str, list[KSBCoverage]]]:
        labels = dict(KSB.Kind.choices)
        groups: dict[str, list[KSBCoverage]] = {}
        for cell in self.cells:
            groups.setdefault(cell.ksb.kind, []).append(cell)
        return [(labels[kind], cells) for kind, cells in groups.items()]

    def count(self, at_least: CoverageState) -> int:
        return sum(1 for cell in self.cells if cell.state >= at_least)

    def percent(self, at_least: CoverageState) -> int:
        return round(100 * self.count(at_least) / len(self.cells)) if self.cells else 0

    @property
    def total(self) -> int:
        return len(self.cells)

    @property
    def progress(self) -> list[tuple[str, int, int]]:
        """(what, how many KSBs, percent of all) for the progress figures."""
        figures = [
            ("accepted", CoverageState.ACCEPTED),
            ("submitted or accepted", CoverageState.SUBMITTED),
            ("with any evidence", CoverageState.DRAFT),
        ]
        return [(label, self.count(state), self.percent(state)) for label, state in figures]

    @property
    def totals(self) -> list[tuple[CoverageState, int]]:
        """How many KSBs are in each state, most advanced first."""
        states = Counter(cell.state for cell in self.cells)
        return [(state, states[state]) for state in sorted(CoverageState, reverse=True)]


def coverage_for(ksbs: list[KSB], items: list[EvidenceItem]) -> Coverage:
    """Items must come with their versions and mappings prefetched (`with_versions()`)."""
    cells = {ksb.pk: KSBCoverage(ksb) for ksb in ksbs}
    for item in items:
        current = item.current_version
        if current is None:
            continue
        for mapping in current.mappings.all():
            if mapping.ksb_id in cells:
                cells[mapping.ksb_id].counts[ITEM_STATE[item.status]] += 1
    return Coverage(cells=list(cells.values()))
