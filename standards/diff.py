"""What changed between two versions of a standard: KSBs unchanged, reworded, removed or added.

Codes are positions, so they move when a statement is inserted or removed (the old K3 may be
the new K2); statements are therefore paired by their text, never by their code. A pair is

- *unchanged* when the text is the same once whitespace is evened out (a non-breaking space is
  still a space), whatever its code now;
- *reworded* when, among what is left of the same kind, the texts are at least
  `REWORDED_THRESHOLD` alike by `difflib.SequenceMatcher` (0.6 is the cut-off difflib itself uses
  for "close matches": edits to a sentence score well above it, a different sentence well below);
  the most alike pairs are taken first.

Whatever is left of the old version was removed, and of the new one added.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from .models import KSB, Standard

REWORDED_THRESHOLD = 0.6


def normalised(text: str) -> str:
    return " ".join(text.split())


def _matcher(a: str, b: str) -> SequenceMatcher:
    """Compares two statements ignoring case and spacing; its ratio() runs from 0 to 1."""
    return SequenceMatcher(None, normalised(a).casefold(), normalised(b).casefold(), autojunk=False)


@dataclass(frozen=True)
class Pair:
    old: KSB
    new: KSB
    similarity: float = 1.0

    @property
    def moved(self) -> bool:
        return self.old.code != self.new.code

    @property
    def percent(self) -> int:
        return round(100 * self.similarity)


@dataclass
class KSBChanges:
    unchanged: list[Pair] = field(default_factory=list)
    reworded: list[Pair] = field(default_factory=list)
    removed: list[KSB] = field(default_factory=list)
    added: list[KSB] = field(default_factory=list)

    @property
    def renumbered(self) -> list[Pair]:
        """Unchanged statements that carry another code in the new version."""
        return [pair for pair in self.unchanged if pair.moved]

    @property
    def has_changes(self) -> bool:
        return bool(self.reworded or self.removed or self.added or self.renumbered)

    def unchanged_counterpart(self) -> dict[int, KSB]:
        """Old KSB id -> the new version's KSB with the same text."""
        return {pair.old.pk: pair.new for pair in self.unchanged}

    def reworded_counterpart(self) -> dict[int, KSB]:
        """Old KSB id -> the new version's KSB that rewords it."""
        return {pair.old.pk: pair.new for pair in self.reworded}


def compare_ksbs(old: Iterable[KSB], new: Iterable[KSB]) -> KSBChanges:
    """Pairs the statements of two versions; each statement is in exactly one place of the result."""
    old, new = list(old), list(new)
    changes = KSBChanges()
    paired_old: set[int] = set()
    paired_new: set[int] = set()

    # Same text: prefer the same code, so an unchanged statement that kept its place stays put.
    by_text: dict[tuple[str, str], list[KSB]] = defaultdict(list)
    for ksb in new:
        by_text[(ksb.kind, normalised(ksb.text))].append(ksb)
    for ksb in old:
        candidates = [k for k in by_text[(ksb.kind, normalised(ksb.text))] if k.pk not in paired_new]
        if candidates:
            match = next((k for k in candidates if k.number == ksb.number), candidates[0])
            changes.unchanged.append(Pair(ksb, match))
            paired_old.add(ksb.pk)
            paired_new.add(match.pk)

    # Reworded: the most alike pairs of what is left, within a kind.
    left_old = [k for k in old if k.pk not in paired_old]
    left_new = [k for k in new if k.pk not in paired_new]
    candidates: list[tuple[float, int, int, KSB, KSB]] = []
    for a in left_old:
        for b in left_new:
            if a.kind != b.kind:
                continue
            matcher = _matcher(a.text, b.text)
            # The cheap upper bounds rule most pairs out before the full comparison.
            if matcher.real_quick_ratio() < REWORDED_THRESHOLD or matcher.quick_ratio() < REWORDED_THRESHOLD:
                continue
            ratio = matcher.ratio()
            if ratio >= REWORDED_THRESHOLD:
                candidates.append((ratio, -abs(a.number - b.number), -a.number, a, b))
    for ratio, _, _, a, b in sorted(candidates, key=lambda c: c[:3], reverse=True):
        if a.pk in paired_old or b.pk in paired_new:
            continue
        changes.reworded.append(Pair(a, b, ratio))
        paired_old.add(a.pk)
        paired_new.add(b.pk)

    order = {ksb.pk: n for n, ksb in enumerate(old)}
    changes.unchanged.sort(key=lambda p: order[p.old.pk])
    changes.reworded.sort(key=lambda p: order[p.old.pk])
    changes.removed = [k for k in old if k.pk not in paired_old]
    changes.added = [k for k in new if k.pk not in paired_new]
    return changes


@dataclass
class VersionDiff:
    old: Standard
    new: Standard
    changes: KSBChanges


def compare_versions(old: Standard, new: Standard) -> VersionDiff:
    return VersionDiff(old=old, new=new, changes=compare_ksbs(old.ksbs.all(), new.ksbs.all()))
