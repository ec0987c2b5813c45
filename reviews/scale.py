"""A national provider's data in minutes: the builder behind `manage.py seed_scale`.

`build_scale(apprentices=N, evidence_per_apprentice=M, standard=...)` fills the database with N
apprenticeships on one standard and M evidence items each, shaped like a real provider's:

- one training provider per 500 apprentices (`Scale Provider 1`, ...), each with an employer per
  100 of its apprentices, an assessor per 30 (caseloads differ by one at most), a mentor per 10
  apprentices of an employer (one apprentice in ten has none), two IQAs and two provider admins;
- apprentices who started between two months and two years ago, most active, one in twenty on a
  break in learning and one in fifty withdrawn; one in three has done nothing for five weeks or more;
- evidence spread over the programme and over every KSB (one to three KSBs per version): mostly
  accepted with each KSB's judgement, some returned with feedback, some accepted or resubmitted as
  a second version after a return, the newest in draft or waiting in the assessor's queue;
- files that are real images and PDFs: a few small blobs made once with Pillow, each stored a few
  times under random names, and every file row pointing at one of them with its true size,
  detected type and SHA-256 (images have print copies, as after an upload);
- KSBs signed off on accepted evidence, more the further through the programme, with the file
  hashes recorded (one apprentice in twenty also has a revoked sign-off); a few decisions sampled
  by the IQAs; weekly off-the-job entries (a quarter of apprentices behind, recent ones awaiting
  verification, a few queried); a progress review every 12 weeks (a quarter overdue) and a
  training plan, with three-party signatures over the real content hash; a few notices each.

Rows go in with `bulk_create` in batches, bypassing the services: the point is volume, not the
write path, which the services' own tests cover. So there are no audit entries. Everyone signs
in with `SCALE_PASSWORD` at `apprentice1@scale.test`, `assessor1@scale.test`, `mentor1@...`,
`iqa1@...`, `admin1@...`.

Files are shared between many rows, so deleting one (as removing a file from a draft does)
takes it from every row that points at it: this is a data set for measuring, not for editing.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import math
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, reset_queries, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone
from PIL import Image, ImageDraw

from evidence.images import render_print_copy
from evidence.models import EvidenceFile, EvidenceItem, EvidenceVersion, KSBMapping, OTJActivity
from evidence.uploads import ALLOWED_TYPES, detect_content_type
from portal.models import Apprenticeship, BreakInLearning, Notice, Organisation, User
from standards.models import KSB, Standard

from .models import (
    Decision,
    IQAReview,
    KSBJudgement,
    Party,
    ProgressReview,
    ReviewAction,
    Signature,
    SignedFile,
    SignOff,
    TrainingPlan,
)
from .signatures import content_hash

SCALE_PASSWORD = "scale-password-2026"  # noqa: S105 (public on purpose: a data set for measuring)
EMAIL_DOMAIN = "scale.test"


@dataclass(frozen=True)
class Shape:
    """How many of each: the defaults are a large provider's; tests use smaller ones."""

    apprentices_per_provider: int = 500
    apprentices_per_employer: int = 100
    caseload: int = 30
    mentees_per_mentor: int = 10
    iqas_per_provider: int = 2
    admins_per_provider: int = 2


# Apprentices built per pass: bounds the memory a pass holds, whatever N is.
CHUNK = 100
# Rows per INSERT.
BATCH = 2000
# Each distinct file is stored this many times under random names; rows share them.
COPIES_PER_BLOB = 4

FIRST_NAMES = (
    "Amira", "Ben", "Chloe", "Dev", "Ella", "Femi", "Grace", "Harry", "Isla", "Jack", "Kiran", "Lena", "Mo",
    "Nia", "Owen", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Vikram", "Wren", "Yusuf", "Zara",
)  # fmt: skip
LAST_NAMES = (
    "Adams", "Begum", "Clarke", "Davies", "Evans", "Francis", "Green", "Hughes", "Iqbal", "Jones", "Khan",
    "Lewis", "Morgan", "Nowak", "Okafor", "Patel", "Quinn", "Roberts", "Shah", "Thomas", "Usman", "Walsh",
)  # fmt: skip

TYPES = EvidenceItem.Type.values
TEXT_ONLY_TYPES = (EvidenceItem.Type.REFLECTIVE_ACCOUNT, EvidenceItem.Type.PROFESSIONAL_DISCUSSION)
REFLECTION = (
    "I prepared the analyser, ran the three levels of quality control and checked them against the "
    "limits before loading patient samples. One control was out, so I stopped, repeated it with fresh "
    "material and recorded both results. Next time I will check reagent stability during start-up."
)
REVIEW_DAYS = 84
BREAK_REASON = "Long-term sickness"


