"""What a portfolio PDF shows, gathered in a fixed number of queries however big the portfolio.

The document is what an end-point assessment organisation reads, so it holds what staff may see
and nothing else: every item that has been submitted at least once (as its latest submitted
version, with the feedback on earlier ones), never a draft; every KSB with its state; the
sign-offs, live and revoked, with the file hashes each recorded; the programme (the off-the-job
log with where the apprentice stands, the progress reviews as recorded, the training plan's
versions); and the apprenticeship's audit entries.

A safeguarding concern raised in a progress review stays with the provider's staff: neither its
details nor the fact of it are read for the document, and audit entries about one are left out.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from django.db.models import Prefetch
from django.utils import timezone

from evidence.models import EvidenceFile, EvidenceItem, EvidenceVersion, KSBMapping, OTJActivity
from evidence.otj import OTJSummary, otj_summary_of
from portal.models import Apprenticeship, AuditEntry, User
from standards.models import KSB

from .models import Decision, KSBJudgement, Party, ProgressReview, Signature, SignedFile, SignOff, TrainingPlan
from .progress import Coverage, CoverageState, KSBCoverage, progress_of

KIND_HEADINGS = {KSB.Kind.KNOWLEDGE: "Knowledge", KSB.Kind.SKILL: "Skills", KSB.Kind.BEHAVIOUR: "Behaviours"}

AUDIT_ACTIONS = {
    "evidence.accepted": "Evidence accepted",
    "evidence.returned": "Evidence returned with feedback",
    "ksb.signed_off": "KSB signed off",
    "ksb.sign_off_revoked": "Sign-off revoked",
    "iqa.reviewed": "Internal quality assurance review",
    "apprenticeship.version_moved": "Moved to another version of the standard",
    "apprenticeship.planned_end_date_changed": "Planned end date changed",
    "apprenticeship.gateway": "Moved to gateway",
    "break.started": "Break in learning started",
    "break.ended": "Break in learning ended",
    "otj.logged": "Off-the-job activity logged",
    "otj.updated": "Off-the-job activity corrected",
    "otj.deleted": "Off-the-job activity deleted",
    "otj.verified": "Off-the-job activity verified",
    "otj.queried": "Off-the-job activity queried",
    "progress_review.recorded": "Progress review recorded",
    "progress_review.updated": "Progress review changed",
    "progress_review.signatures_removed": "Progress review signatures removed after a change",
    "progress_review.signed": "Progress review signed",
    "training_plan.saved": "Training plan saved",
    "training_plan.signed": "Training plan signed",
    "gateway.confirmed": "Gateway readiness confirmed",
    "gateway.confirmation_withdrawn": "Gateway readiness confirmation withdrawn",
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


def hours_text(hours: Decimal | None) -> str:
    """Hours as people write them: 40.00 as '40', 2.50 as '2.5'; unknown as 'not known'."""
    if hours is None:
        return "not known"
    return f"{hours.quantize(Decimal('0.01')).normalize():f}"


@dataclass
class OTJLine:
    """One off-the-job entry, with the evidence item it is linked to when the document shows it."""

    activity: OTJActivity
    evidence: EvidenceEntry | None

    @property
    def hours(self) -> str:
        return hours_text(self.activity.hours)

    @property
    def codes(self) -> str:
        return ", ".join(ksb.code for ksb in self.activity.ksbs.all())


@dataclass
class OTJLog:
    """Where the apprentice stands on the export date, and every entry of the log, oldest first."""

    summary: OTJSummary
    lines: list[OTJLine]

    @property
    def figures(self) -> list[tuple[str, str]]:
        """Headline numbers: (hours, of what)."""
        s = self.summary
        verified = "hours verified by the assessor"
        if s.required:
            verified += f" ({s.percent_verified}% of those required)"
        return [
            (hours_text(s.required), "hours required in total"),
            (hours_text(s.logged), "hours logged, less any queried"),
            (hours_text(s.verified), verified),
            (hours_text(s.queried), "hours queried by the assessor"),
            (hours_text(s.expected), f"hours expected by {s.on:%-d %B %Y}"),
        ]

    @property
    def standing(self) -> str:
        """Behind or not, in words."""
        s = self.summary
        if s.required is None:
            return "Where the apprentice stands cannot be worked out until the requirement is known."
        if s.met:
            return f"Requirement met: {hours_text(s.verified)} verified hours of {hours_text(s.required)} required."
        if s.shortfall is None:
            return f"On track: the hours logged are at or ahead of those expected by {s.on:%-d %B %Y}."
        short = f"{hours_text(s.shortfall)} hours short of those expected by {s.on:%-d %B %Y}"
        if s.behind:
            return f"Behind: {short}, more than two weeks' worth."
        return f"Slightly behind: {short}, within two weeks' worth."

    @property
    def total(self) -> str:
        return hours_text(sum((line.activity.hours for line in self.lines), Decimal(0)))

    @property
    def totals_by_status(self) -> list[tuple[str, str]]:
        """(status, hours) for each status with entries, in the log's own order."""
        found = []
        for status in OTJActivity.Status:
            hours = [line.activity.hours for line in self.lines if line.activity.status == status]
            if hours:
                found.append((status.label.lower(), hours_text(sum(hours, Decimal(0)))))
        return found


@dataclass
class Signed:
    """Who has signed a progress review or a training plan version, and who has yet to."""

    signatures: list[Signature]
    awaiting: list[tuple[str, User | None]]  # (party, who holds that part now; None if nobody)

    @property
    def complete(self) -> bool:
        return not self.awaiting

    @property
    def state(self) -> str:
        if not self.signatures:
            return "Not signed"
        if self.complete:
            return "Signed by all three"
        return "Signed by the " + " and the ".join(s.get_party_display().lower() for s in self.signatures)


