"""What a portfolio PDF shows, gathered in a fixed number of queries however big the portfolio.

The document is what an end-point assessment organisation reads, so it holds what staff may see
and nothing else: every item that has been submitted at least once (as its latest submitted
version, with the feedback on earlier ones), never a draft; every KSB with its state; the
sign-offs, live and revoked, with the file hashes each recorded; and the apprenticeship's audit
entries.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from functools import cached_property

from django.db.models import Prefetch

from evidence.models import EvidenceFile, EvidenceItem, EvidenceVersion, KSBMapping
from portal.models import Apprenticeship, AuditEntry
from standards.models import KSB

from .models import Decision, KSBJudgement, SignedFile, SignOff
from .progress import Coverage, CoverageState, KSBCoverage, progress_of

KIND_HEADINGS = {KSB.Kind.KNOWLEDGE: "Knowledge", KSB.Kind.SKILL: "Skills", KSB.Kind.BEHAVIOUR: "Behaviours"}

AUDIT_ACTIONS = {
    "evidence.accepted": "Evidence accepted",
    "evidence.returned": "Evidence returned with feedback",
    "ksb.signed_off": "KSB signed off",
    "ksb.sign_off_revoked": "Sign-off revoked",
    "iqa.reviewed": "Internal quality assurance review",
}


def decision_of(version: EvidenceVersion) -> Decision | None:
    """The version's decision from the select_related cache, or None (without a query)."""
    try:
        return version.decision
    except Decision.DoesNotExist:
        return None


def judgement_of(mapping: KSBMapping) -> KSBJudgement | None:
    try:
        return mapping.judgement
    except KSBJudgement.DoesNotExist:
        return None


@dataclass
class MappedKSB:
    """One KSB claimed by a version: the apprentice's note and the assessor's judgement of it."""

    mapping: KSBMapping
    judgement: KSBJudgement | None

    @property
    def ksb(self) -> KSB:
        return self.mapping.ksb

    @property
    def verdict(self) -> str:
        if self.judgement is None:
            return ""
        return "Confirmed" if self.judgement.confirmed else "Not confirmed"


@dataclass
class EvidenceEntry:
    """One evidence item as the document shows it: its latest submitted version."""

    reference: str  # E1, E2, … in order of the activity date, for cross-references
    item: EvidenceItem
    version: EvidenceVersion
    earlier: list[EvidenceVersion]  # earlier submitted versions, oldest first, for their feedback

    @property
    def anchor(self) -> str:
        return f"evidence-{self.item.pk}"

    @cached_property
    def decision(self) -> Decision | None:
        return decision_of(self.version)

    @cached_property
    def mapped(self) -> list[MappedKSB]:
        return [MappedKSB(mapping, judgement_of(mapping)) for mapping in self.version.sorted_mappings]

    @cached_property
    def files(self) -> list[EvidenceFile]:
        return list(self.version.files.all())

    @property
    def is_latest(self) -> bool:
        """Whether the version shown is the item's newest (no revision or withdrawal since)."""
        return self.item.status != EvidenceItem.Status.DRAFT

    @property
    def status(self) -> str:
        """Where this version stands, in the assessor's terms."""
        if self.decision:
            if self.decision.outcome == Decision.Outcome.ACCEPTED:
                return "Accepted"
            return "Returned for revision" + ("" if self.is_latest else "; being revised")
        if self.item.status == EvidenceItem.Status.SUBMITTED:
            return "Submitted, awaiting review"
        return "Withdrawn by the apprentice for changes"

    @property
    def status_css(self) -> str:
        if self.decision:
            return self.decision.outcome
        return "submitted" if self.item.status == EvidenceItem.Status.SUBMITTED else "withdrawn"

    @property
    def earlier_feedback(self) -> list[tuple[EvidenceVersion, Decision | None]]:
        return [(version, decision_of(version)) for version in self.earlier]


@dataclass
class ReliedOn:
    """An item a sign-off relies on, with what it says about that one KSB."""

    entry: EvidenceEntry
    version: EvidenceVersion
    mapped: MappedKSB | None

    @property
    def decision(self) -> Decision | None:
        return decision_of(self.version)


@dataclass
class KSBSection:
    cell: KSBCoverage
    sign_off: SignOff | None = None  # the live one
    revoked: list[SignOff] = field(default_factory=list)
    relied_on: list[ReliedOn] = field(default_factory=list)
    # Other submitted items that claim the KSB, with their mapping on the version shown.
    other_evidence: list[tuple[EvidenceEntry, MappedKSB]] = field(default_factory=list)

    @property
    def ksb(self) -> KSB:
        return self.cell.ksb

    @property
    def state(self) -> CoverageState:
        return self.cell.state

    @property
    def anchor(self) -> str:
        return f"ksb-{self.ksb.code}"


