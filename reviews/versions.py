"""Moving an apprenticeship to a newer version of its standard without losing its evidence.

Evidence mappings and sign-offs point at KSB rows of one standard version. When an apprentice
moves to a newer version, whatever points at a statement whose text is unchanged is re-pointed
at the same statement in the new version (its code may differ: the old K3 may be the new K2).
Everything else stays where it was, pointing at the old version, and is listed for the assessor
to re-map: the apprentice maps new or revised evidence to the new statements and the assessor
signs those off again. The move is one audit entry that records both lists.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, OuterRef, Subquery
from django.template.defaultfilters import pluralize
from django.urls import reverse

from evidence.models import EvidenceItem, EvidenceVersion, KSBMapping
from portal import audit
from portal.models import Apprenticeship, User
from portal.notices import notify
from standards.diff import KSBChanges, compare_ksbs
from standards.models import KSB, Standard

from .models import SignOff

UNCHANGED, REWORDED, REMOVED = "unchanged", "reworded", "removed"


@dataclass(frozen=True)
class MappingLine:
    """One KSB an evidence version is mapped to, and what becomes of it in the new version."""

    item_id: int
    title: str
    version_number: int
    code: str
    text: str
    change: str
    new_code: str = ""

    @property
    def payload(self) -> list:
        return [self.item_id, self.version_number, self.code, self.change, self.new_code]


@dataclass(frozen=True)
class SignOffLine:
    sign_off_id: int
    code: str
    text: str
    change: str
    signed_at: datetime.datetime
    signed_by: str
    new_code: str = ""

    @property
    def payload(self) -> list:
        return [self.sign_off_id, self.code, self.change, self.new_code]


@dataclass
class MoveReport:
    """What a move carries over and what it leaves for the assessor, as previewed and as done.

    The lists of evidence are of each item's latest submitted version, the one staff judge;
    `repointed` holds every mapping row re-pointed, earlier versions and drafts included.
    """

    from_standard: Standard
    to_standard: Standard
    carried: list[MappingLine] = field(default_factory=list)
    to_remap: list[MappingLine] = field(default_factory=list)
    sign_offs_carried: list[SignOffLine] = field(default_factory=list)
    sign_offs_to_redo: list[SignOffLine] = field(default_factory=list)
    draft_mappings_to_remap: int = 0
    repointed: list[MappingLine] = field(default_factory=list)

    @property
    def payload(self) -> dict:
        return {
            "from": [self.from_standard.reference, self.from_standard.version],
            "to": [self.to_standard.reference, self.to_standard.version],
            # [item, version, old code, change, new code]
            "mappings_carried": [line.payload for line in self.repointed],
            "to_remap": [line.payload for line in self.to_remap],
            # [sign-off, old code, change, new code]
            "sign_offs_carried": [line.payload for line in self.sign_offs_carried],
            "sign_offs_to_redo": [line.payload for line in self.sign_offs_to_redo],
            "draft_mappings_to_remap": self.draft_mappings_to_remap,
        }


# --- Who may move, and where to --------------------------------------------------------------------


def may_move(user: User, apprenticeship: Apprenticeship) -> bool:
    """A provider admin of the apprenticeship's provider moves it between versions."""
    return user.role == User.Role.PROVIDER_ADMIN and user.organisation_id == apprenticeship.provider_id


def movable_apprenticeships(user: User):
    """The apprenticeships this person may move; for anyone else, none (their page is a 404)."""
    if not user.is_authenticated or user.role != User.Role.PROVIDER_ADMIN:
        return Apprenticeship.objects.none()
    return Apprenticeship.objects.visible_to(user).filter(provider_id=user.organisation_id)


def newer_versions(standard: Standard) -> list[Standard]:
    return [other for other in standard.other_versions() if other.version_key > standard.version_key]


def _check(apprenticeship: Apprenticeship, to_standard: Standard, by: User) -> None:
    if not may_move(by, apprenticeship):
        raise PermissionDenied("Only a provider admin of the apprenticeship's provider moves it to another version.")
    current = apprenticeship.standard
    if apprenticeship.status in Apprenticeship.CLOSED_STATUSES:
        raise ValidationError(
            f"This apprenticeship is {apprenticeship.get_status_display().lower()}; "
            "it stays on the version it ended on."
        )
    if to_standard.reference != current.reference:
        raise ValidationError(
            f"{to_standard.reference} is another standard; an apprenticeship moves only to a version of its own "
            f"standard, {current.reference}."
        )
    if to_standard.version_key <= current.version_key:
        raise ValidationError(
            f"An apprenticeship moves only to a newer version: it is on {current.version}, "
            f"and {to_standard.version} is not newer."
        )


