"""Coverage by duty, for standards that map their duties to KSBs.

A duty is covered when every KSB it calls on is signed off. It is read from the KSB coverage
already computed (`reviews.progress`), so it costs the queries for the duties and nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from standards.models import Duty, Standard

from .progress import Coverage, CoverageState, KSBCoverage


@dataclass
class DutyCoverage:
    duty: Duty
    cells: list[KSBCoverage]

    @property
    def total(self) -> int:
        return len(self.cells)

    @property
    def signed_off(self) -> int:
        return sum(1 for cell in self.cells if cell.state == CoverageState.SIGNED_OFF)

    @property
    def covered(self) -> bool:
        # A duty the standard maps to no KSB cannot be evidenced here, so it is never "covered".
        return bool(self.cells) and self.signed_off == self.total

    @property
    def percent(self) -> int:
        return round(100 * self.signed_off / self.total) if self.total else 0


def duties_of(standard: Standard) -> list[Duty]:
    """The standard's duties with their KSBs and options, in two or three queries."""
    return list(standard.duties.prefetch_related("ksbs", "options"))


@dataclass
class DutiesCoverage:
    rows: list[DutyCoverage]

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def covered(self) -> int:
        return sum(1 for row in self.rows if row.covered)

    def __bool__(self) -> bool:
        return bool(self.rows)


def duty_coverage(coverage: Coverage, duties: Iterable[Duty]) -> DutiesCoverage:
    """Each duty with the coverage cells of its KSBs, in the standard's order."""
    cells = {cell.ksb.pk: cell for cell in coverage.cells}
    return DutiesCoverage(
        rows=[
            DutyCoverage(duty=duty, cells=[cells[ksb.pk] for ksb in duty.sorted_ksbs if ksb.pk in cells])
            for duty in duties
        ]
    )
