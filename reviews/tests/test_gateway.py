"""Gateway: the readiness checklist item by item, each side's agreement, and the move to gateway."""

import datetime

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from evidence.models import OTJActivity
from evidence.tests.factories import otj_activity
from portal.models import Apprenticeship, AuditEntry, Notice
from reviews import gateway
from reviews.gateway import confirm_gateway_readiness, gateway_checklist, move_to_gateway, withdraw_gateway_confirmation
from reviews.models import Export, GatewayConfirmation, Party, ProgressReview, SignOff, TrainingPlan
from reviews.services import revoke_sign_off
from reviews.tests.helpers import signed_off
from reviews.tests.programme import ALL_PARTIES, progress_review, training_plan

EMPLOYER = GatewayConfirmation.Party.EMPLOYER
PROVIDER = GatewayConfirmation.Party.PROVIDER
KEYS = ["ksbs", "otj", "english_maths", "progress_review", "training_plan", "employer", "provider"]


def today() -> datetime.date:
    return timezone.localdate()


def sign_off_all(apprenticeship, *, leave_out=()):
    """Live sign-offs of every KSB but `leave_out`, written straight to the table."""
    SignOff.objects.bulk_create(
        SignOff(apprenticeship=apprenticeship, ksb=ksb, signed_by=apprenticeship.assessor, comment="Met.")
        for ksb in apprenticeship.standard.ksbs.all()
        if ksb.code not in leave_out
    )


def needs_hours(apprenticeship, hours=10):
    apprenticeship.standard.minimum_otj_hours = hours
    apprenticeship.standard.save(update_fields=["minimum_otj_hours"])


def item(checklist, key):
    return next(i for i in checklist.items if i.key == key)


@pytest.fixture
def ready(apprenticeship, mentor, assessor):
    """An apprenticeship meeting every condition of gateway readiness today."""
    needs_hours(apprenticeship)
    sign_off_all(apprenticeship)
    otj_activity(apprenticeship, hours=10, status=OTJActivity.Status.VERIFIED)
    training_plan(apprenticeship, signed_by=ALL_PARTIES)
    progress_review(apprenticeship, held_on=today() - datetime.timedelta(days=14), signed_by=ALL_PARTIES)
    GatewayConfirmation.objects.create(apprenticeship=apprenticeship, party=EMPLOYER, confirmed_by=mentor)
    GatewayConfirmation.objects.create(apprenticeship=apprenticeship, party=PROVIDER, confirmed_by=assessor)
    return apprenticeship


# --- The checklist -----------------------------------------------------------------------------


def test_a_ready_apprenticeship_meets_every_item_in_order(ready):
    checklist = gateway_checklist(ready)
    assert [i.key for i in checklist.items] == KEYS
    assert all(i.met for i in checklist.items)
    assert checklist.ready
    assert item(checklist, "ksbs").detail == "All 65 signed off"
    assert item(checklist, "otj").detail == "10 of 10 verified hours"
    urls = {i.key: i.url for i in checklist.items}
    assert urls["ksbs"] == f"/apprenticeships/{ready.pk}/"
    assert urls["otj"] == f"/apprenticeships/{ready.pk}/otj/"
    assert urls["english_maths"] == urls["training_plan"] == f"/apprenticeships/{ready.pk}/training-plan/"
    assert urls["progress_review"] == f"/apprenticeships/{ready.pk}/progress-reviews/"
    assert urls["employer"] == urls["provider"] == f"/apprenticeships/{ready.pk}/gateway/"


def _revoke_behaviours(a):
    SignOff.objects.filter(apprenticeship=a, ksb__kind="B").update(
        revoked_at=timezone.now(), revoked_by=a.assessor, revoke_reason="Wrong evidence."
    )


BREAKERS = {
    "ksbs": _revoke_behaviours,
    "otj": lambda a: OTJActivity.objects.filter(apprenticeship=a).update(status=OTJActivity.Status.LOGGED),
    "english_maths": lambda a: TrainingPlan.objects.filter(apprenticeship=a).update(
        maths_status=TrainingPlan.EnglishMaths.WORKING_TOWARDS
    ),
    "progress_review": lambda a: ProgressReview.objects.filter(apprenticeship=a).update(
        held_on=today() - datetime.timedelta(weeks=13)
    ),
    "training_plan": lambda a: training_plan(a, version=2, signed_by=(Party.APPRENTICE,)),
    "employer": lambda a: GatewayConfirmation.objects.filter(party=EMPLOYER).delete(),
    "provider": lambda a: GatewayConfirmation.objects.filter(party=PROVIDER).delete(),
}