# --- Planning ------------------------------------------------------------------------------------


def _latest_submitted_number():
    return Subquery(
        EvidenceVersion.objects.filter(item=OuterRef("version__item"), submitted_at__isnull=False)
        .values("item")
        .annotate(latest=Max("number"))
        .values("latest")[:1]
    )


def _fates(changes: KSBChanges) -> dict[int, tuple[str, str]]:
    """Old KSB id -> (what happened to it, its code in the new version if it has one)."""
    fates = {pair.old.pk: (REWORDED, pair.new.code) for pair in changes.reworded}
    fates.update({pair.old.pk: (UNCHANGED, pair.new.code) for pair in changes.unchanged})
    return fates


def _mapping_line(mapping: KSBMapping, fate: tuple[str, str]) -> MappingLine:
    version = mapping.version
    return MappingLine(
        item_id=version.item_id,
        title=version.title,
        version_number=version.number,
        code=mapping.ksb.code,
        text=mapping.ksb.text,
        change=fate[0],
        new_code=fate[1],
    )


def _sign_off_line(sign_off: SignOff, fate: tuple[str, str]) -> SignOffLine:
    return SignOffLine(
        sign_off_id=sign_off.pk,
        code=sign_off.ksb.code,
        text=sign_off.ksb.text,
        change=fate[0],
        signed_at=sign_off.signed_at,
        signed_by=str(sign_off.signed_by),
        new_code=fate[1],
    )


def _ksb_order(ksb: KSB) -> tuple[int, int]:
    return ("KSB".index(ksb.kind), ksb.number)


def _plan(apprenticeship: Apprenticeship, to_standard: Standard) -> tuple[MoveReport, list[KSBMapping], list[SignOff]]:
    """The report of a move, and the mapping and sign-off rows it re-points (not yet saved)."""
    from_standard = apprenticeship.standard
    changes = compare_ksbs(from_standard.ksbs.all(), to_standard.ksbs.all())
    fates = _fates(changes)
    same_text = changes.unchanged_counterpart()
    removed = (REMOVED, "")
    report = MoveReport(from_standard=from_standard, to_standard=to_standard)

    latest_submitted = dict(
        EvidenceVersion.objects.filter(item__apprenticeship=apprenticeship, submitted_at__isnull=False)
        .values("item")
        .annotate(latest=Max("number"))
        .values_list("item", "latest")
    )
    mappings = KSBMapping.objects.filter(
        version__item__apprenticeship=apprenticeship, ksb__standard=from_standard
    ).select_related("ksb", "version")
    repoint: list[KSBMapping] = []
    for mapping in sorted(mappings, key=lambda m: (m.version.item_id, m.version.number, _ksb_order(m.ksb))):
        line = _mapping_line(mapping, fates.get(mapping.ksb_id, removed))
        shown = latest_submitted.get(mapping.version.item_id) == mapping.version.number
        if line.change == UNCHANGED:
            # The frozen version's statement stays word for word the same: only the row it
            # points at moves to the new version, so nothing anyone submitted or judged changes.
            mapping.ksb = same_text[mapping.ksb_id]
            repoint.append(mapping)
            report.repointed.append(line)
            if shown:
                report.carried.append(line)
        elif shown:
            report.to_remap.append(line)
        elif not mapping.version.is_frozen:
            report.draft_mappings_to_remap += 1

    sign_offs = SignOff.objects.filter(apprenticeship=apprenticeship, ksb__standard=from_standard).select_related(
        "ksb", "signed_by"
    )
    moved_sign_offs: list[SignOff] = []
    for sign_off in sorted(sign_offs, key=lambda s: (_ksb_order(s.ksb), s.signed_at)):
        line = _sign_off_line(sign_off, fates.get(sign_off.ksb_id, removed))
        if line.change == UNCHANGED:
            # Revoked ones move too, so the KSB's page keeps its whole history. At most one
            # live sign-off per KSB still holds: the new version's KSB had none for this
            # apprenticeship, and each old KSB has its own counterpart.
            sign_off.ksb = same_text[sign_off.ksb_id]
            moved_sign_offs.append(sign_off)
            if sign_off.is_live:
                report.sign_offs_carried.append(line)
        elif sign_off.is_live:
            report.sign_offs_to_redo.append(line)
    return report, repoint, moved_sign_offs


def preview_move(apprenticeship: Apprenticeship, to_standard: Standard) -> MoveReport:
    """What moving would carry over and what it would leave, without changing anything."""
    return _plan(apprenticeship, to_standard)[0]


# --- Moving --------------------------------------------------------------------------------------