# How each role's addresses begin: apprentice1@scale.test, assessor1@scale.test, ...
PREFIXES = {
    User.Role.PROVIDER_ADMIN: "admin",
    User.Role.ASSESSOR: "assessor",
    User.Role.MENTOR: "mentor",
    User.Role.IQA: "iqa",
    User.Role.APPRENTICE: "apprentice",
}


def email(role: str, n: int) -> str:
    return f"{role}{n}@{EMAIL_DOMAIN}"


def scale_set_exists() -> bool:
    return User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").exists()


@dataclass
class ScaleResult:
    rows: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    files_stored: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rate(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0


# --- Files ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Blob:
    """One distinct file, stored `COPIES_PER_BLOB` times; rows pick a copy by their position."""

    kind: str
    data: bytes
    content_type: str
    suffix: str
    names: tuple[str, ...]
    print_copies: tuple[str, ...] = ()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)


def _photo(variant: int) -> bytes:
    image = Image.new("RGB", (240, 180), (190 - 30 * variant, 205, 220))
    draw = ImageDraw.Draw(image)
    for k in range(12):
        x, y = (k * 37 + variant * 11) % 200, (k * 23 + variant * 17) % 150
        draw.rectangle([x, y, x + 30, y + 22], fill=((k * 40) % 255, (variant * 90) % 255, (k * 25) % 255))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _chart(variant: int) -> bytes:
    image = Image.new("RGB", (240, 140), "white")
    draw = ImageDraw.Draw(image)
    for k in range(8):
        height = 20 + (k * 29 + variant * 41) % 100
        draw.rectangle([15 + k * 27, 130 - height, 35 + k * 27, 130], fill=(40, 90 + 60 * variant, 160))
    draw.line([10, 130, 230, 130], fill="black")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _record(variant: int) -> bytes:
    """A one-page PDF: a scanned competency record, as Pillow writes one."""
    page = Image.new("RGB", (420, 595), "white")
    draw = ImageDraw.Draw(page)
    draw.rectangle([30, 30, 390, 70], outline="black")
    for line in range(14 + variant * 4):
        draw.line([40, 100 + line * 30, 380 - (line * 37 + variant * 13) % 120, 100 + line * 30], fill=(60, 60, 60))
    buffer = io.BytesIO()
    page.save(buffer, "PDF", resolution=72)
    return buffer.getvalue()


MAKERS = {"photo": (_photo, ".jpg"), "chart": (_chart, ".png"), "record": (_record, ".pdf")}
FILE_KINDS = tuple(MAKERS)


def store_blobs(written: list[str]) -> dict[str, list[Blob]]:
    """Two variants of each kind, each stored a few times; names written are appended to `written`."""
    blobs: dict[str, list[Blob]] = {}
    for kind, (make, suffix) in MAKERS.items():
        for variant in range(2):
            data = make(variant)
            content_type = detect_content_type(ContentFile(data, name=f"x{suffix}"))
            if content_type not in ALLOWED_TYPES:
                raise RuntimeError(f"A generated {kind} was detected as {content_type}, which uploads refuse.")
            names = []
            for _ in range(COPIES_PER_BLOB):
                names.append(default_storage.save(f"evidence/{uuid.uuid4().hex}", ContentFile(data)))
                written.append(names[-1])
            copies = []
            if content_type.startswith("image/"):
                copy = render_print_copy(data)
                for _ in range(2):
                    copies.append(
                        default_storage.save(f"evidence/print/{uuid.uuid4().hex}{copy.suffix}", ContentFile(copy.data))
                    )
                    written.append(copies[-1])
            blobs.setdefault(kind, []).append(Blob(kind, data, content_type, suffix, tuple(names), tuple(copies)))
    return blobs


# --- Timestamps -------------------------------------------------------------------------------

# Fields Django would stamp with "now" on insert; the builder spreads them over the programme.
STAMPED = [
    (Apprenticeship, "created_at"),
    (EvidenceItem, "created_at"),
    (EvidenceItem, "updated_at"),
    (EvidenceVersion, "created_at"),
    (EvidenceFile, "uploaded_at"),
    (Decision, "decided_at"),
    (SignOff, "signed_at"),
    (OTJActivity, "logged_at"),
    (ProgressReview, "recorded_at"),
    (ProgressReview, "updated_at"),
    (TrainingPlan, "created_at"),
    (TrainingPlan, "updated_at"),
    (Signature, "signed_at"),
    (BreakInLearning, "recorded_at"),
    (Notice, "created_at"),
    (IQAReview, "created_at"),
]


@contextmanager
def _timestamps_as_given() -> Iterator[None]:
    """Turns off auto_now/auto_now_add on STAMPED while building, so the given times are kept.

    Only for this single-threaded command: the flags are restored however the block ends.
    """
    fields = [model._meta.get_field(name) for model, name in STAMPED]
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    for f in fields:
        f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


