"""Three-party signing of progress reviews and training plans: each in their own account, once, then locked."""

import datetime
import itertools
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from portal.models import AuditEntry, Notice
from reviews.models import Party, ReviewAction, Signature
from reviews.signatures import content_hash, parties_of, party_of, sign
from reviews.tests.programme import ALL_PARTIES, progress_review, training_plan


def signer(apprenticeship, party):
    return {
        Party.APPRENTICE: apprenticeship.apprentice,
        Party.MENTOR: apprenticeship.mentor,
        Party.ASSESSOR: apprenticeship.assessor,
    }[party]


@pytest.fixture
def review(apprenticeship):
    review = progress_review(apprenticeship)
    ReviewAction.objects.create(
        review=review, description="Upload the QC chart", owner=Party.APPRENTICE, due_on=datetime.date(2025, 12, 5)
    )
    return review


@pytest.fixture
def plan(apprenticeship):
    return training_plan(apprenticeship)


# --- Who signs as which party -------------------------------------------------------------------


def test_each_of_the_three_signs_as_their_own_party(apprenticeship, apprentice, mentor, assessor):
    assert party_of(apprentice, apprenticeship) == Party.APPRENTICE
    assert party_of(mentor, apprenticeship) == Party.MENTOR
    assert party_of(assessor, apprenticeship) == Party.ASSESSOR


def test_nobody_else_is_a_party(
    apprenticeship, other_apprentice, other_assessor, provider_admin, iqa, outsider, other_apprenticeship, mentor
):
    for person in (other_apprentice, other_assessor, provider_admin, iqa, outsider):
        assert party_of(person, apprenticeship) is None
    # The mentor of one apprentice is no party to another's documents.
    assert party_of(mentor, other_apprenticeship) is None


# --- The content hash ---------------------------------------------------------------------------


def test_the_hash_changes_with_the_content_and_with_the_actions(review):
    before = content_hash(review)
    assert before == content_hash(review) and len(before) == 64
    review.wellbeing = "Struggling with night shifts."
    assert content_hash(review) != before
    review.refresh_from_db()
    assert content_hash(review) == before
    review.actions.update(due_on=datetime.date(2025, 12, 12))
    assert content_hash(review) != before


def test_the_hash_does_not_depend_on_how_a_number_was_written(review):
    review.refresh_from_db()  # the database gives back Decimal("40.00")
    before = content_hash(review)
    review.otj_logged_hours = Decimal("40")  # as first assigned, before the database gives back 40.00
    assert content_hash(review) == before


def test_the_hash_leaves_out_the_safeguarding_part_nobody_but_the_provider_sees(review):
    before = content_hash(review)
    review.safeguarding_concern = True
    review.safeguarding_details = "Disclosed pressure at home."
    assert content_hash(review) == before


def test_a_plans_hash_covers_its_fields(plan):
    before = content_hash(plan)
    plan.planned_otj_hours += 1
    assert content_hash(plan) != before


# --- Signing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", list(itertools.permutations(ALL_PARTIES)))
def test_the_three_sign_in_any_order_and_the_third_locks_it(apprenticeship, review, order):
    for n, party in enumerate(order, start=1):
        signature = sign(review=review, by=signer(apprenticeship, party))
        review.refresh_from_db()
        assert signature.party == party and signature.content_hash == content_hash(review)
        assert review.is_locked == (n == 3)
    assert review.signatures.count() == 3


def test_signing_is_audited_with_the_party_and_the_hash(apprenticeship, review, mentor):
    sign(review=review, by=mentor)
    entry = AuditEntry.objects.get(action="progress_review.signed")
    assert entry.payload["party"] == "mentor"
    assert entry.payload["content_hash"] == content_hash(review)
    assert entry.payload["locked"] is False
    assert entry.apprenticeship_id == apprenticeship.pk


def test_the_others_are_told_when_it_locks(
    apprenticeship, review, apprentice, mentor, assessor, django_capture_on_commit_callbacks
):
    sign(review=review, by=apprentice)
    sign(review=review, by=assessor)
    assert not Notice.objects.filter(message__contains="locked").exists()
    with django_capture_on_commit_callbacks(execute=True):
        sign(review=review, by=mentor)
    told = set(Notice.objects.filter(message__contains="locked").values_list("recipient__email", flat=True))
    assert told == {apprentice.email, assessor.email}
    assert sorted(m.to[0] for m in mail.outbox) == sorted([apprentice.email, assessor.email])
    assert "20 Nov 2025" in mail.outbox[0].subject and "locked" in mail.outbox[0].subject


@pytest.mark.parametrize("who", ["other_assessor", "provider_admin", "iqa", "other_apprentice", "outsider"])
def test_someone_not_a_party_cannot_sign(request, review, who):
    with pytest.raises(PermissionDenied):
        sign(review=review, by=request.getfixturevalue(who))
    assert not Signature.objects.exists()


def test_a_party_signs_once(review, apprentice):
    sign(review=review, by=apprentice)
    with pytest.raises(ValidationError, match="already signed"):
        sign(review=review, by=apprentice)
    assert review.signatures.count() == 1


def test_a_locked_document_refuses_a_signature(apprenticeship, apprentice):
    locked = progress_review(apprenticeship, signed_by=ALL_PARTIES)
    with pytest.raises(ValidationError, match="locked"):
        sign(review=locked, by=apprentice)


