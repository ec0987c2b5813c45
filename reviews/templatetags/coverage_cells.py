"""The drawings that repeat one cell per KSB: the cohort heatmap's strips and the coverage grid.

A heatmap page draws 50 × 65 cells and a coverage grid 65 links. Written as template loops,
looking up each cell's parts took most of those pages' time (about 200 ms of the heatmap's
300); built here in one pass, the same markup costs a few milliseconds. Every piece of text
is escaped; the CSS names come from `CoverageState`, a fixed set.
"""

from __future__ import annotations

# The standard library's escape: the same output as Django's, without its lazy-string wrapper
# around each of thousands of calls.
import zlib
from dataclasses import dataclass
from functools import lru_cache
from html import escape

from django import template
from django.core.cache import cache
from django.template.defaultfilters import pluralize
from django.urls import get_script_prefix
from django.utils.safestring import SafeString, mark_safe

from portal.templatetags.links import fast_reverse_last

from ..progress import Coverage, KSBCoverage

register = template.Library()

# A page's tooltips and codes repeat ("K1", "1 accepted", "No evidence yet"): each is escaped once.
_escaped = lru_cache(maxsize=4096)(escape)


@register.simple_tag
def heatmap_strip(coverage: Coverage) -> SafeString:
    """One row's cells, grouped by kind (K, S, B); each names its KSB and state in a tooltip."""
    groups = []
    for _, cells in coverage.by_kind:
        spans = "".join(
            f'<span class="heatmap-cell coverage-{cell.state.css}" role="img" '
            f'title="{_escaped(cell.ksb.code)}: {_escaped(cell.summary)}"></span>'
            for cell in cells
        )
        groups.append(f'<span class="heatmap-group">{spans}</span>')
    return mark_safe("".join(groups))  # noqa: S308 - built from escaped text above


def _grid_cell(cell: KSBCoverage, href: str) -> str:
    code = escape(cell.ksb.code)
    count = cell.item_count
    # The name read out starts with the code shown, then says the state in words (never colour alone).
    spoken = f" {escape(cell.state.label)}" + (f", {count} item{pluralize(count)}" if count else "")
    shown_count = f'<span class="coverage-count" aria-hidden="true">{count}</span>' if count else ""
    return (
        f'<li><a class="coverage-cell coverage-{cell.state.css}" href="{escape(href)}" data-ksb="{code}" '
        f'title="{code}: {escape(cell.ksb.text)} — {escape(cell.summary)}">'
        f'<span class="coverage-code">{code}</span><span class="visually-hidden">{spoken}</span>{shown_count}</a></li>'
    )


@register.simple_tag
def coverage_grid_cells(coverage: Coverage, cells: list[KSBCoverage], list_url: str = "") -> SafeString:
    """The grid's links for one kind: to the evidence list filtered by the KSB when `list_url` is
    given (the apprentice's own grid), otherwise to the KSB's page of this apprenticeship."""
    if list_url:
        hrefs = [f"{list_url}?ksb={cell.ksb.code}" for cell in cells]
    else:
        ksb_page = fast_reverse_last("reviews:ksb", coverage.apprenticeship.pk)
        hrefs = [ksb_page(cell.ksb.code) for cell in cells]
    return mark_safe("".join(_grid_cell(cell, href) for cell, href in zip(cells, hrefs, strict=True)))  # noqa: S308


@register.simple_tag
def heatmap_counts(coverage: Coverage) -> SafeString:
    """The row's states in words under its strip, e.g. "12 signed off 30 accepted 23 no evidence yet"."""
    return mark_safe(  # noqa: S308 - labels are fixed text
        "".join(
            f'<span class="me-2">{count} {escape(state.label.lower())}</span>'
            for state, count in coverage.totals
            if count
        )
    )


@register.simple_tag
def sign_off_links(coverage: Coverage, cells: list[KSBCoverage]) -> SafeString:
    """A badge per KSB with accepted evidence and no sign-off, each opening its sign-off page."""
    ksb_page = fast_reverse_last("reviews:ksb", coverage.apprenticeship.pk)
    return mark_safe(  # noqa: S308 - built from escaped text
        "".join(
            f'<a class="badge coverage-accepted text-decoration-none me-1" '
            f'href="{escape(ksb_page(code := cell.ksb.code))}">{_escaped(code)}</a>'
            for cell in cells
        )
    )


# Drawn rows are kept for two hours: long enough for an afternoon's paging through the cohort or
# returns to the caseload, short enough that only the rows in use take room in Redis (about 0.9 KB
# each, compressed).
DRAWN_ROW_SECONDS = 2 * 60 * 60


@dataclass(frozen=True)
class DrawnRow:
    """A row of a list of apprentices as drawn from their coverage: the heatmap's strip and counts,
    the badges of KSBs waiting for a sign-off, and the figures shown beside them."""

    strip: SafeString
    counts: SafeString
    sign_off_links: SafeString
    signed_off: int
    total: int

    @property
    def percent_signed_off(self) -> int:
        return round(100 * self.signed_off / self.total) if self.total else 0


def drawn_rows(coverages: list[Coverage]) -> list[DrawnRow]:
    """Each coverage's row drawn, from the cache where its fingerprint is unchanged.

    Building a heatmap page's 50 × 65 cells and drawing them took about 45 ms; read back, about 2.
    The fingerprint changes with anything the drawing shows (see `Coverage.fingerprint`); the `1`
    in the key is the form of the markup: a release that changes it changes the number.
    """
    # The badges link within the site, so its address prefix is part of what was drawn.
    prefix = get_script_prefix()
    keys = [f"drawn-row:1:{c.apprenticeship.pk}:{c.fingerprint}:{prefix}" if c.fingerprint else "" for c in coverages]
    found = cache.get_many([key for key in keys if key])
    fresh = {}
    drawn = []
    for coverage, key in zip(coverages, keys, strict=True):
        if key in found:
            *packed, signed_off = found[key]
            markup = [zlib.decompress(part).decode() for part in packed]
        else:
            markup = [
                heatmap_strip(coverage),
                heatmap_counts(coverage),
                sign_off_links(coverage, coverage.awaiting_sign_off),
            ]
            signed_off = coverage.signed_off
            if key:
                fresh[key] = (*(zlib.compress(part.encode()) for part in markup), signed_off)
        # Drawn here from escaped text, or read back as drawn.
        strip, counts, links = (mark_safe(part) for part in markup)  # noqa: S308
        drawn.append(DrawnRow(strip, counts, links, signed_off, coverage.total))
    if fresh:
        cache.set_many(fresh, DRAWN_ROW_SECONDS)
    return drawn