@pytest.mark.parametrize("key", KEYS)
def test_ready_only_when_every_item_holds(ready, key):
    BREAKERS[key](ready)
    checklist = gateway_checklist(ready)
    assert [i.key for i in checklist.unmet] == [key]
    assert not checklist.ready


def test_the_ksb_item_names_the_missing_codes(apprenticeship):
    sign_off_all(apprenticeship, leave_out=("K3", "S12", "B1"))
    ksbs = item(gateway_checklist(apprenticeship), "ksbs")
    assert not ksbs.met
    assert ksbs.detail == "62 of 65 signed off; missing: K3, S12, B1"


def test_a_long_list_of_missing_ksbs_is_cut_short(apprenticeship):
    ksbs = item(gateway_checklist(apprenticeship), "ksbs")
    assert ksbs.detail == "0 of 65 signed off; missing: K1, K2, K3, K4, K5, K6, K7, K8, K9, K10, K11, K12 and 53 more"


def test_a_revoked_sign_off_does_not_count(apprenticeship, assessor):
    sign_off_all(apprenticeship, leave_out=("K1",))
    sign_off = signed_off(apprenticeship, "K1")
    assert item(gateway_checklist(apprenticeship), "ksbs").met
    revoke_sign_off(sign_off=sign_off, by=assessor, reason="Relied on the wrong chart.")
    ksbs = item(gateway_checklist(apprenticeship), "ksbs")
    assert not ksbs.met
    assert ksbs.detail.endswith("missing: K1")


def test_the_otj_item_counts_verified_hours_only(apprenticeship):
    needs_hours(apprenticeship, 10)
    otj_activity(apprenticeship, hours=4, status=OTJActivity.Status.VERIFIED)
    otj_activity(apprenticeship, hours=7.5)
    otj = item(gateway_checklist(apprenticeship), "otj")
    assert not otj.met
    assert otj.detail == "4 of 10 verified hours (7.5 more logged, waiting for the assessor to verify)"


def test_the_otj_item_says_why_when_the_requirement_is_not_known(apprenticeship):
    otj_activity(apprenticeship, hours=400, status=OTJActivity.Status.VERIFIED)
    otj = item(gateway_checklist(apprenticeship), "otj")
    assert not otj.met
    assert "the requirement is not known" in otj.detail
    assert "published minimum off-the-job hours have not been entered" in otj.detail


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"english_status": TrainingPlan.EnglishMaths.WORKING_TOWARDS}, "English: working towards"),
        ({"maths_evidence": ""}, "maths: exempt (prior attainment recorded), but the evidence is not written down"),
    ],
)
def test_english_and_maths_need_both_achieved_or_exempt_with_evidence(apprenticeship, fields, words):
    training_plan(apprenticeship, signed_by=ALL_PARTIES, **fields)
    english_maths = item(gateway_checklist(apprenticeship), "english_maths")
    assert not english_maths.met
    assert words in english_maths.detail


def test_english_and_maths_are_read_from_the_latest_plan(apprenticeship):
    training_plan(apprenticeship, signed_by=ALL_PARTIES)
    assert item(gateway_checklist(apprenticeship), "english_maths").met
    training_plan(apprenticeship, version=2, maths_status=TrainingPlan.EnglishMaths.WORKING_TOWARDS)
    assert not item(gateway_checklist(apprenticeship), "english_maths").met


def test_without_a_training_plan_neither_plan_item_is_met(apprenticeship):
    checklist = gateway_checklist(apprenticeship)
    for key in ("english_maths", "training_plan"):
        assert not item(checklist, key).met
        assert item(checklist, key).detail == "No training plan has been recorded yet"