# --- The shape of each apprenticeship ---------------------------------------------------------


@dataclass
class Profile:
    """Everything derived from an apprentice's position `i`, before any row is written."""

    i: int
    start: datetime.date
    planned_end: datetime.date
    status: str
    last_active: datetime.date  # the last day they did anything (evidence, hours)
    break_from: datetime.date | None


def profile(i: int, today: datetime.date) -> Profile:
    start = today - datetime.timedelta(days=60 + (i * 37) % 640)
    planned_end = start + datetime.timedelta(days=730 + 30 * (i % 3))
    break_from = None
    if i % 50 == 49:
        status = Apprenticeship.Status.WITHDRAWN
    elif i % 20 == 19:
        status = Apprenticeship.Status.BREAK_IN_LEARNING
        break_from = today - datetime.timedelta(days=10 + i % 30)
    else:
        status = Apprenticeship.Status.ACTIVE
    # Two in six have gone quiet: five and ten weeks without touching their portfolio.
    quiet = {4: 36, 5: 72}.get(i % 6, i % 6)
    last_active = today - datetime.timedelta(days=quiet)
    if break_from:
        last_active = min(last_active, break_from - datetime.timedelta(days=1))
    last_active = max(last_active, start + datetime.timedelta(days=7))
    return Profile(i, start, planned_end, status, last_active, break_from)


def _at(day: datetime.date, hour: int = 10, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour % 24, minute % 60), tzinfo=datetime.UTC)


# The life of an item, by kind: which versions it has and what happened to each.
# (status of the item, [outcome of each version: "draft", "waiting", "returned", "accepted"])
LIVES = {
    "draft": (EvidenceItem.Status.DRAFT, ["draft"]),
    "submitted": (EvidenceItem.Status.SUBMITTED, ["waiting"]),
    "returned": (EvidenceItem.Status.RETURNED, ["returned"]),
    "resubmitted": (EvidenceItem.Status.SUBMITTED, ["returned", "waiting"]),
    "accepted_after_return": (EvidenceItem.Status.ACCEPTED, ["returned", "accepted"]),
    "accepted": (EvidenceItem.Status.ACCEPTED, ["accepted"]),
}