@dataclass
class SignOffLine:
    """A sign-off in the history, with the items it relied on (entry is None if not shown)."""

    sign_off: SignOff
    versions: list[tuple[EvidenceEntry | None, EvidenceVersion]]


@dataclass
class AuditLine:
    """An audit entry put in words, its item ids turned into the document's references."""

    entry: AuditEntry
    label: str
    details: str


@dataclass
class Portfolio:
    apprenticeship: Apprenticeship
    exported_at: datetime.datetime
    coverage: Coverage  # staff's view: drafts do not count
    sections: list[KSBSection]
    evidence: list[EvidenceEntry]
    sign_offs: list[SignOff]  # every sign-off, live and revoked, oldest first
    audit_entries: list[AuditEntry]

    @property
    def figures(self) -> list[tuple[int, str]]:
        """Headline numbers for the first pages: (how many, of what)."""
        statuses = [entry.status_css for entry in self.evidence]
        live = sum(1 for s in self.sign_offs if s.is_live)
        revoked = len(self.sign_offs) - live
        return [
            (len(self.evidence), "items of evidence submitted"),
            (statuses.count("accepted"), "accepted by the assessor"),
            (statuses.count("submitted"), "awaiting the assessor's review"),
            (live, "KSB sign-offs in force" + (f", {revoked} revoked" if revoked else "")),
        ]

    @cached_property
    def history(self) -> list[SignOffLine]:
        by_item = self.entries_by_item
        return [
            SignOffLine(sign_off, [(by_item.get(v.item_id), v) for v in sign_off.versions.all()])
            for sign_off in self.sign_offs
        ]

    @cached_property
    def audit_lines(self) -> list[AuditLine]:
        return [_audit_line(entry, self) for entry in self.audit_entries]

    @property
    def sections_by_kind(self) -> list[tuple[str, str, list[KSBSection]]]:
        """(kind, label, sections) in the standard's order: knowledge, skills, behaviours."""
        groups: dict[str, list[KSBSection]] = {}
        for section in self.sections:
            groups.setdefault(section.ksb.kind, []).append(section)
        return [(kind, KIND_HEADINGS[kind], sections) for kind, sections in groups.items()]

    @property
    def files(self) -> list[tuple[EvidenceEntry, EvidenceFile]]:
        """Every file of the versions shown, once each, with the item it is first shown under."""
        seen: set[int] = set()
        files = []
        for entry in self.evidence:
            for stored in entry.files:
                if stored.pk not in seen:
                    seen.add(stored.pk)
                    files.append((entry, stored))
        return files

    @cached_property
    def entries_by_item(self) -> dict[int, EvidenceEntry]:
        return {entry.item.pk: entry for entry in self.evidence}

    @cached_property
    def decisions(self) -> dict[int, tuple[EvidenceEntry, EvidenceVersion]]:
        found = {}
        for entry in self.evidence:
            for version in [*entry.earlier, entry.version]:
                if decision := decision_of(version):
                    found[decision.pk] = (entry, version)
        return found


def portfolio_of(apprenticeship: Apprenticeship, *, exported_at: datetime.datetime) -> Portfolio:
    """Everything the portfolio PDF shows, in a fixed number of queries (13), whatever its size."""
    apprenticeship = Apprenticeship.objects.with_people().get(pk=apprenticeship.pk)
    coverage = progress_of(apprenticeship, drafts=False)

    submitted_versions = (
        EvidenceVersion.objects.filter(submitted_at__isnull=False)
        .select_related("decision__assessor")
        .prefetch_related(
            Prefetch(
                "mappings",
                # The KSB's standard too: after a move to a newer version of the standard, older
                # mappings point at the previous version's statements and are shown as such.
                queryset=KSBMapping.objects.select_related("ksb__standard", "judgement"),
            ),
            Prefetch("files", queryset=EvidenceFile.objects.order_by("uploaded_at", "pk")),
        )
        .order_by("number")
    )
    items = (
        EvidenceItem.objects.filter(apprenticeship=apprenticeship, versions__submitted_at__isnull=False)
        .distinct()
        .prefetch_related(Prefetch("versions", queryset=submitted_versions, to_attr="submitted"))
    )
    entries = []
    for item in items:
        *earlier, latest = item.submitted
        entries.append(EvidenceEntry(reference="", item=item, version=latest, earlier=earlier))
    entries.sort(key=lambda e: (e.version.activity_date, e.version.submitted_at, e.item.pk))
    for number, entry in enumerate(entries, start=1):
        entry.reference = f"E{number}"

    sign_offs = list(
        SignOff.objects.filter(apprenticeship=apprenticeship)
        .select_related("ksb__standard", "signed_by", "revoked_by")
        .prefetch_related(
            Prefetch("versions", queryset=EvidenceVersion.objects.order_by("item_id", "number")),
            Prefetch("signed_files", queryset=SignedFile.objects.select_related("file").order_by("file_id")),
        )
        .order_by("signed_at", "pk")
    )
    audit_entries = list(apprenticeship.audit_entries.select_related("actor").order_by("sequence"))

    return Portfolio(
        apprenticeship=apprenticeship,
        exported_at=exported_at,
        coverage=coverage,
        sections=_sections(coverage.cells, entries, sign_offs),
        evidence=entries,
        sign_offs=sign_offs,
        audit_entries=audit_entries,
    )