def test_the_training_plan_item_needs_the_latest_version_signed_by_all(apprenticeship, mentor):
    training_plan(apprenticeship, signed_by=ALL_PARTIES)
    assert item(gateway_checklist(apprenticeship), "training_plan").met
    training_plan(apprenticeship, version=2, signed_by=(Party.APPRENTICE,))
    plan = item(gateway_checklist(apprenticeship), "training_plan")
    assert not plan.met
    assert plan.detail == (
        f"Version 2 signed by 1 of 3; waiting for the employer mentor {mentor}, the assessor {apprenticeship.assessor}"
    )


def test_the_review_item_needs_a_review_at_all(apprenticeship):
    review = item(gateway_checklist(apprenticeship), "progress_review")
    assert not review.met
    assert review.detail == "No progress review has been held yet"


def test_the_review_item_needs_the_last_review_within_12_weeks(apprenticeship):
    progress_review(apprenticeship, held_on=datetime.date(2026, 1, 10), signed_by=ALL_PARTIES)
    review = item(gateway_checklist(apprenticeship, on=datetime.date(2026, 4, 4)), "progress_review")
    assert review.met  # exactly 12 weeks
    review = item(gateway_checklist(apprenticeship, on=datetime.date(2026, 4, 5)), "progress_review")
    assert not review.met
    assert review.detail == "Held 10 Jan 2026, more than 12 weeks ago: hold a new review"


def test_the_review_item_needs_the_last_review_signed_by_all_three(apprenticeship, apprentice):
    progress_review(apprenticeship, held_on=datetime.date(2026, 1, 10), signed_by=ALL_PARTIES)
    latest = progress_review(apprenticeship, held_on=datetime.date(2026, 3, 1), signed_by=(Party.MENTOR,))
    review = item(gateway_checklist(apprenticeship, on=datetime.date(2026, 3, 5)), "progress_review")
    assert not review.met
    assert review.detail == (
        f"Held 1 Mar 2026; signed by 1 of 3; waiting for the apprentice {apprentice}, "
        f"the assessor {apprenticeship.assessor}"
    )
    assert review.url == f"/progress-reviews/{latest.pk}/"


def test_confirmations_name_who_and_when(apprenticeship, mentor, provider_admin):
    GatewayConfirmation.objects.create(
        apprenticeship=apprenticeship, party=PROVIDER, confirmed_by=provider_admin, comment="All evidence in."
    )
    checklist = gateway_checklist(apprenticeship)
    assert item(checklist, "provider").met
    assert item(checklist, "provider").detail == (
        f"Confirmed by {provider_admin} on {today():%-d %b %Y}: “All evidence in.”"
    )
    assert not item(checklist, "employer").met
    assert item(checklist, "employer").detail == f"Waiting for the employer mentor, {mentor}, to confirm"


def test_without_a_mentor_the_employer_item_says_so(other_apprenticeship):
    employer = item(gateway_checklist(other_apprenticeship), "employer")
    assert not employer.met
    assert "No employer mentor is assigned" in employer.detail


def test_the_checklist_takes_a_fixed_number_of_queries(ready, django_assert_max_num_queries):
    for n in range(20):
        progress_review(ready, held_on=datetime.date(2025, 10, 1) + datetime.timedelta(days=n))
    for version in range(2, 8):
        training_plan(ready, version=version, signed_by=(Party.APPRENTICE, Party.MENTOR))
    for n in range(50):
        otj_activity(ready, on=datetime.date(2025, 10, 1) + datetime.timedelta(days=n), hours=1)
    loaded = Apprenticeship.objects.with_people().get(pk=ready.pk)
    with django_assert_max_num_queries(9):
        checklist = gateway_checklist(loaded)
    assert [i.key for i in checklist.unmet] == ["training_plan"]


# --- Confirming and withdrawing ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "party"), [("mentor", EMPLOYER), ("assessor", PROVIDER), ("provider_admin", PROVIDER)]
)
def test_the_mentor_confirms_for_the_employer_and_staff_for_the_provider(apprenticeship, persona, party, request):
    person = request.getfixturevalue(persona)
    confirmation = confirm_gateway_readiness(apprenticeship=apprenticeship, by=person, comment="  Ready.  ")
    assert (confirmation.party, confirmation.confirmed_by, confirmation.comment) == (party, person, "Ready.")
    entry = AuditEntry.objects.get(action="gateway.confirmed")
    assert (entry.actor, entry.apprenticeship_id, entry.payload["party"]) == (person, apprenticeship.pk, party)