def life_of(i: int, j: int, m: int) -> str:
    """Older items are mostly accepted; the newest tenth is in draft or waiting for the assessor."""
    if j >= m - max(1, m // 10):
        return "draft" if (i + j) % 2 == 0 else "submitted"
    return {0: "returned", 5: "accepted_after_return", 10: "resubmitted"}.get((i + j) % 20, "accepted")


def _timeline(base: datetime.datetime, gaps_hours: list[int], latest: datetime.datetime) -> list[datetime.datetime]:
    """Times base, base+gap1, ... squeezed to end by `latest` when the natural ones would not."""
    total = sum(gaps_hours)
    room = (latest - base).total_seconds() / 3600
    scale = 1.0 if total <= room else max(room, 0.0) / total
    times, t = [base if room > 0 else latest], 0.0
    for gap in gaps_hours:
        t += gap * scale
        times.append(times[0] + datetime.timedelta(hours=t))
    return times


class ScaleBuilder:
    def __init__(self, *, standard: Standard, now: datetime.datetime, blobs: dict[str, list[Blob]], shape: Shape):
        self.standard = standard
        self.shape = shape
        self.now = now
        self.today = timezone.localdate(now)
        self.ksbs = list(KSB.objects.filter(standard=standard))
        self.blobs = blobs
        self.rows: Counter = Counter()

    def insert(self, model: type[models.Model], objs: list) -> list:
        if not objs:
            return objs
        created = model.objects.bulk_create(objs, batch_size=BATCH)
        self.rows[model._meta.db_table] += len(objs)
        return created

    # --- People -------------------------------------------------------------------------------

    def people(self, apprentices: int) -> list[tuple[User, Apprenticeship]]:
        """Organisations, staff, apprentices and their apprenticeships, as in the module's docstring."""
        password = make_password(SCALE_PASSWORD)
        counters: Counter = Counter()

        def person(role: str, prefix: str, organisation: Organisation) -> User:
            counters[prefix] += 1
            n = counters[prefix]
            return User(
                email=email(prefix, n),
                first_name=FIRST_NAMES[(n * 7 + len(prefix)) % len(FIRST_NAMES)],
                last_name=LAST_NAMES[(n * 3 + len(prefix)) % len(LAST_NAMES)],
                role=role,
                organisation=organisation,
                password=password,
                date_joined=self.now - datetime.timedelta(days=800),
            )

        per_provider = self.shape.apprentices_per_provider
        providers_n = math.ceil(apprentices / per_provider)
        providers = self.insert(
            Organisation,
            [
                Organisation(kind=Organisation.Kind.PROVIDER, name=f"Scale Provider {p + 1}", ukprn=f"{10090000 + p}")
                for p in range(providers_n)
            ],
        )
        # Apprentice i belongs to provider i // per_provider, where it is the k-th, k = i % per_provider.
        sizes = [min(per_provider, apprentices - p * per_provider) for p in range(providers_n)]
        employers_of = [
            [
                Organisation(kind=Organisation.Kind.EMPLOYER, name=f"Scale Employer {p + 1}.{e + 1}")
                for e in range(math.ceil(size / self.shape.apprentices_per_employer))
            ]
            for p, size in enumerate(sizes)
        ]
        self.insert(Organisation, [e for group in employers_of for e in group])

        staff: list[User] = []
        assessors_of, mentors_of = [], []
        for p, provider in enumerate(providers):
            admins, iqas = self.shape.admins_per_provider, self.shape.iqas_per_provider
            staff += [person(User.Role.PROVIDER_ADMIN, "admin", provider) for _ in range(admins)]
            staff += [person(User.Role.IQA, "iqa", provider) for _ in range(iqas)]
            assessors = math.ceil(sizes[p] / self.shape.caseload)
            assessors_of.append([person(User.Role.ASSESSOR, "assessor", provider) for _ in range(assessors)])
            staff += assessors_of[-1]
            mentors = []
            for e, employer in enumerate(employers_of[p]):
                mentees = len(range(e, sizes[p], len(employers_of[p])))
                how_many = math.ceil(mentees / self.shape.mentees_per_mentor)
                mentors.append([person(User.Role.MENTOR, "mentor", employer) for _ in range(how_many)])
                staff += mentors[-1]
            mentors_of.append(mentors)
        self.insert(User, staff)
        self.iqas = {
            provider.pk: [u for u in staff if u.role == User.Role.IQA and u.organisation_id == provider.pk]
            for provider in providers
        }

        users, apprenticeships = [], []
        for i in range(apprentices):
            p, k = divmod(i, per_provider)
            employers = employers_of[p]
            e = k % len(employers)
            place = k // len(employers)  # position among the employer's apprentices
            mentors = mentors_of[p][e]
            shape = profile(i, self.today)
            users.append(person(User.Role.APPRENTICE, "apprentice", providers[p]))
            apprenticeships.append(
                Apprenticeship(
                    standard=self.standard,
                    provider=providers[p],
                    employer=employers[e],
                    assessor=assessors_of[p][k % len(assessors_of[p])],
                    # One in ten has no mentor yet, as happens while an employer finds one.
                    mentor=None if i % 10 == 7 else mentors[place % len(mentors)],
                    start_date=shape.start,
                    planned_end_date=shape.planned_end,
                    contracted_hours_per_week=Decimal("37.5") if i % 8 else Decimal("22.5"),
                    status=shape.status,
                    created_at=_at(shape.start - datetime.timedelta(days=14)),
                )
            )
        self.insert(User, users)
        for user, apprenticeship in zip(users, apprenticeships, strict=True):
            apprenticeship.apprentice = user
        self.insert(Apprenticeship, apprenticeships)
        return list(zip(users, apprenticeships, strict=True))

    # --- One pass over a chunk of apprenticeships ---------------------------------------------

    def chunk(self, batch: list[tuple[int, Apprenticeship]], evidence_per_apprentice: int) -> None:
        shapes = {a.pk: profile(i, self.today) for i, a in batch}
        self.breaks(batch, shapes)
        decided = self.evidence(batch, shapes, evidence_per_apprentice)
        signed = self.sign_offs(batch, decided)
        otj = self.otj(batch, shapes)
        self.programme(batch, shapes, otj, signed)
        self.notices(batch)

    def breaks(self, batch, shapes) -> None:
        self.insert(
            BreakInLearning,
            [
                BreakInLearning(
                    apprenticeship=a,
                    starts_on=shapes[a.pk].break_from,
                    reason=BREAK_REASON,
                    recorded_by_id=a.assessor_id,
                    recorded_at=_at(shapes[a.pk].break_from),
                )
                for _, a in batch
                if shapes[a.pk].break_from
            ],
        )

    def evidence(self, batch, shapes, m: int) -> dict[int, list[tuple[datetime.datetime, EvidenceVersion, list]]]:
        """Items, versions, files, mappings, decisions and judgements.

        Returns, per apprenticeship, its accepted versions with their time of acceptance and the
        KSBs confirmed on each, for the sign-offs.
        """
        latest = self.now - datetime.timedelta(hours=1)
        items, versions, files = [], [], []
        # Per version: its item's position in `items`, outcome, KSB indexes, file positions, decision time.
        plan = []
        for i, a in batch:
            shape = shapes[a.pk]
            span = max(1, (shape.last_active - shape.start).days)
            for j in range(m):
                day = shape.start + datetime.timedelta(days=span * (j + 1) // m)
                status, outcomes = LIVES[life_of(i, j, m)]
                gaps = []
                for outcome in outcomes:
                    if outcome in ("returned", "accepted"):
                        gaps += [24 + (i + j) % 48, 48 + (i * 3 + j) % 170]  # submitted, then decided
                    else:
                        gaps += [24 + (i + j) % 48]
                times = _timeline(_at(day, 9 + j % 8, j * 7), gaps, latest)
                item = EvidenceItem(apprenticeship=a, status=status, created_at=times[0], updated_at=times[-1])
                items.append(item)
                evidence_type = TYPES[(i + j) % len(TYPES)]
                count = 1 + (i + 2 * j) % 3
                ksb_indexes = [(i * 11 + j * 3 + t * 7) % len(self.ksbs) for t in range(count)]
                item_files = []
                if not (evidence_type in TEXT_ONLY_TYPES and (i + j) % 2 == 0):
                    kinds = [FILE_KINDS[(i * 7 + j) % 3]] + (["record"] if j % 5 == 0 else [])
                    for n, kind in enumerate(kinds):
                        blob = self.blobs[kind][(i + j) % len(self.blobs[kind])]
                        copy = (i * m + j + n) % len(blob.names)
                        files.append(
                            EvidenceFile(
                                apprenticeship=a,
                                file=blob.names[copy],
                                original_name=f"{kind}-{j + 1}{blob.suffix}",
                                size=blob.size,
                                content_type=blob.content_type,
                                sha256=blob.sha256,
                                uploaded_at=times[0],
                                print_copy=blob.print_copies[copy % len(blob.print_copies)]
                                if blob.print_copies
                                else None,
                            )
                        )
                        item_files.append(len(files) - 1)
                step = 1
                for number, outcome in enumerate(outcomes, start=1):
                    # A second version starts when the first was returned.
                    created = times[0] if number == 1 else times[step - 1]
                    submitted = None if outcome == "draft" else times[step]
                    decided_at = times[step + 1] if outcome in ("returned", "accepted") else None
                    step += 2 if decided_at else 1
                    versions.append(
                        EvidenceVersion(
                            item=item,
                            number=number,
                            title=f"{EvidenceItem.Type(evidence_type).label}: {day:%d %b %Y}, part {j + 1}",
                            activity_date=day,
                            evidence_type=evidence_type,
                            reflection=REFLECTION,
                            created_at=created,
                            submitted_at=submitted,
                        )
                    )
                    plan.append((a, i, j, outcome, ksb_indexes, item_files, decided_at))
        self.insert(EvidenceItem, items)
        for version in versions:
            version.item_id = version.item.pk
        self.insert(EvidenceVersion, versions)
        self.insert(EvidenceFile, files)
        self.insert(
            EvidenceVersion.files.through,
            [
                EvidenceVersion.files.through(evidenceversion_id=version.pk, evidencefile_id=files[n].pk)
                for version, (_, _, _, _, _, item_files, _) in zip(versions, plan, strict=True)
                for n in item_files
            ],
        )
        mappings, mapped = [], []  # mapped: (version position, t) of each mapping
        for v, (version, (_, _, _, _, ksb_indexes, _, _)) in enumerate(zip(versions, plan, strict=True)):
            for t, k in enumerate(ksb_indexes):
                ksb = self.ksbs[k]
                mappings.append(KSBMapping(version_id=version.pk, ksb_id=ksb.pk, note=f"Shows {ksb.code} in practice."))
                mapped.append((v, t))
        self.insert(KSBMapping, mappings)

        decisions, decision_of = [], {}
        for v, (version, (a, _, _, outcome, _, _, decided_at)) in enumerate(zip(versions, plan, strict=True)):
            if decided_at is None:
                continue
            returned = outcome == "returned"
            decision_of[v] = len(decisions)
            decisions.append(
                Decision(
                    version_id=version.pk,
                    assessor_id=a.assessor_id,
                    outcome=Decision.Outcome.RETURNED if returned else Decision.Outcome.ACCEPTED,
                    feedback="Say more about what you did yourself, and what you would change." if returned else "",
                    decided_at=decided_at,
                )
            )
        self.insert(Decision, decisions)

        judgements = []
        accepted: dict[int, dict[int, tuple[datetime.datetime, EvidenceVersion, list]]] = defaultdict(dict)
        for mapping, (v, t) in zip(mappings, mapped, strict=True):
            a, i, j, outcome, _, item_files, decided_at = plan[v]
            if outcome != "accepted":
                continue
            confirmed = not (t == 2 and (i + j) % 7 == 0)
            judgements.append(
                KSBJudgement(
                    decision_id=decisions[decision_of[v]].pk,
                    mapping_id=mapping.pk,
                    confirmed=confirmed,
                    comment="" if confirmed else "This one is not shown here.",
                )
            )
            entry = accepted[a.pk].setdefault(v, (decided_at, versions[v], [files[n] for n in item_files], []))
            if confirmed:
                entry[3].append(mapping.ksb_id)
        self.insert(KSBJudgement, judgements)
        self.iqa_sample(batch, decisions)
        return {pk: sorted(by_version.values(), key=lambda e: (e[0], e[1].pk)) for pk, by_version in accepted.items()}

    def iqa_sample(self, batch, decisions: list[Decision]) -> None:
        """One decision in a hundred, sampled by one of the provider's IQAs."""
        provider_of = {a.assessor_id: a.provider_id for _, a in batch}
        reviews = []
        for n, decision in enumerate(decisions):
            if (decision.pk or n) % 100:
                continue
            iqas = self.iqas[provider_of[decision.assessor_id]]
            disagree = n % 7 == 0
            reviews.append(
                IQAReview(
                    reviewer=iqas[n % len(iqas)],
                    decision_id=decision.pk,
                    outcome=IQAReview.Outcome.DISAGREE if disagree else IQAReview.Outcome.AGREE,
                    comment="The feedback should name the KSB it falls short on." if disagree else "",
                    created_at=min(self.now, decision.decided_at + datetime.timedelta(days=7)),
                )
            )
        self.insert(IQAReview, reviews)

    def sign_offs(self, batch, accepted) -> dict[int, list[datetime.datetime]]:
        """Live sign-offs on confirmed KSBs, more the further through the programme; returns their times."""
        sign_offs, relied_on = [], []
        for i, a in batch:
            first_accepted: dict[int, list[tuple[datetime.datetime, EvidenceVersion, list]]] = {}
            for decided_at, version, version_files, ksb_ids in accepted.get(a.pk, []):
                for ksb_id in ksb_ids:
                    first_accepted.setdefault(ksb_id, []).append((decided_at, version, version_files))
            through = (self.today - a.start_date).days / max(1, (a.planned_end_date - a.start_date).days)
            # From a little behind to a little ahead of the time served, and never past what is accepted.
            share = min(1.0, through * (0.6 + 0.1 * (i % 7)))
            wanted = min(len(first_accepted), round(len(self.ksbs) * share))
            ordered = sorted(first_accepted.items(), key=lambda pair: pair[1][0][0])[:wanted]
            for n, (ksb_id, evidence) in enumerate(ordered):
                signed_at = min(self.now, evidence[0][0] + datetime.timedelta(days=3 + (i + n) % 18))
                if n == 0 and i % 20 == 3:
                    # Signed off on the wrong evidence, revoked, then signed off again.
                    sign_offs.append(
                        SignOff(
                            apprenticeship=a,
                            ksb_id=ksb_id,
                            signed_by_id=a.assessor_id,
                            signed_at=signed_at - datetime.timedelta(hours=2),
                            comment="Met.",
                            revoked_at=signed_at - datetime.timedelta(hours=1),
                            revoked_by_id=a.assessor_id,
                            revoke_reason="Signed off on the wrong evidence.",
                        )
                    )
                    relied_on.append(evidence[-1:])
                sign_offs.append(
                    SignOff(
                        apprenticeship=a,
                        ksb_id=ksb_id,
                        signed_by_id=a.assessor_id,
                        signed_at=signed_at,
                        comment="The evidence relied on shows this consistently, in the apprentice's own practice.",
                    )
                )
                relied_on.append(evidence[:2])
        self.insert(SignOff, sign_offs)
        self.insert(
            SignOff.versions.through,
            [
                SignOff.versions.through(signoff_id=s.pk, evidenceversion_id=version.pk)
                for s, evidence in zip(sign_offs, relied_on, strict=True)
                for _, version, _ in evidence
            ],
        )
        self.insert(
            SignedFile,
            [
                SignedFile(sign_off_id=s.pk, version_id=version.pk, file_id=f.pk, sha256=f.sha256)
                for s, evidence in zip(sign_offs, relied_on, strict=True)
                for _, version, version_files in evidence
                for f in version_files
            ],
        )
        signed: dict[int, list[datetime.datetime]] = defaultdict(list)
        for s in sign_offs:
            if s.revoked_at is None:
                signed[s.apprenticeship.pk].append(s.signed_at)
        return signed

    def otj(self, batch, shapes) -> dict[int, list[OTJActivity]]:
        """An entry a week from the start to the last day of activity."""
        entries, ksb_links = [], []
        labels = dict(OTJActivity.Type.choices)
        recent = self.today - datetime.timedelta(days=21)
        for i, a in batch:
            shape = shapes[a.pk]
            behind = i % 4 == 1
            day, k = a.start_date + datetime.timedelta(days=2 + i % 5), 0
            while day <= min(shape.last_active, self.today - datetime.timedelta(days=1)):
                kind = OTJActivity.Type.values[(i + k) % len(OTJActivity.Type.values)]
                if day > recent:
                    status = OTJActivity.Status.LOGGED
                elif k % 13 == 6:
                    status = OTJActivity.Status.QUERIED
                else:
                    status = OTJActivity.Status.VERIFIED
                checked = status != OTJActivity.Status.LOGGED
                by_mentor = a.mentor_id and k % 9 == 4
                entries.append(
                    OTJActivity(
                        apprenticeship=a,
                        date=day,
                        minutes=60 * (2 + k % 3) if behind else 60 * (5 + k % 3) + 30 * (k % 2),
                        activity_type=kind,
                        description=f"{labels[kind]}: week {k + 1} of the programme.",
                        logged_by_id=a.mentor_id if by_mentor else a.apprentice_id,
                        logged_at=_at(day, 17),
                        status=status,
                        query_reason="Which session was this? It is not on the rota."
                        if status == OTJActivity.Status.QUERIED
                        else "",
                        checked_by_id=a.assessor_id if checked else None,
                        checked_at=_at(day + datetime.timedelta(days=5), 11) if checked else None,
                    )
                )
                ksb_links.append(self.ksbs[(i + k * 5) % len(self.ksbs)].pk)
                day += datetime.timedelta(days=7)
                k += 1
        self.insert(OTJActivity, entries)
        self.insert(
            OTJActivity.ksbs.through,
            [
                OTJActivity.ksbs.through(otjactivity_id=entry.pk, ksb_id=ksb_id)
                for entry, ksb_id in zip(entries, ksb_links, strict=True)
            ],
        )
        by_apprenticeship: dict[int, list[OTJActivity]] = defaultdict(list)
        for entry in entries:
            by_apprenticeship[entry.apprenticeship.pk].append(entry)
        return by_apprenticeship

    def programme(self, batch, shapes, otj, signed) -> None:
        """Progress reviews every 12 weeks and the training plan, each signed by the three parties."""
        reviews, actions, plans = [], [], []
        for i, a in batch:
            shape = shapes[a.pk]
            # A quarter of apprentices have had no review for over 100 days: the next one is overdue.
            until = self.today - datetime.timedelta(days=100 if i % 4 == 2 else 1)
            until = min(until, shape.last_active if shape.status != Apprenticeship.Status.ACTIVE else until)
            held, mine = a.start_date + datetime.timedelta(days=REVIEW_DAYS), []
            while held <= until:
                entries = [e for e in otj.get(a.pk, []) if e.date <= held]
                logged = sum(e.minutes for e in entries if e.status != OTJActivity.Status.QUERIED)
                verified = sum(e.minutes for e in entries if e.status == OTJActivity.Status.VERIFIED)
                review = ProgressReview(
                    apprenticeship=a,
                    held_on=held,
                    recorded_by_id=a.assessor_id,
                    recorded_at=_at(held, 15),
                    updated_at=_at(held, 15),
                    actions_since_last="Rotation through the laboratory sections, and the e-learning modules.",
                    progress_against_plan="On plan for the knowledge; practical skills a little behind.",
                    plan_updates="",
                    wellbeing="Settled, and well supported by the team.",
                    otj_logged_hours=round(logged / 60, 2),
                    otj_verified_hours=round(verified / 60, 2),
                    ksb_signed_off=sum(1 for t in signed.get(a.pk, []) if t.date() <= held),
                    ksb_total=len(self.ksbs),
                )
                mine.append(review)
                held += datetime.timedelta(days=REVIEW_DAYS)
            for n, review in enumerate(mine):
                # The newest review of one in three still waits for the mentor and the apprentice.
                newest_waiting = n == len(mine) - 1 and i % 3 == 0
                review.locked_at = (
                    _at(review.held_on + datetime.timedelta(days=3), 16) if a.mentor_id and not newest_waiting else None
                )
                review.waiting = newest_waiting
                actions += [
                    ReviewAction(
                        review=review,
                        description="Complete the next e-learning module.",
                        owner=Party.APPRENTICE,
                        due_on=review.held_on + datetime.timedelta(days=28),
                    ),
                    ReviewAction(
                        review=review,
                        description="Arrange a week's placement in haematology.",
                        owner=Party.MENTOR,
                        due_on=review.held_on + datetime.timedelta(days=42),
                    ),
                ]
            reviews += mine
            for version in (1, 2) if i % 3 == 1 and self.today > a.start_date + datetime.timedelta(days=200) else (1,):
                created = _at(a.start_date + datetime.timedelta(days=0 if version == 1 else 200), 12)
                plan = TrainingPlan(
                    apprenticeship=a,
                    version=version,
                    planned_otj_hours=450 + 10 * (i % 5),
                    planned_end_date=a.planned_end_date,
                    epa_organisation="Healthcare EPA Services Ltd",
                    english_status=TrainingPlan.EnglishMaths.EXEMPT,
                    english_evidence="GCSE English language, grade 6",
                    maths_status=TrainingPlan.EnglishMaths.WORKING_TOWARDS
                    if i % 5 == 0
                    else TrainingPlan.EnglishMaths.EXEMPT,
                    maths_evidence="" if i % 5 == 0 else "GCSE mathematics, grade 5",
                    text="Rotations through each laboratory section, with the e-learning and study days.",
                    created_by_id=a.assessor_id,
                    created_at=created,
                    updated_at=created,
                    locked_at=created + datetime.timedelta(days=5) if version == 1 and a.mentor_id else None,
                )
                plans.append(plan)
        self.insert(ProgressReview, reviews)
        for action in actions:
            action.review_id = action.review.pk
        self.insert(ReviewAction, actions)
        self.insert(TrainingPlan, plans)
        # The hash a signature covers includes the review's actions: read them back in one query.
        prefetch_related_objects(reviews, "actions")
        signatures = []
        for review in reviews:
            parties = [Party.ASSESSOR] if review.waiting else [Party.APPRENTICE, Party.ASSESSOR]
            if review.locked_at:
                parties = [Party.APPRENTICE, Party.MENTOR, Party.ASSESSOR]
            signatures += self._signatures(review, parties, review=review)
        for plan in plans:
            if plan.locked_at:
                parties = [Party.APPRENTICE, Party.MENTOR, Party.ASSESSOR]
            elif plan.version == 1:
                parties = [Party.APPRENTICE, Party.ASSESSOR]  # no mentor to sign yet
            else:
                parties = [Party.APPRENTICE]
            signatures += self._signatures(plan, parties, plan=plan)
        self.insert(Signature, signatures)

    def _signatures(self, document, parties, **target) -> list[Signature]:
        a = document.apprenticeship
        signer = {Party.APPRENTICE: a.apprentice_id, Party.MENTOR: a.mentor_id, Party.ASSESSOR: a.assessor_id}
        digest = content_hash(document)
        start = document.recorded_at if isinstance(document, ProgressReview) else document.created_at
        return [
            Signature(
                party=party,
                signer_id=signer[party],
                content_hash=digest,
                signed_at=min(self.now, start + datetime.timedelta(hours=2 + 20 * n)),
                **target,
            )
            for n, party in enumerate(parties)
        ]

    def notices(self, batch) -> None:
        notices = []
        for i, a in batch:
            when = self.now - datetime.timedelta(days=1 + i % 9)
            notices += [
                Notice(
                    recipient_id=a.apprentice_id,
                    message="Your evidence was accepted.",
                    url="/evidence/",
                    created_at=when - datetime.timedelta(days=7),
                    read_at=when,
                ),
                Notice(recipient_id=a.apprentice_id, message="K3 was signed off.", url="/portfolio/", created_at=when),
                Notice(
                    recipient_id=a.assessor_id, message="New evidence waits for your review.", url="/assessor/",
                    created_at=when,
                ),
            ]  # fmt: skip
        self.insert(Notice, notices)


def build_scale(
    *,
    apprentices: int,
    evidence_per_apprentice: int,
    standard: Standard,
    shape: Shape = Shape(),
    now: datetime.datetime | None = None,
    on_progress: Callable[[int, int, int], None] | None = None,
) -> ScaleResult:
    """Builds the scale set in one transaction; a failure leaves no row and no file behind.

    `on_progress(apprentices done, apprentices, rows so far)` is called after each pass.
    """
    if apprentices < 1 or evidence_per_apprentice < 1:
        raise ValueError("At least one apprentice with at least one item of evidence.")
    started = time.perf_counter()
    now = now or timezone.now()
    written: list[str] = []
    try:
        with transaction.atomic(), _timestamps_as_given():
            builder = ScaleBuilder(standard=standard, now=now, blobs=store_blobs(written), shape=shape)
            people = builder.people(apprentices)
            for first in range(0, apprentices, CHUNK):
                batch = [(i, people[i][1]) for i in range(first, min(apprentices, first + CHUNK))]
                builder.chunk(batch, evidence_per_apprentice)
                # With DEBUG on, Django keeps every query's SQL: a million rows' worth otherwise.
                reset_queries()
                if on_progress:
                    on_progress(first + len(batch), apprentices, sum(builder.rows.values()))
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise
    return ScaleResult(
        rows=builder.rows,
        seconds=time.perf_counter() - started,
        files_stored=len(written),
    )
