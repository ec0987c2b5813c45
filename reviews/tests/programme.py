"""Programme records for tests: progress reviews, training plans and signatures, written straight
to the tables so that tests of pages, the gateway and reminders need not walk every service."""

import datetime
import hashlib

from django.utils import timezone

from reviews.models import Party, ProgressReview, Signature, TrainingPlan


def progress_review(apprenticeship, *, held_on=datetime.date(2025, 11, 20), signed_by=(), **fields):
    """A recorded review; `signed_by` lists the parties who have signed (all three locks it)."""
    values = {
        "actions_since_last": "Completed the haematology rotation and the QC e-learning.",
        "progress_against_plan": "On plan: K1-K5 evidenced.",
        "wellbeing": "Settled and well supported.",
        "otj_logged_hours": 40,
        "otj_verified_hours": 30,
        "otj_expected_hours": 45,
        "otj_required_hours": 400,
        "ksb_signed_off": 3,
        "ksb_total": 65,
        "coverage": {},
        **fields,
    }
    review = ProgressReview.objects.create(
        apprenticeship=apprenticeship, held_on=held_on, recorded_by=apprenticeship.assessor, **values
    )
    _sign(apprenticeship, signed_by, review=review)
    if len(set(signed_by)) == 3:
        review.locked_at = timezone.now()
        review.save(update_fields=["locked_at"])
    return review


def training_plan(apprenticeship, *, version=1, signed_by=(), **fields):
    values = {
        "planned_otj_hours": 420,
        "planned_end_date": apprenticeship.planned_end_date,
        "epa_organisation": "Healthcare EPA Services Ltd",
        "english_status": TrainingPlan.EnglishMaths.EXEMPT,
        "english_evidence": "GCSE English grade 6, certificate seen",
        "maths_status": TrainingPlan.EnglishMaths.EXEMPT,
        "maths_evidence": "GCSE maths grade 5, certificate seen",
        "text": "Rotations through haematology, biochemistry and microbiology; weekly theory sessions.",
        **fields,
    }
    plan = TrainingPlan.objects.create(
        apprenticeship=apprenticeship, version=version, created_by=apprenticeship.assessor, **values
    )
    _sign(apprenticeship, signed_by, plan=plan)
    if len(set(signed_by)) == 3:
        plan.locked_at = timezone.now()
        plan.save(update_fields=["locked_at"])
    return plan


def _sign(apprenticeship, parties, **document):
    signers = {Party.APPRENTICE: apprenticeship.apprentice, Party.MENTOR: apprenticeship.mentor}
    signers[Party.ASSESSOR] = apprenticeship.assessor
    for party in parties:
        Signature.objects.create(
            party=party, signer=signers[party], content_hash=hashlib.sha256(b"test").hexdigest(), **document
        )


ALL_PARTIES = (Party.APPRENTICE, Party.MENTOR, Party.ASSESSOR)
