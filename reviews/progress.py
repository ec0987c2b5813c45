"""Progress: how far each apprentice's evidence and sign-offs cover their standard's KSBs.

A KSB's state is the furthest anything has taken it: in a draft (or returned for revision),
submitted, accepted (with the KSB confirmed by the assessor), or signed off. Progress is
signed-off KSBs over all KSBs of the apprenticeship's standard version.

Everything is read in a fixed number of aggregate queries, however many apprentices, items
and KSBs there are, so the same code serves one apprentice's home and a cohort of hundreds.
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from collections import Counter, defaultdict
from enum import IntEnum
from functools import cached_property

from django.core.cache import cache
from django.db.models import Max, OuterRef, Subquery

from evidence.models import EvidenceItem, EvidenceVersion, KSBMapping
from portal.models import Apprenticeship, User
from standards.models import KSB

from .models import SignOff


class CoverageState(IntEnum):
    NONE = 0
    DRAFT = 1
    SUBMITTED = 2
    ACCEPTED = 3
    SIGNED_OFF = 4

    # Indexed by the member itself (an int): `.value` goes through enum's descriptor, thousands of times a page.
    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def css(self) -> str:
        return _CSS[self]


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

    A heatmap page holds 50 × 65 of these, so they are slotted, have counts of their own only when
    an item claims the KSB, and work out their state and tooltip once, when first asked (after
    `progress_for` has filled them in).
    """

    __slots__ = ("ksb", "counts", "signed_at", "signed_by", "_state", "_summary")

    def __init__(self, ksb: KSB) -> None:
        self.ksb = ksb
        self.counts: dict[CoverageState, int] = _NO_ITEMS
        self.signed_at: datetime.datetime | None = None
        self.signed_by = ""
        self._state: CoverageState | None = None
        self._summary: str | None = None

    def __repr__(self) -> str:
        return f"<KSBCoverage {self.ksb.code}: {self.state.css}>"

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
            if not self.counts and not self.signed_at:
                self._summary = "No evidence yet"
                return self._summary
            parts = [f"{self.counts[s]} {_LOWER_LABELS[s]}" for s in sorted(self.counts, reverse=True)]
            if self.signed_at:
                parts.insert(0, f"Signed off {self.signed_at:%d %b %Y} by {self.signed_by}")
            self._summary = "; ".join(parts) or "No evidence yet"
        return self._summary


# Shared by every KSB no item claims; never written to (`progress_for` gives a claimed KSB its own).
_NO_ITEMS: dict[CoverageState, int] = {}
_LOWER_LABELS = tuple(label.lower() for label in _LABELS)


class Coverage:
    """One apprenticeship's coverage of its standard's KSBs.

    Its cells are built from the facts `progress_for` read when first asked for: a page that shows
    a drawing of them cached under `fingerprint` (the heatmap) never builds them.
    """

    def __init__(
        self,
        apprenticeship: Apprenticeship,
        ksbs: list[KSB],
        facts: Facts = ((), (), None),
        names: dict[int, str] | None = None,
        fingerprint: str = "",
    ) -> None:
        self.apprenticeship = apprenticeship
        self._ksbs = ksbs
        self._facts = facts
        self._names = names or {}
        self.last_activity = _moment(facts[2]) if facts[2] is not None else None
        # Changes whenever anything drawn from these facts would: the evidence stamp, the view,
        # the standard's KSBs and the signers' names. Empty when there is nothing to key by.
        self.fingerprint = fingerprint

    def __repr__(self) -> str:
        return f"<Coverage of apprenticeship {self.apprenticeship.pk}: {self.total} KSBs>"

    @cached_property
    def cells(self) -> list[KSBCoverage]:
        items, signed, _ = self._facts
        cells = [KSBCoverage(ksb) for ksb in self._ksbs]
        # Where each KSB's cell sits in the row (`.id`, not `.pk`: this runs for every claim).
        place = {ksb.id: i for i, ksb in enumerate(self._ksbs)}
        for i in range(0, len(items), 4):
            if items[i] in place:
                claims = zip(_CLAIMED, items[i + 1 : i + 4], strict=True)
                cells[place[items[i]]].counts = {state: n for state, n in claims if n}
        for i in range(0, len(signed), 3):
            if signed[i] in place:
                cell = cells[place[signed[i]]]
                cell.signed_at = _moment(signed[i + 1])
                cell.signed_by = self._names.get(signed[i + 2], "")
        return cells

    @cached_property
    def by_kind(self) -> list[tuple[str, list[KSBCoverage]]]:
        labels = dict(KSB.Kind.choices)
        groups: dict[str, list[KSBCoverage]] = {}
        for cell in self.cells:
            groups.setdefault(cell.ksb.kind, []).append(cell)
        return [(labels[kind], cells) for kind, cells in groups.items()]

    @property
    def total(self) -> int:
        return len(self._ksbs)

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


