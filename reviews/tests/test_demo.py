"""`seed_demo` reviews the demo portfolios through the services, once, so staff pages have content."""

import hashlib
from io import StringIO

import pytest
from django.core.management import call_command

from evidence.models import EvidenceItem
from portal.audit import verify_chain
from portal.models import AuditEntry, Notice
from reviews.models import Decision, IQAReview, KSBJudgement, SignedFile, SignOff

DANIEL = "daniel.okafor@demo.test"
HELEN = "helen.marsh@demo.test"
FIONA = "fiona.grant@demo.test"


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(db, settings) -> str:
    settings.DEBUG = True
    # Only the judgements on the demo evidence: the programme seeder adds sign-offs of its own.
    settings.DEMO_SEEDERS = ["evidence.demo.seed_demo_evidence", "reviews.demo.seed_demo_reviews"]
    return seed()


def counts() -> dict[str, int]:
    return {
        "decisions": Decision.objects.count(),
        "judgements": KSBJudgement.objects.count(),
        "sign_offs": SignOff.objects.count(),
        "signed_files": SignedFile.objects.count(),
        "iqa_reviews": IQAReview.objects.count(),
        "audit_entries": AuditEntry.objects.count(),
        "notices": Notice.objects.count(),
    }


def test_the_seeder_reports_what_it_reviewed(seeded):
    assert (
        f"Demo reviews: {Decision.objects.count()} decisions, {SignOff.objects.count()} sign-offs "
        f"({SignOff.objects.filter(revoked_at__isnull=False).count()} revoked), "
        f"{IQAReview.objects.count()} IQA reviews." in seeded
    )


def test_there_are_accepted_and_returned_decisions_and_the_returned_ones_have_feedback(seeded):
    assert Decision.objects.filter(outcome=Decision.Outcome.ACCEPTED).exists()
    returned = Decision.objects.filter(outcome=Decision.Outcome.RETURNED)
    assert returned.exists()
    assert all(decision.feedback.strip() for decision in returned)


def test_every_decision_is_by_the_apprenticeships_own_assessor(seeded):
    for decision in Decision.objects.select_related("version__item__apprenticeship"):
        assert decision.assessor_id == decision.version.item.apprenticeship.assessor_id


def test_amiras_returned_account_waits_for_her_with_feedback(seeded):
    item = EvidenceItem.objects.get(
        apprenticeship__apprentice__email="amira.hussain@demo.test", status=EvidenceItem.Status.RETURNED
    )
    decision = Decision.objects.get(version__item=item)
    assert decision.outcome == Decision.Outcome.RETURNED
    assert decision.assessor.email == DANIEL
    assert Notice.objects.filter(recipient=item.apprenticeship.apprentice, message__contains="returned").exists()


def test_a_unticked_ksb_keeps_the_assessors_comment(seeded):
    unticked = KSBJudgement.objects.filter(confirmed=False).select_related("mapping__ksb")
    assert unticked.exists()
    assert all(judgement.comment for judgement in unticked)


def test_chloes_revised_item_shows_three_versions_with_feedback_on_the_returned_one(seeded):
    item = EvidenceItem.objects.get(
        apprenticeship__apprentice__email="chloe.evans@demo.test",
        versions__decision__outcome=Decision.Outcome.RETURNED,
    )
    assert item.status == EvidenceItem.Status.ACCEPTED
    versions = list(item.versions.order_by("number"))
    assert [v.number for v in versions] == [1, 2, 3]
    assert all(v.is_frozen for v in versions)
    assert versions[1].decision.outcome == Decision.Outcome.RETURNED
    assert versions[1].decision.feedback
    assert versions[2].decision.outcome == Decision.Outcome.ACCEPTED
    assert versions[2].reflection != versions[1].reflection


def test_live_sign_offs_record_the_sha256_of_every_file_relied_on(seeded):
    live = SignOff.objects.live()
    assert live.filter(apprenticeship__assessor__email=DANIEL).exists()
    assert (
        live.filter(apprenticeship__assessor__email=HELEN).count()
        > live.filter(apprenticeship__assessor__email=DANIEL).count()
    )
    signed = SignedFile.objects.filter(sign_off__in=live).select_related("file")
    assert signed.exists()
    for copy in signed:
        assert copy.sha256 == copy.file.sha256
        with copy.file.file.open("rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == copy.sha256
    for sign_off in live.select_related("apprenticeship"):
        assert sign_off.signed_by_id == sign_off.apprenticeship.assessor_id
        relied_on = {v.pk for v in sign_off.versions.all()}
        assert relied_on
        assert {f.version_id for f in sign_off.signed_files.all()} <= relied_on


def test_a_revoked_sign_off_keeps_its_reason_and_the_ksb_is_signed_off_again(seeded):
    revoked = SignOff.objects.get(revoked_at__isnull=False)
    assert revoked.revoke_reason.strip()
    assert revoked.revoked_by_id == revoked.apprenticeship.assessor_id
    assert SignOff.objects.live().filter(apprenticeship=revoked.apprenticeship, ksb=revoked.ksb).exists()


def test_the_demo_iqa_agrees_with_one_decision_and_disagrees_with_one_sign_off(seeded):
    reviews = IQAReview.objects.select_related("reviewer", "decision__assessor", "sign_off__signed_by")
    assert {review.reviewer.email for review in reviews} == {FIONA}
    agree = reviews.get(outcome=IQAReview.Outcome.AGREE)
    assert agree.decision.assessor.email == DANIEL
    disagree = reviews.get(outcome=IQAReview.Outcome.DISAGREE)
    assert disagree.comment.strip()
    assert disagree.sign_off.signed_by.email == HELEN


def test_daniels_queue_still_has_submitted_items(seeded):
    queue = EvidenceItem.objects.filter(apprenticeship__assessor__email=DANIEL, status=EvidenceItem.Status.SUBMITTED)
    assert queue.filter(apprenticeship__apprentice__email="amira.hussain@demo.test").exists()
    assert queue.filter(apprenticeship__apprentice__email="ben.carter@demo.test").exists()
    assert not Decision.objects.filter(version__item__apprenticeship__apprentice__email="ben.carter@demo.test").exists()


def test_the_audit_chain_is_intact_after_seeding(seeded):
    assert AuditEntry.objects.filter(action="evidence.accepted").exists()
    assert verify_chain().intact


def test_seeding_twice_adds_no_reviews(seeded):
    before = counts()
    assert "Demo reviews already present." in seed()
    assert counts() == before
    assert verify_chain().intact