def test_each_side_hears_of_the_others_confirmation(apprenticeship, mentor, assessor):
    confirm_gateway_readiness(apprenticeship=apprenticeship, by=mentor)
    assert Notice.objects.get(recipient=assessor).url == f"/apprenticeships/{apprenticeship.pk}/gateway/"
    confirm_gateway_readiness(apprenticeship=apprenticeship, by=assessor)
    assert "ready for gateway" in Notice.objects.get(recipient=mentor).message


@pytest.mark.parametrize("persona", ["apprentice", "iqa", "other_assessor", "outsider", "other_apprentice"])
def test_others_may_not_confirm(apprenticeship, other_apprenticeship, persona, request):
    with pytest.raises(PermissionDenied):
        confirm_gateway_readiness(apprenticeship=apprenticeship, by=request.getfixturevalue(persona))
    assert not GatewayConfirmation.objects.exists()


def test_a_mentor_confirms_only_for_their_own_mentee(other_apprenticeship, mentor):
    with pytest.raises(PermissionDenied):
        confirm_gateway_readiness(apprenticeship=other_apprenticeship, by=mentor)


def test_each_side_confirms_once(apprenticeship, assessor, provider_admin):
    confirm_gateway_readiness(apprenticeship=apprenticeship, by=assessor)
    with pytest.raises(ValidationError, match="already confirmed readiness .*withdraw that confirmation first"):
        confirm_gateway_readiness(apprenticeship=apprenticeship, by=provider_admin)
    assert GatewayConfirmation.objects.count() == 1


def test_a_long_comment_is_refused(apprenticeship, assessor):
    with pytest.raises(ValidationError, match="500 characters"):
        confirm_gateway_readiness(apprenticeship=apprenticeship, by=assessor, comment="x" * 501)


@pytest.mark.parametrize("status", [Apprenticeship.Status.BREAK_IN_LEARNING, Apprenticeship.Status.WITHDRAWN])
def test_only_an_active_apprenticeship_is_confirmed(apprenticeship, assessor, status):
    Apprenticeship.objects.filter(pk=apprenticeship.pk).update(status=status)
    with pytest.raises(ValidationError, match="Only an active apprenticeship"):
        confirm_gateway_readiness(apprenticeship=apprenticeship, by=assessor)


def test_the_same_side_withdraws_a_confirmation(apprenticeship, assessor, provider_admin, mentor):
    confirmation = confirm_gateway_readiness(apprenticeship=apprenticeship, by=provider_admin, comment="Ready.")
    withdraw_gateway_confirmation(confirmation=confirmation, by=assessor)
    assert not GatewayConfirmation.objects.exists()
    entry = AuditEntry.objects.get(action="gateway.confirmation_withdrawn")
    assert (entry.actor, entry.payload["confirmed_by"], entry.payload["comment"]) == (
        assessor,
        provider_admin.pk,
        "Ready.",
    )
    assert "withdrew" in Notice.objects.filter(recipient=mentor).latest("pk").message
    # Withdrawn, the side may confirm again.
    confirm_gateway_readiness(apprenticeship=apprenticeship, by=assessor)


@pytest.mark.parametrize("persona", ["mentor", "apprentice", "iqa", "other_assessor", "outsider"])
def test_the_other_side_and_others_may_not_withdraw(apprenticeship, assessor, persona, request):
    confirmation = confirm_gateway_readiness(apprenticeship=apprenticeship, by=assessor)
    with pytest.raises(PermissionDenied):
        withdraw_gateway_confirmation(confirmation=confirmation, by=request.getfixturevalue(persona))
    assert GatewayConfirmation.objects.count() == 1


def test_a_confirmation_stays_once_at_gateway(ready, assessor):
    Apprenticeship.objects.filter(pk=ready.pk).update(status=Apprenticeship.Status.AT_GATEWAY)
    with pytest.raises(ValidationError, match="Only an active apprenticeship"):
        withdraw_gateway_confirmation(confirmation=GatewayConfirmation.objects.get(party=PROVIDER), by=assessor)


# --- Moving to gateway -------------------------------------------------------------------------