# Long enough that a page seen through the day reads it, short enough that the cache (sharing Redis
# with the task queues, under `noeviction`) holds only the apprenticeships in use: under 1 KB each.
COVERAGE_CACHE_SECONDS = 6 * 60 * 60

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MICROSECOND = datetime.timedelta(microseconds=1)
# The states an item gives the KSBs it claims, in the order the cached counts are kept.
_CLAIMED = (CoverageState.DRAFT, CoverageState.SUBMITTED, CoverageState.ACCEPTED)

# What an apprenticeship's coverage is made of, as cached. Flat tuples of numbers: a page reads 50
# of them at once, and these load three times faster than dictionaries of tuples and datetimes.
#   items:  (KSB id, items in draft, submitted, accepted) for each KSB claimed, one after another
#   signed: (KSB id, signed at in microseconds since 1970 UTC, signer's id) for each live sign-off
#   last activity: microseconds since 1970 UTC, or None
Facts = tuple[tuple[int, ...], tuple[int, ...], int | None]


def _microseconds(moment: datetime.datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _moment(microseconds: int) -> datetime.datetime:
    return _EPOCH + datetime.timedelta(microseconds=microseconds)


def _cache_key(pk: int, stamp: uuid.UUID, drafts: bool) -> str:
    # The number is the form of `Facts`: a release that changes the form changes it, so it never
    # reads what an earlier release cached.
    return f"coverage:2:{pk}:{stamp.hex}:{int(drafts)}"


def _read_facts(ids: list[int], *, drafts: bool) -> tuple[dict[int, Facts], dict[int, str]]:
    """Each apprenticeship's facts from the database in three queries, and the signers' names met."""
    counts: dict[int, dict[int, list[int]]] = {pk: defaultdict(lambda: [0, 0, 0]) for pk in ids}
    mappings = KSBMapping.objects.filter(
        version__item__apprenticeship_id__in=ids, version__number=_current_version_number()
    ).exclude(judgement__confirmed=False)
    rows = mappings.values_list("version__item__apprenticeship_id", "ksb_id", "version__item__status")
    if not drafts:
        rows = rows.exclude(version__item__status__in=[EvidenceItem.Status.DRAFT, EvidenceItem.Status.RETURNED])
    for apprenticeship_id, ksb_id, status in rows:
        counts[apprenticeship_id][ksb_id][_CLAIMED.index(ITEM_STATE[status])] += 1

    signed: dict[int, list[int]] = {pk: [] for pk in ids}
    names: dict[int, str] = {}
    for apprenticeship_id, ksb_id, signed_at, signer, first, last in (
        SignOff.objects.live()
        .filter(apprenticeship_id__in=ids)
        .values_list(
            "apprenticeship_id", "ksb_id", "signed_at", "signed_by_id", "signed_by__first_name", "signed_by__last_name"
        )
    ):
        signed[apprenticeship_id] += (ksb_id, _microseconds(signed_at), signer)
        names[signer] = f"{first} {last}".strip()

    activity = dict(
        EvidenceItem.objects.filter(apprenticeship_id__in=ids)
        .values("apprenticeship_id")
        .annotate(latest=Max("updated_at"))
        .values_list("apprenticeship_id", "latest")
    )
    facts = {
        pk: (
            tuple(n for ksb_id, claims in counts[pk].items() for n in (ksb_id, *claims)),
            tuple(signed[pk]),
            _microseconds(activity[pk]) if activity.get(pk) else None,
        )
        for pk in ids
    }
    return facts, names


def _facts_of(ids: list[int], *, drafts: bool) -> tuple[dict[int, Facts], dict[int, str], dict[int, uuid.UUID]]:
    """Facts from the cache where the apprenticeship's evidence stamp is unchanged, else from the database.

    The stamps are read before the facts: a change committed in between then leaves the new facts
    under the old stamp, never old facts under the new one.
    """
    stamps = dict(Apprenticeship.objects.filter(pk__in=ids).values_list("pk", "evidence_stamp"))
    keys = {pk: _cache_key(pk, stamp, drafts) for pk, stamp in stamps.items()}
    found = cache.get_many(list(keys.values()))
    facts = {pk: found[key] for pk, key in keys.items() if key in found}
    missing = [pk for pk in ids if pk not in facts]
    names: dict[int, str] = {}
    if missing:
        fresh, names = _read_facts(missing, drafts=drafts)
        cache.set_many({keys[pk]: fresh[pk] for pk in missing if pk in keys}, COVERAGE_CACHE_SECONDS)
        facts.update(fresh)
    # Names are read now, not cached: a signer's change of name shows at once.
    unnamed = {signed[i] for _, signed, _ in facts.values() for i in range(2, len(signed), 3)} - names.keys()
    if unnamed:
        names.update(
            (pk, f"{first} {last}".strip())
            for pk, first, last in User.objects.filter(pk__in=unnamed).values_list("pk", "first_name", "last_name")
        )
    return facts, names, stamps


def progress_for(apprenticeships: list[Apprenticeship], *, drafts: bool = True) -> dict[int, Coverage]:
    """Coverage of each apprenticeship, keyed by its id.

    With `drafts=False` (for everyone but the apprentice) items in draft or being revised after
    feedback are left out: what staff judge is what has been submitted.

    What it counts is cached per apprenticeship under its evidence stamp, which every service that
    changes evidence, decisions or sign-offs renews: a page of apprentices whose evidence has not
    changed costs three queries (KSBs, stamps, signers' names), a page of new ones five, however
    many items they have.
    """
    ids = [a.pk for a in apprenticeships]
    standard_ids = {a.standard_id for a in apprenticeships}
    ksbs_by_standard: dict[int, list[KSB]] = defaultdict(list)
    for ksb in KSB.objects.filter(standard_id__in=standard_ids):
        ksbs_by_standard[ksb.standard_id].append(ksb)
    ksb_digests = {
        standard: _digest(",".join(f"{k.id}={k.code}" for k in ksbs)) for standard, ksbs in ksbs_by_standard.items()
    }
    facts, names, stamps = _facts_of(ids, drafts=drafts)

    coverage = {}
    for a in apprenticeships:
        row = facts[a.pk]
        stamp = stamps.get(a.pk)
        fingerprint = ""
        if stamp is not None:
            signers = _digest("\x1f".join(names.get(signer, "") for signer in row[1][2::3]))
            fingerprint = f"{stamp.hex}:{int(drafts)}:{ksb_digests.get(a.standard_id, '')}:{signers}"
        coverage[a.pk] = Coverage(a, ksbs_by_standard[a.standard_id], row, names, fingerprint)
    return coverage


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def progress_of(apprenticeship: Apprenticeship, *, drafts: bool = True) -> Coverage:
    return progress_for([apprenticeship], drafts=drafts)[apprenticeship.pk]
