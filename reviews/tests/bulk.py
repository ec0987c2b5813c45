"""A big cohort made in seconds, for tests that prove a page's query count does not grow with it.

    cohort = build_cohort(provider=provider, employer=employer, assessors=[assessor, other_assessor],
                          standard=st0220)

gives 300 apprentices with 50 evidence items each, mapped across every KSB of the standard, in
every status, with decisions, KSB judgements and sign-offs. Rows go in with `bulk_create` and
skip the services (no files, no audit entries, no notices): the point is volume, not the write
path, which the services' own tests cover.

What you can rely on, apprentice by apprentice (`i` is their position, 0-based):

- apprentices are assigned to `assessors` in turn (`assessors[i % len(assessors)]`), all with
  `employer`, no mentor, and sign in with `BULK_PASSWORD`;
- every 20th is on a break in learning, every 50th withdrawn, the rest active; all enrolled
  more than two months ago;
- their newest item was last touched `ACTIVITY_DAYS_AGO[i % 6]` days ago, so a third of
  them have done nothing for more than four weeks;
- items are spread over draft, submitted, accepted and returned; each version maps three
  KSBs and every KSB of the standard is mapped; a few mappings of accepted items are unticked;
- a varying number of KSBs (0 to all) is signed off on accepted evidence, and every 10th
  apprentice also has a revoked sign-off;
- each has `otj_each` off-the-job entries (verified, awaiting and queried in turn) and two
  progress reviews, the older signed by all three and locked; every third apprentice's last
  review was held more than 12 weeks ago, so their next one is overdue;
- each has a training plan (version 1 signed by all, version 2 signed by the apprentice only).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Sequence

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from evidence.models import EvidenceItem, EvidenceVersion, KSBMapping, OTJActivity
from portal.models import Apprenticeship, Organisation, User
from reviews.models import Decision, KSBJudgement, Party, ProgressReview, Signature, SignOff, TrainingPlan
from standards.models import KSB, Standard

BULK_PASSWORD = "cohort password"

# Days since each apprentice last touched their portfolio, in turn: two of six are inactive.
ACTIVITY_DAYS_AGO = (1, 3, 10, 20, 35, 70)

FIRST_NAMES = ("Amira", "Ben", "Chloe", "Dev", "Ella", "Femi", "Grace", "Harry", "Isla", "Jack", "Kiran", "Lena")
LAST_NAMES = ("Adams", "Begum", "Clarke", "Davies", "Evans", "Francis", "Green", "Hughes", "Iqbal", "Jones", "Khan")

TYPES = EvidenceItem.Type.values

S = EvidenceItem.Status
# Twenty slots: 3 draft, 5 submitted, 9 accepted, 3 returned.
STATUS_CYCLE = [S.DRAFT] * 3 + [S.SUBMITTED] * 5 + [S.ACCEPTED] * 9 + [S.RETURNED] * 3


def _apprenticeship_status(i: int) -> str:
    if i % 50 == 49:
        return Apprenticeship.Status.WITHDRAWN
    if i % 20 == 19:
        return Apprenticeship.Status.BREAK_IN_LEARNING
    return Apprenticeship.Status.ACTIVE


@transaction.atomic
def build_cohort(
    *,
    provider: Organisation,
    employer: Organisation,
    assessors: Sequence[User],
    standard: Standard,
    apprentices: int = 300,
    items_each: int = 50,
    otj_each: int = 12,
) -> list[Apprenticeship]:
    """Creates `apprentices` apprenticeships of `provider` with `items_each` items each; returns them.

    Safe to call more than once (emails are unique per provider and call).
    """
    now = timezone.now()
    today = timezone.localdate(now)
    ksbs = list(KSB.objects.filter(standard=standard))
    order = {ksb.pk: n for n, ksb in enumerate(ksbs)}
    password = make_password(BULK_PASSWORD)
    already = User.objects.filter(organisation=provider, role=User.Role.APPRENTICE).count()

    users = User.objects.bulk_create(
        User(
            email=f"cohort{provider.pk}.{already + i}@cohort.test",
            first_name=FIRST_NAMES[(i * 7) % len(FIRST_NAMES)],
            last_name=LAST_NAMES[i % len(LAST_NAMES)],
            role=User.Role.APPRENTICE,
            organisation=provider,
            password=password,
        )
        for i in range(apprentices)
    )
    apprenticeships = Apprenticeship.objects.bulk_create(
        Apprenticeship(
            apprentice=user,
            standard=standard,
            provider=provider,
            employer=employer,
            assessor=assessors[i % len(assessors)],
            start_date=today - datetime.timedelta(days=70 + (i % 12) * 30),
            planned_end_date=today + datetime.timedelta(days=400),
            status=_apprenticeship_status(i),
        )
        for i, user in enumerate(users)
    )

    # item -> (apprentice position, item position), to derive everything else from.
    plan = [(i, j) for i in range(apprentices) for j in range(items_each)]
    items = EvidenceItem.objects.bulk_create(
        EvidenceItem(apprenticeship_id=apprenticeships[i].pk, status=STATUS_CYCLE[(i + j) % len(STATUS_CYCLE)])
        for i, j in plan
    )

    def touched(i: int, j: int) -> datetime.datetime:
        return now - datetime.timedelta(days=ACTIVITY_DAYS_AGO[i % len(ACTIVITY_DAYS_AGO)] + (j % 10) * 3)

    # updated_at is auto_now, so bulk_create stamped it with now: set the real spread after,
    # one UPDATE per distinct time.
    by_time: dict[datetime.datetime, list[int]] = defaultdict(list)
    for item, (i, j) in zip(items, plan, strict=True):
        by_time[touched(i, j)].append(item.pk)
    for when, pks in by_time.items():
        EvidenceItem.objects.filter(pk__in=pks).update(updated_at=when)

    versions = EvidenceVersion.objects.bulk_create(
        EvidenceVersion(
            item_id=item.pk,
            number=1,
            title=f"Evidence {j + 1} of {users[i].first_name}",
            activity_date=touched(i, j).date(),
            evidence_type=TYPES[j % len(TYPES)],
            reflection="What I did, what I learned and what I will do differently.",
            submitted_at=None if item.status == S.DRAFT else touched(i, j),
        )
        for item, (i, j) in zip(items, plan, strict=True)
    )

    # Three consecutive KSBs per version, shifted so that every KSB is mapped.
    mapped = [
        (version, ksbs[(i + j * 3 + t) % len(ksbs)], t)
        for version, (i, j) in zip(versions, plan, strict=True)
        for t in range(min(3, len(ksbs)))
    ]
    mappings = KSBMapping.objects.bulk_create(
        KSBMapping(version_id=version.pk, ksb_id=ksb.pk, note=f"Shows {ksb.code}") for version, ksb, _ in mapped
    )

    decided = [
        (item, version, i)
        for item, version, (i, _) in zip(items, versions, plan, strict=True)
        if item.status in (S.ACCEPTED, S.RETURNED)
    ]
    decisions = Decision.objects.bulk_create(
        Decision(
            version_id=version.pk,
            assessor_id=apprenticeships[i].assessor_id,
            outcome=Decision.Outcome.ACCEPTED if item.status == S.ACCEPTED else Decision.Outcome.RETURNED,
            feedback="" if item.status == S.ACCEPTED else "Say more about what you did yourself.",
        )
        for item, version, i in decided
    )
    decision_of = {d.version_id: d for d in decisions if d.outcome == Decision.Outcome.ACCEPTED}

    judgements = []
    # apprenticeship position -> KSB -> an accepted version with that KSB confirmed.
    signable: dict[int, dict[KSB, EvidenceVersion]] = defaultdict(dict)
    position = {version.pk: i for version, (i, _) in zip(versions, plan, strict=True)}
    for mapping, (version, ksb, t) in zip(mappings, mapped, strict=True):
        decision = decision_of.get(version.pk)
        if decision is None:
            continue
        confirmed = not (t == 2 and version.pk % 7 == 0)
        judgements.append(KSBJudgement(decision_id=decision.pk, mapping_id=mapping.pk, confirmed=confirmed))
        if confirmed:
            signable[position[version.pk]].setdefault(ksb, version)
    KSBJudgement.objects.bulk_create(judgements)

    sign_offs: list[SignOff] = []
    relied_on: list[EvidenceVersion] = []
    for i, apprenticeship in enumerate(apprenticeships):
        candidates = sorted(signable[i].items(), key=lambda pair: order[pair[0].pk])
        how_many = (i * 13) % (len(ksbs) + 1)
        for ksb, version in candidates[:how_many]:
            sign_offs.append(
                SignOff(
                    apprenticeship_id=apprenticeship.pk,
                    ksb_id=ksb.pk,
                    signed_by_id=apprenticeship.assessor_id,
                    comment="Met.",
                )
            )
            relied_on.append(version)
        if i % 10 == 0 and len(candidates) > how_many:
            # A sign-off taken back: it stays on record and must not count.
            ksb, version = candidates[how_many]
            sign_offs.append(
                SignOff(
                    apprenticeship_id=apprenticeship.pk,
                    ksb_id=ksb.pk,
                    signed_by_id=apprenticeship.assessor_id,
                    comment="Met.",
                    revoked_at=now,
                    revoked_by_id=apprenticeship.assessor_id,
                    revoke_reason="Signed off on the wrong evidence.",
                )
            )
            relied_on.append(version)
    sign_offs = SignOff.objects.bulk_create(sign_offs)
    SignOff.versions.through.objects.bulk_create(
        SignOff.versions.through(signoff_id=sign_off.pk, evidenceversion_id=version.pk)
        for sign_off, version in zip(sign_offs, relied_on, strict=True)
    )
    _programme(apprenticeships, otj_each=otj_each, today=today)
    return apprenticeships


OTJ_STATUS_CYCLE = [OTJActivity.Status.VERIFIED, OTJActivity.Status.LOGGED, OTJActivity.Status.QUERIED]


def _programme(apprenticeships: list[Apprenticeship], *, otj_each: int, today: datetime.date) -> None:
    """Off-the-job entries, two progress reviews and two training plan versions per apprenticeship."""
    OTJActivity.objects.bulk_create(
        OTJActivity(
            apprenticeship_id=a.pk,
            date=a.start_date + datetime.timedelta(days=3 * k),
            minutes=60 * (1 + k % 7),
            activity_type=OTJActivity.Type.values[k % len(OTJActivity.Type.values)],
            description=f"Off-the-job session {k + 1}",
            logged_by_id=a.apprentice_id,
            status=(status := OTJ_STATUS_CYCLE[k % len(OTJ_STATUS_CYCLE)]),
            query_reason="Which session was this?" if status == OTJActivity.Status.QUERIED else "",
        )
        for a in apprenticeships
        for k in range(otj_each)
    )
    now = timezone.now()
    reviews = ProgressReview.objects.bulk_create(
        ProgressReview(
            apprenticeship_id=a.pk,
            held_on=today - datetime.timedelta(days=(100 if i % 3 == 0 else 30) + 60 * older),
            recorded_by_id=a.assessor_id,
            actions_since_last="Rotation and e-learning.",
            progress_against_plan="On plan.",
            wellbeing="Well.",
            otj_logged_hours=10,
            otj_verified_hours=5,
            ksb_signed_off=0,
            ksb_total=65,
            locked_at=now if older else None,
        )
        for i, a in enumerate(apprenticeships)
        for older in (1, 0)
    )
    plans = TrainingPlan.objects.bulk_create(
        TrainingPlan(
            apprenticeship_id=a.pk,
            version=version,
            planned_otj_hours=450,
            planned_end_date=a.planned_end_date,
            epa_organisation="Healthcare EPA Services Ltd",
            english_status=TrainingPlan.EnglishMaths.EXEMPT,
            english_evidence="GCSE",
            maths_status=TrainingPlan.EnglishMaths.WORKING_TOWARDS,
            text="The plan.",
            created_by_id=a.assessor_id,
            locked_at=now if version == 1 else None,
        )
        for a in apprenticeships
        for version in (1, 2)
    )
    everyone = (Party.APPRENTICE, Party.MENTOR, Party.ASSESSOR)
    Signature.objects.bulk_create(
        [
            Signature(review_id=r.pk, party=party, signer_id=r.recorded_by_id, content_hash="0" * 64)
            for r in reviews
            if r.locked_at
            for party in everyone
        ]
        + [
            Signature(plan_id=p.pk, party=party, signer_id=p.created_by_id, content_hash="0" * 64)
            for p in plans
            for party in (everyone if p.version == 1 else (Party.APPRENTICE,))
        ]
    )