def test_a_signature_on_content_that_changed_since_it_was_read_is_refused(review, apprentice):
    seen = content_hash(review)
    review.progress_against_plan = "Behind plan."
    review.save()
    with pytest.raises(ValidationError, match="changed since you opened it"):
        sign(review=review, by=apprentice, seen_hash=seen)
    assert sign(review=review, by=apprentice, seen_hash=content_hash(review))


def test_without_a_mentor_two_can_sign_but_it_never_locks(other_apprenticeship, other_apprentice, other_assessor):
    review = progress_review(other_apprenticeship)
    sign(review=review, by=other_apprentice)
    sign(review=review, by=other_assessor)
    review.refresh_from_db()
    assert not review.is_locked
    lines = {line.party: line for line in parties_of(review)}
    assert lines[Party.MENTOR].person is None and not lines[Party.MENTOR].signed
    assert lines[Party.APPRENTICE].signed and lines[Party.ASSESSOR].signed


def test_a_training_plan_locks_after_three_and_is_audited_as_a_plan(apprenticeship, plan):
    for party in ALL_PARTIES:
        sign(plan=plan, by=signer(apprenticeship, party))
    plan.refresh_from_db()
    assert plan.is_locked
    entries = AuditEntry.objects.filter(action="training_plan.signed")
    assert entries.count() == 3 and entries.last().payload["version"] == 1 and entries.last().payload["locked"]


def test_an_earlier_version_of_the_plan_cannot_be_signed(apprenticeship, apprentice):
    old = training_plan(apprenticeship, version=1, signed_by=[Party.ASSESSOR])
    training_plan(apprenticeship, version=2)
    with pytest.raises(ValidationError, match="earlier version"):
        sign(plan=old, by=apprentice)


def test_sign_takes_exactly_one_document(review, plan, apprentice):
    with pytest.raises(ValueError):
        sign(review=review, plan=plan, by=apprentice)
    with pytest.raises(ValueError):
        sign(by=apprentice)


# --- The sign buttons ---------------------------------------------------------------------------


def test_each_party_signs_a_review_from_its_page_in_their_own_account(client, apprenticeship, review):
    for party in ALL_PARTIES:
        client.force_login(signer(apprenticeship, party))
        page = client.get(f"/progress-reviews/{review.pk}/").content.decode()
        assert "Sign this review" in page
        response = client.post(
            f"/progress-reviews/{review.pk}/sign/", {"content_hash": content_hash(review)}, follow=True
        )
        assert response.redirect_chain[-1][0] == f"/progress-reviews/{review.pk}/"
        assert "Sign this review" not in response.content.decode()
    review.refresh_from_db()
    assert review.is_locked
    assert "All three parties have signed" in response.content.decode()


def test_the_sign_button_reports_a_second_signature_in_the_page(client, review, apprentice):
    client.force_login(apprentice)
    client.post(f"/progress-reviews/{review.pk}/sign/")
    body = client.post(f"/progress-reviews/{review.pk}/sign/", follow=True).content.decode()
    assert "You have already signed" in body
    assert review.signatures.count() == 1


def test_staff_who_are_not_a_party_get_403_from_the_sign_button(client, review, provider_admin, iqa):
    for person in (provider_admin, iqa):
        client.force_login(person)
        assert client.get(f"/progress-reviews/{review.pk}/").status_code == 200
        assert "Sign this review" not in client.get(f"/progress-reviews/{review.pk}/").content.decode()
        assert client.post(f"/progress-reviews/{review.pk}/sign/").status_code == 403
    assert not Signature.objects.exists()


def test_someone_who_cannot_see_the_document_gets_404_from_the_sign_buttons(
    client, review, plan, outsider, other_apprentice
):
    for person in (outsider, other_apprentice):
        client.force_login(person)
        assert client.post(f"/progress-reviews/{review.pk}/sign/").status_code == 404
        assert client.post(f"/training-plans/{plan.pk}/sign/").status_code == 404


def test_the_sign_buttons_only_take_a_post(client, review, plan, apprentice):
    client.force_login(apprentice)
    assert client.get(f"/progress-reviews/{review.pk}/sign/").status_code == 405
    assert client.get(f"/training-plans/{plan.pk}/sign/").status_code == 405


def test_each_party_signs_the_plan_from_its_page(client, apprenticeship, plan):
    for party in ALL_PARTIES:
        client.force_login(signer(apprenticeship, party))
        assert "Sign this plan" in client.get(f"/apprenticeships/{apprenticeship.pk}/training-plan/").content.decode()
        response = client.post(f"/training-plans/{plan.pk}/sign/", {"content_hash": content_hash(plan)})
        assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.is_locked


def test_the_page_says_a_mentor_must_be_assigned_when_there_is_none(client, other_apprenticeship, other_apprentice):
    review = progress_review(other_apprenticeship)
    training_plan(other_apprenticeship)
    client.force_login(other_apprentice)
    for address in (f"/progress-reviews/{review.pk}/", f"/apprenticeships/{other_apprenticeship.pk}/training-plan/"):
        body = client.get(address).content.decode()
        assert "the provider must assign an employer mentor" in body, address