def _signed(signatures: list[Signature], apprenticeship: Apprenticeship) -> Signed:
    people = {Party.APPRENTICE: apprenticeship.apprentice, Party.MENTOR: apprenticeship.mentor}
    people[Party.ASSESSOR] = apprenticeship.assessor
    done = {signature.party for signature in signatures}
    return Signed(signatures, [(party.label, people[party]) for party in Party if party not in done])


@dataclass
class ReviewEntry:
    """A progress review as recorded: its figures are those captured on the day, never recomputed."""

    number: int  # 1 for the first held
    review: ProgressReview
    signed: Signed

    @property
    def anchor(self) -> str:
        return f"review-{self.review.pk}"

    @property
    def otj_figures(self) -> list[tuple[str, str]]:
        r = self.review
        shortfall = hours_text(r.otj_shortfall) if r.otj_shortfall is not None else "none"
        return [
            ("OTJ hours logged", hours_text(r.otj_logged_hours)),
            ("Verified", hours_text(r.otj_verified_hours)),
            ("Expected by then", hours_text(r.otj_expected_hours)),
            ("Required in total", hours_text(r.otj_required_hours)),
            ("Shortfall", "not known" if r.otj_expected_hours is None else shortfall),
        ]


@dataclass
class PlanEntry:
    plan: TrainingPlan
    signed: Signed

    @property
    def anchor(self) -> str:
        return f"training-plan-v{self.plan.version}"


@dataclass
class Portfolio:
    apprenticeship: Apprenticeship
    exported_at: datetime.datetime
    coverage: Coverage  # staff's view: drafts do not count
    sections: list[KSBSection]
    evidence: list[EvidenceEntry]
    sign_offs: list[SignOff]  # every sign-off, live and revoked, oldest first
    audit_entries: list[AuditEntry]
    otj: OTJLog
    reviews: list[ReviewEntry]  # oldest first
    plans: list[PlanEntry]  # newest version first

    @property
    def plan(self) -> PlanEntry | None:
        """The training plan's latest version."""
        return self.plans[0] if self.plans else None

    @property
    def earlier_plans(self) -> list[PlanEntry]:
        return self.plans[1:]

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
        return [_audit_line(entry, self) for entry in self.audit_entries if not _about_safeguarding(entry.action)]

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
    """Everything the portfolio PDF shows, in a fixed number of queries (at most 22), whatever its size."""
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

    by_item = {entry.item.pk: entry for entry in entries}
    return Portfolio(
        apprenticeship=apprenticeship,
        exported_at=exported_at,
        coverage=coverage,
        sections=_sections(coverage.cells, entries, sign_offs),
        evidence=entries,
        sign_offs=sign_offs,
        audit_entries=audit_entries,
        otj=_otj_log(apprenticeship, by_item, on=timezone.localdate(exported_at)),
        reviews=_reviews(apprenticeship),
        plans=_plans(apprenticeship),
    )


def _otj_log(apprenticeship: Apprenticeship, by_item: dict[int, EvidenceEntry], *, on: datetime.date) -> OTJLog:
    """The OTJ standing on the export date (2 queries) and every entry with its KSBs (2 more)."""
    activities = (
        OTJActivity.objects.filter(apprenticeship=apprenticeship)
        .select_related("logged_by", "checked_by")
        .prefetch_related("ksbs")
        .order_by("date", "pk")
    )
    # An entry linked to a draft (not in the document) is shown without the link.
    lines = [OTJLine(activity, by_item.get(activity.evidence_id)) for activity in activities]
    return OTJLog(summary=otj_summary_of(apprenticeship, on=on), lines=lines)


def _signatures() -> Prefetch:
    return Prefetch("signatures", queryset=Signature.objects.select_related("signer").order_by("signed_at", "pk"))


def _reviews(apprenticeship: Apprenticeship) -> list[ReviewEntry]:
    """Every progress review, oldest first, with its actions and signatures (3 queries).

    The safeguarding fields are never loaded, so nothing that renders the document can show them.
    """
    reviews = (
        ProgressReview.objects.filter(apprenticeship=apprenticeship)
        .defer("safeguarding_concern", "safeguarding_details")
        .select_related("recorded_by")
        .prefetch_related("actions", _signatures())
        .order_by("held_on", "pk")
    )
    return [
        ReviewEntry(number, review, _signed(list(review.signatures.all()), apprenticeship))
        for number, review in enumerate(reviews, start=1)
    ]


def _plans(apprenticeship: Apprenticeship) -> list[PlanEntry]:
    """Every version of the training plan, newest first, with its signatures (2 queries)."""
    plans = (
        TrainingPlan.objects.filter(apprenticeship=apprenticeship)
        .select_related("created_by")
        .prefetch_related(_signatures())
        .order_by("-version")
    )
    return [PlanEntry(plan, _signed(list(plan.signatures.all()), apprenticeship)) for plan in plans]


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
        details = "; ".join(f"{key}: {value}" for key, value in sorted(payload.items()) if not _about_safeguarding(key))
    return AuditLine(entry=entry, label=AUDIT_ACTIONS.get(action, action), details=details)


def _about_safeguarding(name: str) -> bool:
    """An audit action or payload key about a safeguarding concern: for the provider's staff only."""
    return "safeguarding" in name.lower()


def _item_version(portfolio: Portfolio, decision_id: int) -> tuple[int, int]:
    entry, version = portfolio.decisions[decision_id]
    return entry.item.pk, version.number