def _sections(cells: list[KSBCoverage], entries: list[EvidenceEntry], sign_offs: list[SignOff]) -> list[KSBSection]:
    sections = {cell.ksb.pk: KSBSection(cell=cell) for cell in cells}
    # Every submitted version shown, so a relied-on version is found with its prefetched mappings.
    versions = {v.pk: (entry, v) for entry in entries for v in [*entry.earlier, entry.version]}

    for sign_off in sign_offs:
        section = sections.get(sign_off.ksb_id)
        if section is None:  # a KSB of an earlier version of the standard: in the history only
            continue
        if not sign_off.is_live:
            section.revoked.append(sign_off)
            continue
        section.sign_off = sign_off
        for relied in sign_off.versions.all():
            if relied.pk not in versions:  # only submitted versions can be relied on
                continue
            entry, version = versions[relied.pk]
            mapped = next(
                (MappedKSB(m, judgement_of(m)) for m in version.mappings.all() if m.ksb_id == sign_off.ksb_id),
                None,
            )
            section.relied_on.append(ReliedOn(entry=entry, version=version, mapped=mapped))

    for entry in entries:
        for mapped in entry.mapped:
            section = sections.get(mapped.mapping.ksb_id)
            if section and all(relied.entry is not entry for relied in section.relied_on):
                section.other_evidence.append((entry, mapped))
    return list(sections.values())


def _item(portfolio: Portfolio, item_id: object, number: object) -> str:
    entry = portfolio.entries_by_item.get(item_id) if isinstance(item_id, int) else None
    name = f"{entry.reference} {entry.version.title}" if entry else f"item {item_id}"
    return f"{name}, version {number}" if number else name


def _codes(codes: object) -> str:
    return ", ".join(str(code) for code in codes) if isinstance(codes, list) and codes else "none"


def _audit_line(entry: AuditEntry, portfolio: Portfolio) -> AuditLine:
    """The entry in words; an action this document does not know is shown as its raw payload."""
    payload = entry.payload if isinstance(entry.payload, dict) else {}
    action = entry.action
    if action == "evidence.accepted":
        details = (
            f"{_item(portfolio, payload.get('item'), payload.get('version'))}: confirmed "
            f"{_codes(payload.get('confirmed'))}"
        )
        if payload.get("not_confirmed"):
            details += f"; not confirmed {_codes(payload.get('not_confirmed'))}"
    elif action == "evidence.returned":
        details = _item(portfolio, payload.get("item"), payload.get("version"))
    elif action == "ksb.signed_off":
        relied = [_item(portfolio, *pair) for pair in payload.get("versions", []) if len(pair) == 2]
        files = len(payload.get("files", []))
        details = (
            f"{payload.get('ksb', '')} on {'; '.join(relied) or 'no evidence'}; "
            f"{files} file hash{'es' if files != 1 else ''} recorded"
        )
    elif action == "ksb.sign_off_revoked":
        details = f"{payload.get('ksb', '')}: {payload.get('reason', '')}"
    elif action == "iqa.reviewed":
        outcome = str(payload.get("outcome", "")).capitalize()
        if payload.get("decision") in portfolio.decisions:
            review_of = "the decision on " + _item(portfolio, *_item_version(portfolio, payload["decision"]))
        elif payload.get("sign_off"):
            sign_off = next((s for s in portfolio.sign_offs if s.pk == payload["sign_off"]), None)
            review_of = f"the sign-off of {sign_off.ksb.code}" if sign_off else "a sign-off"
        else:
            review_of = "a decision"
        details = f"{outcome} with {review_of}" + (f": {payload['comment']}" if payload.get("comment") else "")
    else:
        details = "; ".join(f"{key}: {value}" for key, value in sorted(payload.items()))
    return AuditLine(entry=entry, label=AUDIT_ACTIONS.get(action, action), details=details)


def _item_version(portfolio: Portfolio, decision_id: int) -> tuple[int, int]:
    entry, version = portfolio.decisions[decision_id]
    return entry.item.pk, version.number