def test_moving_is_refused_until_ready_with_the_unmet_items_listed(apprenticeship, provider_admin):
    with pytest.raises(ValidationError) as caught:
        move_to_gateway(apprenticeship=apprenticeship, by=provider_admin)
    messages = caught.value.messages
    assert messages[0] == "Not ready for gateway yet:"
    assert len(messages) == 1 + 7
    assert "Every KSB signed off: 0 of 65 signed off" in messages[1]
    apprenticeship.refresh_from_db()
    assert apprenticeship.status == Apprenticeship.Status.ACTIVE
    assert not Export.objects.exists()
    assert not AuditEntry.objects.filter(action="apprenticeship.gateway").exists()


def test_a_ready_apprenticeship_moves_to_gateway_and_its_portfolio_is_exported(
    ready, provider_admin, apprentice, assessor, mentor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export = move_to_gateway(apprenticeship=ready, by=provider_admin)
    ready.refresh_from_db()
    assert ready.status == Apprenticeship.Status.AT_GATEWAY
    export.refresh_from_db()
    assert (export.kind, export.apprenticeship_id, export.requested_by) == (
        Export.Kind.PORTFOLIO,
        ready.pk,
        provider_admin,
    )
    assert export.state in (Export.State.DONE, Export.State.QUEUED)
    entry = AuditEntry.objects.get(action="apprenticeship.gateway")
    assert entry.actor == provider_admin
    assert [row["item"] for row in entry.payload["checklist"]] == KEYS
    assert all(row["met"] for row in entry.payload["checklist"])
    notified = Notice.objects.filter(message__contains="moved to gateway")
    assert {n.recipient for n in notified} == {apprentice, assessor, mentor}
    gateway_mail = [m for m in mail.outbox if m.subject.startswith("At gateway")]
    assert sorted(m.to[0] for m in gateway_mail) == sorted([apprentice.email, assessor.email, mentor.email])
    assert "Every KSB signed off: All 65 signed off" in gateway_mail[0].body


def test_moving_twice_is_refused(ready, provider_admin):
    move_to_gateway(apprenticeship=ready, by=provider_admin)
    with pytest.raises(ValidationError, match="this one is at gateway"):
        move_to_gateway(apprenticeship=ready, by=provider_admin)


@pytest.mark.parametrize("persona", ["assessor", "mentor", "apprentice", "iqa", "outsider"])
def test_only_a_provider_admin_of_the_provider_moves_to_gateway(ready, persona, request):
    with pytest.raises(PermissionDenied):
        move_to_gateway(apprenticeship=ready, by=request.getfixturevalue(persona))
    ready.refresh_from_db()
    assert ready.status == Apprenticeship.Status.ACTIVE


def test_the_checklist_is_worked_out_again_when_moving(ready, provider_admin):
    gateway_checklist(ready)  # what the page showed
    GatewayConfirmation.objects.filter(party=EMPLOYER).delete()  # withdrawn meanwhile
    with pytest.raises(ValidationError, match="Employer agrees"):
        move_to_gateway(apprenticeship=ready, by=provider_admin)


# --- Pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["apprentice", "assessor", "mentor", "provider_admin", "iqa"])
def test_everyone_who_sees_the_apprenticeship_sees_its_gateway_page(client, apprenticeship, persona, request):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(f"/apprenticeships/{apprenticeship.pk}/gateway/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Not ready for gateway yet" in body
    assert body.count("✗</span> Not met") == 7


@pytest.mark.parametrize("persona", ["other_apprentice", "other_assessor", "outsider"])
def test_others_get_404_for_the_gateway_page(client, apprenticeship, other_apprenticeship, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(f"/apprenticeships/{apprenticeship.pk}/gateway/").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, apprenticeship):
    response = client.get(f"/apprenticeships/{apprenticeship.pk}/gateway/")
    assert response.status_code == 302 and "/accounts/sign-in/" in response["Location"]


@pytest.mark.parametrize(
    ("persona", "confirm", "move"),
    [
        ("apprentice", False, False),
        ("iqa", False, False),
        ("mentor", True, False),
        ("assessor", True, False),
        ("provider_admin", True, True),
    ],
)
def test_the_page_offers_each_person_what_they_may_do(client, apprenticeship, persona, confirm, move, request):
    client.force_login(request.getfixturevalue(persona))
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/gateway/").content.decode()
    assert (f'action="/apprenticeships/{apprenticeship.pk}/gateway/confirm/"' in body) == confirm
    assert (f'action="/apprenticeships/{apprenticeship.pk}/gateway/move/"' in body) == move


def test_the_move_button_is_enabled_only_when_ready(client, ready, provider_admin):
    client.force_login(provider_admin)
    url = f"/apprenticeships/{ready.pk}/gateway/"
    body = client.get(url).content.decode()
    assert 'id="move-to-gateway">' in body and "Ready for gateway" in body
    assert body.count("✓</span> Met") == 7
    GatewayConfirmation.objects.filter(party=EMPLOYER).delete()
    body = client.get(url).content.decode()
    assert 'id="move-to-gateway" disabled' in body


def test_a_confirmation_can_be_withdrawn_from_the_page(client, apprenticeship, mentor):
    confirmation = confirm_gateway_readiness(apprenticeship=apprenticeship, by=mentor)
    client.force_login(mentor)
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/gateway/").content.decode()
    assert f'action="/gateway-confirmations/{confirmation.pk}/withdraw/"' in body
    assert f'action="/apprenticeships/{apprenticeship.pk}/gateway/confirm/"' not in body


def test_confirming_on_the_page(client, apprenticeship, mentor):
    client.force_login(mentor)
    response = client.post(f"/apprenticeships/{apprenticeship.pk}/gateway/confirm/", {"comment": "Ready now."})
    assert response.status_code == 302 and response["Location"] == f"/apprenticeships/{apprenticeship.pk}/gateway/"
    assert GatewayConfirmation.objects.get().comment == "Ready now."
    body = client.get(response["Location"]).content.decode()
    assert "You confirmed that" in body
    assert f"Confirmed by {mentor} on" in body


def test_a_too_long_comment_is_shown_again_with_the_message(client, apprenticeship, mentor):
    client.force_login(mentor)
    typed = "All evidence in and reviewed. " * 20
    response = client.post(f"/apprenticeships/{apprenticeship.pk}/gateway/confirm/", {"comment": typed})
    assert response.status_code == 200
    body = response.content.decode()
    assert "at most 500 characters" in body
    assert typed.strip() in body
    assert not GatewayConfirmation.objects.exists()


def test_confirming_twice_on_the_page_says_why_not(client, apprenticeship, assessor, provider_admin):
    confirm_gateway_readiness(apprenticeship=apprenticeship, by=assessor)
    client.force_login(provider_admin)
    response = client.post(f"/apprenticeships/{apprenticeship.pk}/gateway/confirm/", {"comment": "Me too."})
    assert response.status_code == 200
    body = response.content.decode()
    assert "already confirmed readiness" in body
    assert GatewayConfirmation.objects.count() == 1


@pytest.mark.parametrize(("persona", "status"), [("apprentice", 403), ("iqa", 403), ("outsider", 404)])
@pytest.mark.parametrize("comment", ["", "x" * 501])
def test_others_may_not_confirm_on_the_page(client, apprenticeship, persona, status, comment, request):
    client.force_login(request.getfixturevalue(persona))
    response = client.post(f"/apprenticeships/{apprenticeship.pk}/gateway/confirm/", {"comment": comment})
    assert response.status_code == status
    assert not GatewayConfirmation.objects.exists()


def test_confirm_withdraw_and_move_take_posts_only(client, apprenticeship, provider_admin):
    confirmation = confirm_gateway_readiness(apprenticeship=apprenticeship, by=provider_admin)
    client.force_login(provider_admin)
    for url in (
        f"/apprenticeships/{apprenticeship.pk}/gateway/confirm/",
        f"/apprenticeships/{apprenticeship.pk}/gateway/move/",
        f"/gateway-confirmations/{confirmation.pk}/withdraw/",
    ):
        assert client.get(url).status_code == 405


def test_withdrawing_on_the_page(client, apprenticeship, mentor):
    confirmation = confirm_gateway_readiness(apprenticeship=apprenticeship, by=mentor)
    client.force_login(mentor)
    response = client.post(f"/gateway-confirmations/{confirmation.pk}/withdraw/")
    assert response["Location"] == f"/apprenticeships/{apprenticeship.pk}/gateway/"
    assert not GatewayConfirmation.objects.exists()


@pytest.mark.parametrize(("persona", "status"), [("assessor", 403), ("apprentice", 403), ("outsider", 404)])
def test_others_may_not_withdraw_on_the_page(client, apprenticeship, mentor, persona, status, request):
    confirmation = confirm_gateway_readiness(apprenticeship=apprenticeship, by=mentor)
    client.force_login(request.getfixturevalue(persona))
    assert client.post(f"/gateway-confirmations/{confirmation.pk}/withdraw/").status_code == status
    assert GatewayConfirmation.objects.count() == 1


def test_withdrawing_at_gateway_is_refused_with_a_message(client, ready, mentor):
    Apprenticeship.objects.filter(pk=ready.pk).update(status=Apprenticeship.Status.AT_GATEWAY)
    client.force_login(mentor)
    confirmation = GatewayConfirmation.objects.get(party=EMPLOYER)
    response = client.post(f"/gateway-confirmations/{confirmation.pk}/withdraw/", follow=True)
    assert "Only an active apprenticeship" in response.content.decode()
    assert GatewayConfirmation.objects.count() == 2


def test_moving_on_the_page_refuses_with_the_unmet_items(client, apprenticeship, provider_admin):
    client.force_login(provider_admin)
    response = client.post(f"/apprenticeships/{apprenticeship.pk}/gateway/move/", follow=True)
    assert response.redirect_chain[-1][0] == f"/apprenticeships/{apprenticeship.pk}/gateway/"
    body = response.content.decode()
    assert "Not ready for gateway yet:" in body
    assert "Training plan signed by all three: No training plan has been recorded yet." in body
    apprenticeship.refresh_from_db()
    assert apprenticeship.status == Apprenticeship.Status.ACTIVE


def test_moving_on_the_page_goes_to_the_export(client, ready, provider_admin):
    client.force_login(provider_admin)
    response = client.post(f"/apprenticeships/{ready.pk}/gateway/move/")
    export = Export.objects.get(apprenticeship=ready)
    assert response.status_code == 302 and response["Location"] == f"/exports/{export.pk}/"
    ready.refresh_from_db()
    assert ready.status == Apprenticeship.Status.AT_GATEWAY


@pytest.mark.parametrize(("persona", "status"), [("assessor", 403), ("mentor", 403), ("outsider", 404)])
def test_others_may_not_move_on_the_page(client, ready, persona, status, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.post(f"/apprenticeships/{ready.pk}/gateway/move/").status_code == status
    ready.refresh_from_db()
    assert ready.status == Apprenticeship.Status.ACTIVE


def test_the_gateway_page_takes_a_fixed_number_of_queries(client, ready, provider_admin, django_assert_max_num_queries):
    for n in range(30):
        progress_review(ready, held_on=datetime.date(2025, 10, 1) + datetime.timedelta(days=n), signed_by=ALL_PARTIES)
    for n in range(60):
        otj_activity(ready, on=datetime.date(2025, 10, 1) + datetime.timedelta(days=n), hours=1)
    client.force_login(provider_admin)
    with django_assert_max_num_queries(12):
        response = client.get(f"/apprenticeships/{ready.pk}/gateway/")
    assert response.status_code == 200


def test_the_partial_shows_a_checklist_given_as_checklist(apprenticeship, rf):
    from django.template.loader import render_to_string

    request = rf.get("/somewhere/")
    html = render_to_string(
        "reviews/_partials/gateway_checklist.html", {"checklist": gateway_checklist(apprenticeship)}, request=request
    )
    assert "0 of 7 conditions hold" in html
    assert f'href="/apprenticeships/{apprenticeship.pk}/gateway/"' in html


def test_may_move_is_for_the_providers_admins(apprenticeship, provider_admin, outsider, assessor):
    assert gateway.may_move_to_gateway(provider_admin, apprenticeship)
    assert not gateway.may_move_to_gateway(outsider, apprenticeship)
    assert not gateway.may_move_to_gateway(assessor, apprenticeship)