@transaction.atomic
def move_apprenticeship(*, apprenticeship: Apprenticeship, to_standard: Standard, by: User) -> MoveReport:
    """Moves an apprenticeship to a newer version of its standard, carrying over what still applies."""
    # The apprenticeship's lock waits out a sign-off in progress; the items' locks wait out the
    # apprentice's edits, which then see the new version's KSBs.
    apprenticeship = (
        Apprenticeship.objects.select_for_update()
        .select_related("standard", "apprentice", "assessor")
        .get(pk=apprenticeship.pk)
    )
    _check(apprenticeship, to_standard, by)
    Apprenticeship.objects.filter(pk=apprenticeship.pk).evidence_changed()
    list(EvidenceItem.objects.select_for_update().filter(apprenticeship=apprenticeship).values_list("pk"))
    report, mappings, sign_offs = _plan(apprenticeship, to_standard)
    try:
        with transaction.atomic():
            KSBMapping.objects.bulk_update(mappings, ["ksb"], batch_size=500)
            SignOff.objects.bulk_update(sign_offs, ["ksb"], batch_size=500)
    except IntegrityError:
        raise ValidationError(
            "Some evidence or sign-offs already point at the new version's KSBs, so the move cannot carry them "
            "over. Nothing was changed; ask the site administrator to look at this apprenticeship."
        ) from None
    apprenticeship.standard = to_standard
    apprenticeship.save(update_fields=["standard"])
    audit.record(action="apprenticeship.version_moved", actor=by, apprenticeship=apprenticeship, payload=report.payload)
    _tell(apprenticeship, report)
    return report


def _tell(apprenticeship: Apprenticeship, report: MoveReport) -> None:
    standard = f"{report.to_standard.reference} version {report.to_standard.version}"
    remap, redo = len(report.to_remap), len(report.sign_offs_to_redo)
    to_do = (
        f"{remap} mapped KSB{pluralize(remap)} to re-map and {redo} sign-off{pluralize(redo)} to redo."
        if remap or redo
        else "everything carried over."
    )
    notify(
        recipient=apprenticeship.assessor,
        message=f"{apprenticeship.apprentice} moved to {standard}: {to_do}",
        url=reverse("reviews:apprenticeship", args=[apprenticeship.pk]),
    )
    drafts = report.draft_mappings_to_remap
    notify(
        recipient=apprenticeship.apprentice,
        message=f"Your apprenticeship moved to {standard}; evidence on unchanged KSBs carried over."
        + (f" Map your drafts again: {drafts} of their KSBs changed." if drafts else ""),
        url=reverse("reviews:apprentice_home"),
    )


# --- What is still on an earlier version ---------------------------------------------------------


@dataclass
class LeftBehind:
    """Evidence and live sign-offs of an apprenticeship still on KSBs of an earlier version."""

    mappings: list[MappingLine]
    sign_offs: list[SignOffLine]

    def __bool__(self) -> bool:
        return bool(self.mappings or self.sign_offs)


def left_on_earlier_versions(apprenticeship: Apprenticeship) -> LeftBehind:
    """What the assessor still has to re-map after a move, in a fixed number of queries.

    Only each item's latest submitted version counts, as on the assessor's pages.
    """
    current = apprenticeship.standard
    mappings = list(
        KSBMapping.objects.filter(
            version__item__apprenticeship=apprenticeship,
            version__submitted_at__isnull=False,
            version__number=_latest_submitted_number(),
        )
        .exclude(ksb__standard_id=current.pk)
        .select_related("ksb", "version")
    )
    sign_offs = list(
        SignOff.objects.live()
        .filter(apprenticeship=apprenticeship)
        .exclude(ksb__standard_id=current.pk)
        .select_related("ksb", "signed_by")
    )
    if not mappings and not sign_offs:
        return LeftBehind([], [])
    old_ids = {m.ksb.standard_id for m in mappings} | {s.ksb.standard_id for s in sign_offs}
    by_standard: dict[int, list[KSB]] = defaultdict(list)
    for ksb in KSB.objects.filter(standard_id__in=old_ids | {current.pk}):
        by_standard[ksb.standard_id].append(ksb)
    fates: dict[int, tuple[str, str]] = {}
    for pk in old_ids:
        fates.update(_fates(compare_ksbs(by_standard[pk], by_standard[current.pk])))
    removed = (REMOVED, "")
    return LeftBehind(
        mappings=[
            _mapping_line(m, fates.get(m.ksb_id, removed))
            for m in sorted(mappings, key=lambda m: (m.version.item_id, _ksb_order(m.ksb)))
        ],
        sign_offs=[
            _sign_off_line(s, fates.get(s.ksb_id, removed)) for s in sorted(sign_offs, key=lambda s: _ksb_order(s.ksb))
        ],
    )
