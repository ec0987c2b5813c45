"""Progress reviews: recorded by the assessor with what stood that day, edited until locked, safeguarding kept close."""

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.loader import render_to_string
from django.utils import timezone

from evidence.models import OTJActivity
from evidence.tests.factories import otj_activity
from portal.models import Apprenticeship, AuditEntry, Notice
from portal.tests.factories import AssessorFactory, ProviderAdminFactory
from reviews.models import Party, ProgressReview, ReviewAction
from reviews.progress_reviews import may_see_safeguarding, record_progress_review, update_progress_review
from reviews.schedule import ReviewStatus
from reviews.signatures import sign
from reviews.tests.helpers import signed_off
from reviews.tests.programme import ALL_PARTIES, progress_review

SECRET = "Disclosed controlling behaviour at home; referred to the DSL."


def today() -> datetime.date:
    return timezone.localdate()


HELD = today() - datetime.timedelta(days=7)


def fields(**overrides):
    return {
        "held_on": HELD,
        "actions_since_last": "Completed the haematology rotation.",
        "progress_against_plan": "On plan: K1-K5 evidenced.",
        "plan_updates": "",
        "wellbeing": "Settled and well supported.",
        "concerns": "",
        "safeguarding_concern": False,
        "safeguarding_details": "",
        "actions": [("Upload the QC chart", Party.APPRENTICE, HELD + datetime.timedelta(days=14))],
        **overrides,
    }


def record(apprenticeship, **overrides):
    return record_progress_review(apprenticeship=apprenticeship, by=apprenticeship.assessor, **fields(**overrides))


def needs_hours(apprenticeship, hours=400):
    apprenticeship.standard.minimum_otj_hours = hours
    apprenticeship.standard.save(update_fields=["minimum_otj_hours"])


def form_data(**overrides):
    """What the browser posts: the review's fields and three action rows."""
    data = {
        "held_on": HELD.isoformat(),
        "actions_since_last": "Completed the haematology rotation.",
        "progress_against_plan": "On plan.",
        "plan_updates": "",
        "wellbeing": "Settled.",
        "concerns": "",
        "safeguarding_details": "",
        "actions-TOTAL_FORMS": "3",
        "actions-INITIAL_FORMS": "0",
        "actions-MIN_NUM_FORMS": "0",
        "actions-MAX_NUM_FORMS": "30",
        "actions-0-description": "Upload the QC chart",
        "actions-0-owner": "apprentice",
        "actions-0-due_on": (HELD + datetime.timedelta(days=14)).isoformat(),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- Recording ----------------------------------------------------------------------------------


def test_the_assessor_records_a_review_with_its_actions(apprenticeship, assessor):
    review = record(
        apprenticeship,
        actions=[
            ("Upload the QC chart", Party.APPRENTICE, HELD + datetime.timedelta(days=14)),
            ("Arrange a microbiology rotation", Party.MENTOR, HELD + datetime.timedelta(days=30)),
        ],
    )
    assert review.recorded_by == assessor and review.held_on == HELD and not review.is_locked
    assert [(a.description, a.owner) for a in review.actions.all()] == [
        ("Upload the QC chart", "apprentice"),
        ("Arrange a microbiology rotation", "mentor"),
    ]
    entry = AuditEntry.objects.get(action="progress_review.recorded")
    assert entry.payload["progress_review"] == review.pk and entry.payload["safeguarding_concern"] is False


@pytest.mark.parametrize("who", ["other_assessor", "provider_admin", "iqa", "mentor", "apprentice"])
def test_only_the_apprentices_assessor_records_a_review(request, apprenticeship, who):
    with pytest.raises(PermissionDenied):
        record_progress_review(apprenticeship=apprenticeship, by=request.getfixturevalue(who), **fields())
    assert not ProgressReview.objects.exists()


def test_a_review_cannot_be_held_in_the_future(apprenticeship):
    with pytest.raises(ValidationError, match="cannot be in the future") as caught:
        record(apprenticeship, held_on=today() + datetime.timedelta(days=1))
    assert "held_on" in caught.value.error_dict


def test_a_review_cannot_be_held_before_the_start(apprenticeship):
    with pytest.raises(ValidationError, match="before the apprenticeship started on 1 September 2025"):
        record(apprenticeship, held_on=datetime.date(2025, 8, 31))


def test_a_review_needs_at_least_one_next_action(apprenticeship):
    with pytest.raises(ValidationError, match="at least one next action"):
        record(apprenticeship, actions=[])
    assert not ProgressReview.objects.exists()


def test_a_next_action_is_due_after_the_review(apprenticeship):
    with pytest.raises(ValidationError, match="is due on .* a next action is due after the review"):
        record(apprenticeship, actions=[("Upload the QC chart", Party.APPRENTICE, HELD)])


def test_a_next_action_needs_what_who_and_when(apprenticeship):
    with pytest.raises(ValidationError, match="needs what will be done, who does it and a due date"):
        record(apprenticeship, actions=[("Upload the QC chart", "nobody", HELD + datetime.timedelta(days=3))])


def test_the_apprentice_and_mentor_are_asked_to_sign(
    apprenticeship, apprentice, mentor, assessor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        review = record(apprenticeship)
    asked = Notice.objects.filter(url=f"/progress-reviews/{review.pk}/")
    assert set(asked.values_list("recipient__email", flat=True)) == {apprentice.email, mentor.email}
    assert sorted(m.to[0] for m in mail.outbox) == sorted([apprentice.email, mentor.email])
    assert "please read and sign" in mail.outbox[0].subject


def test_with_no_mentor_only_the_apprentice_is_asked(other_apprenticeship, other_apprentice):
    review = record(other_apprenticeship)
    assert list(Notice.objects.filter(url=review.get_absolute_url()).values_list("recipient", flat=True)) == [
        other_apprentice.pk
    ]


# --- What is captured ---------------------------------------------------------------------------


def test_otj_hours_are_captured_as_of_the_day_held(apprenticeship):
    needs_hours(apprenticeship)
    otj_activity(apprenticeship, on=HELD - datetime.timedelta(days=10), hours=6, status=OTJActivity.Status.VERIFIED)
    otj_activity(apprenticeship, on=HELD, hours=4)
    otj_activity(apprenticeship, on=HELD + datetime.timedelta(days=1), hours=20)  # after the review: left out
    review = record(apprenticeship)
    assert (review.otj_logged_hours, review.otj_verified_hours) == (Decimal(10), Decimal(6))
    assert review.otj_required_hours == 400
    assert review.otj_expected_hours > 0 and review.otj_shortfall == review.otj_expected_hours - 10


def test_unknown_requirement_is_captured_as_not_known(apprenticeship):
    review = record(apprenticeship)  # no published minimum entered for the standard
    assert review.otj_required_hours is None and review.otj_expected_hours is None and review.otj_shortfall is None


def test_ksb_coverage_is_captured_at_recording(apprenticeship):
    signed_off(apprenticeship, "K1")
    review = record(apprenticeship)
    assert (review.ksb_signed_off, review.ksb_total) == (1, 65)
    assert review.coverage["K1"] == "signed_off" and review.coverage["K2"] == "none"
    assert len(review.coverage) == 65


def test_the_capture_is_never_recomputed_after_later_sign_offs_and_hours(apprenticeship, assessor):
    needs_hours(apprenticeship)
    otj_activity(apprenticeship, on=HELD - datetime.timedelta(days=1), hours=5)
    review = record(apprenticeship)
    captured = (review.otj_logged_hours, review.ksb_signed_off, dict(review.coverage))

    signed_off(apprenticeship, "S1")
    otj_activity(apprenticeship, on=HELD - datetime.timedelta(days=2), hours=30)
    update_progress_review(review=review, by=assessor, **fields(wellbeing="Tired but coping."))
    review.refresh_from_db()
    assert review.wellbeing == "Tired but coping."
    assert (review.otj_logged_hours, review.ksb_signed_off, review.coverage) == captured
    assert review.coverage["S1"] == "none"


# --- Safeguarding ---------------------------------------------------------------------------------


def test_a_safeguarding_concern_needs_details(apprenticeship):
    with pytest.raises(ValidationError, match="Describe the safeguarding concern"):
        record(apprenticeship, safeguarding_concern=True, safeguarding_details="  ")


def test_safeguarding_details_without_the_concern_ticked_are_refused(apprenticeship):
    with pytest.raises(ValidationError, match="Tick .raise a safeguarding concern."):
        record(apprenticeship, safeguarding_details=SECRET)


def test_a_concern_goes_to_the_designated_lead_without_the_details(
    apprenticeship, provider, provider_admin, django_capture_on_commit_callbacks
):
    lead = AssessorFactory(organisation=provider, email="dsl@example.org")
    provider.safeguarding_lead = lead
    provider.save()
    with django_capture_on_commit_callbacks(execute=True):
        review = record(apprenticeship, safeguarding_concern=True, safeguarding_details=SECRET)
    notice = Notice.objects.get(message__contains="safeguarding concern")
    assert notice.recipient == lead and notice.url == f"/progress-reviews/{review.pk}/"
    email = next(m for m in mail.outbox if m.to == ["dsl@example.org"])
    assert "safeguarding concern was raised" in email.body and f"/progress-reviews/{review.pk}/" in email.body
    assert "controlling" not in email.body and "controlling" not in email.subject
    assert not any(m.to == [provider_admin.email] for m in mail.outbox)
    assert "controlling" not in str(AuditEntry.objects.get(action="progress_review.recorded").payload)


def test_without_a_lead_every_provider_admin_hears_of_the_concern(apprenticeship, provider, provider_admin):
    second = ProviderAdminFactory(organisation=provider)
    record(apprenticeship, safeguarding_concern=True, safeguarding_details=SECRET)
    told = set(Notice.objects.filter(message__contains="safeguarding concern").values_list("recipient", flat=True))
    assert told == {provider_admin.pk, second.pk}


def test_no_concern_tells_nobody_about_safeguarding(apprenticeship, provider_admin):
    record(apprenticeship)
    assert not Notice.objects.filter(message__contains="safeguarding").exists()


def test_only_the_providers_staff_may_see_the_details(
    apprenticeship, provider, apprentice, mentor, assessor, provider_admin, iqa, other_assessor, outsider
):
    review = record(apprenticeship, safeguarding_concern=True, safeguarding_details=SECRET)
    assert may_see_safeguarding(assessor, review) and may_see_safeguarding(provider_admin, review)
    for person in (apprentice, mentor, iqa, other_assessor, outsider):
        assert not may_see_safeguarding(person, review), person.email
    provider.safeguarding_lead = iqa
    provider.save()
    review.apprenticeship.provider.refresh_from_db()
    assert may_see_safeguarding(iqa, review)


def test_the_details_show_on_the_page_to_staff_only(
    client, apprenticeship, apprentice, mentor, assessor, provider_admin, iqa
):
    review = record(apprenticeship, safeguarding_concern=True, safeguarding_details=SECRET)
    for person, sees in ((assessor, True), (provider_admin, True), (apprentice, False), (mentor, False), (iqa, False)):
        client.force_login(person)
        response = client.get(f"/progress-reviews/{review.pk}/")
        assert response.status_code == 200
        body = response.content.decode()
        assert (SECRET in body) is sees, person.email
        assert ("safeguarding concern was raised" in body) is sees, person.email


def test_the_lead_opens_the_review_even_when_the_apprentice_is_not_theirs(client, apprenticeship, provider):
    lead = AssessorFactory(organisation=provider, email="dsl@example.org")
    provider.safeguarding_lead = lead
    provider.save()
    quiet = record(apprenticeship)
    review = record(apprenticeship, safeguarding_concern=True, safeguarding_details=SECRET)
    client.force_login(lead)
    assert SECRET in client.get(f"/progress-reviews/{review.pk}/").content.decode()
    # Only the reviews that raised a concern, and not the apprenticeship's other pages.
    assert client.get(f"/progress-reviews/{quiet.pk}/").status_code == 404
    assert client.get(f"/apprenticeships/{apprenticeship.pk}/progress-reviews/").status_code == 404


# --- Editing ------------------------------------------------------------------------------------


def test_editing_changes_the_content_and_replaces_the_actions(apprenticeship, assessor):
    review = record(apprenticeship)
    due = HELD + datetime.timedelta(days=21)
    update_progress_review(
        review=review,
        by=assessor,
        **fields(progress_against_plan="Slightly behind.", actions=[("Book the EPA gateway meeting", "assessor", due)]),
    )
    review.refresh_from_db()
    assert review.progress_against_plan == "Slightly behind."
    assert [(a.description, a.owner, a.due_on) for a in review.actions.all()] == [
        ("Book the EPA gateway meeting", "assessor", due)
    ]
    assert AuditEntry.objects.filter(action="progress_review.updated").get().payload["changed"] == [
        "progress_against_plan",
        "actions",
    ]


def test_editing_removes_the_signatures_given_and_asks_those_people_again(apprenticeship, apprentice, mentor, assessor):
    review = record(apprenticeship)
    sign(review=review, by=apprentice)
    sign(review=review, by=assessor)
    Notice.objects.all().delete()
    update_progress_review(review=review, by=assessor, **fields(concerns="Moving house next month."))
    assert not review.signatures.exists()
    removed = AuditEntry.objects.get(action="progress_review.signatures_removed").payload["signatures"]
    assert sorted(s["party"] for s in removed) == ["apprentice", "assessor"]
    # The apprentice is asked again; the assessor made the change, the mentor had not signed.
    assert list(Notice.objects.values_list("recipient", flat=True)) == [apprentice.pk]
    assert "changed after you signed it" in Notice.objects.get().message
    sign(review=review, by=apprentice)  # and can sign the new content


def test_saving_without_a_change_keeps_the_signatures(apprenticeship, apprentice, assessor):
    review = record(apprenticeship)
    sign(review=review, by=apprentice)
    update_progress_review(review=review, by=assessor, **fields())
    assert review.signatures.count() == 1
    assert not AuditEntry.objects.filter(action="progress_review.updated").exists()


def test_changing_only_the_safeguarding_part_keeps_signatures_and_tells_the_lead(
    apprenticeship, apprentice, mentor, assessor, provider_admin
):
    review = record(apprenticeship)
    sign(review=review, by=mentor)
    update_progress_review(review=review, by=assessor, **fields(safeguarding_concern=True, safeguarding_details=SECRET))
    assert review.signatures.count() == 1
    assert not Notice.objects.filter(recipient=mentor, message__contains="changed").exists()
    assert Notice.objects.filter(recipient=provider_admin, message__contains="safeguarding concern").exists()


def test_a_raised_concern_cannot_be_taken_off_the_review(apprenticeship, assessor):
    review = record(apprenticeship, safeguarding_concern=True, safeguarding_details=SECRET)
    with pytest.raises(ValidationError, match="once raised, stays on the review"):
        update_progress_review(review=review, by=assessor, **fields())


def test_only_the_assessor_edits(apprenticeship, provider_admin, apprentice):
    review = record(apprenticeship)
    for person in (provider_admin, apprentice):
        with pytest.raises(PermissionDenied):
            update_progress_review(review=review, by=person, **fields(wellbeing="x"))


def test_a_locked_review_refuses_edits(apprenticeship, assessor):
    review = progress_review(apprenticeship, held_on=HELD, signed_by=ALL_PARTIES)
    with pytest.raises(ValidationError, match="locked"):
        update_progress_review(review=review, by=assessor, **fields(wellbeing="x"))
    review.refresh_from_db()
    assert review.wellbeing == "Settled and well supported."


def test_an_edit_checks_the_same_rules(apprenticeship, assessor):
    review = record(apprenticeship)
    with pytest.raises(ValidationError, match="at least one next action"):
        update_progress_review(review=review, by=assessor, **fields(actions=[]))
    assert review.actions.count() == 1


# --- Pages: who gets in -------------------------------------------------------------------------

SEE = ["apprentice", "mentor", "assessor", "provider_admin", "iqa"]
NOT_SEE = ["other_apprentice", "other_assessor", "outsider"]


@pytest.mark.parametrize("who", SEE)
def test_everyone_who_sees_the_apprenticeship_reads_its_reviews(request, client, apprenticeship, who):
    review = progress_review(apprenticeship, held_on=HELD)
    client.force_login(request.getfixturevalue(who))
    listing = client.get(f"/apprenticeships/{apprenticeship.pk}/progress-reviews/")
    assert listing.status_code == 200
    assert f'href="/progress-reviews/{review.pk}/"' in listing.content.decode()
    assert ("Record a review" in listing.content.decode()) is (who == "assessor")
    assert client.get(f"/progress-reviews/{review.pk}/").status_code == 200


@pytest.mark.parametrize("who", NOT_SEE)
def test_others_get_404_from_the_review_pages(request, client, apprenticeship, who):
    review = progress_review(apprenticeship, held_on=HELD)
    client.force_login(request.getfixturevalue(who))
    for address in (
        f"/apprenticeships/{apprenticeship.pk}/progress-reviews/",
        f"/progress-reviews/{review.pk}/",
    ):
        assert client.get(address).status_code == 404, address
    if who == "other_assessor":  # the others are in roles the role check turns away first (403)
        assert client.get(f"/apprenticeships/{apprenticeship.pk}/progress-reviews/new/").status_code == 404
        assert client.get(f"/progress-reviews/{review.pk}/edit/").status_code == 404


@pytest.mark.parametrize("who", ["apprentice", "mentor", "provider_admin", "iqa", "outsider"])
def test_only_assessors_reach_the_review_forms(request, client, apprenticeship, who):
    review = progress_review(apprenticeship, held_on=HELD)
    client.force_login(request.getfixturevalue(who))
    assert client.get(f"/apprenticeships/{apprenticeship.pk}/progress-reviews/new/").status_code == 403
    assert client.get(f"/progress-reviews/{review.pk}/edit/").status_code == 403
    assert client.post(f"/apprenticeships/{apprenticeship.pk}/progress-reviews/new/", form_data()).status_code == 403


def test_signed_out_people_are_sent_to_sign_in(client, apprenticeship):
    review = progress_review(apprenticeship, held_on=HELD)
    for address in (
        f"/apprenticeships/{apprenticeship.pk}/progress-reviews/",
        f"/apprenticeships/{apprenticeship.pk}/progress-reviews/new/",
        f"/progress-reviews/{review.pk}/",
        f"/progress-reviews/{review.pk}/edit/",
    ):
        response = client.get(address)
        assert response.status_code == 302 and "/accounts/sign-in/" in response.url, address


# --- Pages: what they do ------------------------------------------------------------------------


def test_the_assessor_records_a_review_in_the_browser(client, apprenticeship, assessor):
    client.force_login(assessor)
    form = client.get(f"/apprenticeships/{apprenticeship.pk}/progress-reviews/new/")
    assert form.status_code == 200 and 'name="actions-2-description"' in form.content.decode()
    response = client.post(f"/apprenticeships/{apprenticeship.pk}/progress-reviews/new/", form_data())
    review = ProgressReview.objects.get()
    assert response.status_code == 302 and response.url == f"/progress-reviews/{review.pk}/"
    assert review.actions.get().description == "Upload the QC chart"


def test_a_bad_review_form_says_why_and_keeps_what_was_typed(client, apprenticeship, assessor):
    client.force_login(assessor)
    response = client.post(
        f"/apprenticeships/{apprenticeship.pk}/progress-reviews/new/",
        form_data(
            held_on=(today() + datetime.timedelta(days=2)).isoformat(),
            wellbeing="Anxious about the exams.",
            **{"actions-0-owner": ""},
        ),
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Choose who does it." in body
    assert "Anxious about the exams." in body and "Upload the QC chart" in body
    assert not ProgressReview.objects.exists()
    # With the actions right, the service's rule on the date shows beside the date.
    response = client.post(
        f"/apprenticeships/{apprenticeship.pk}/progress-reviews/new/",
        form_data(held_on=(today() + datetime.timedelta(days=2)).isoformat(), wellbeing="Anxious about the exams."),
    )
    body = response.content.decode()
    assert "the date cannot be in the future" in body and "Anxious about the exams." in body
    assert not ProgressReview.objects.exists()


def test_a_review_form_without_any_action_asks_for_one(client, apprenticeship, assessor):
    client.force_login(assessor)
    response = client.post(
        f"/apprenticeships/{apprenticeship.pk}/progress-reviews/new/",
        form_data(**{"actions-0-description": "", "actions-0-owner": "", "actions-0-due_on": ""}),
    )
    assert "Agree at least one next action" in response.content.decode()


def test_ticking_a_concern_without_details_is_caught_by_the_form(client, apprenticeship, assessor):
    client.force_login(assessor)
    response = client.post(
        f"/apprenticeships/{apprenticeship.pk}/progress-reviews/new/", form_data(safeguarding_concern="on")
    )
    assert "Describe the safeguarding concern" in response.content.decode()


def test_the_edit_form_starts_from_the_review_and_saves(client, apprenticeship, assessor):
    review = record(apprenticeship, concerns="Car broke down.")
    client.force_login(assessor)
    body = client.get(f"/progress-reviews/{review.pk}/edit/").content.decode()
    assert "Car broke down." in body and 'value="Upload the QC chart"' in body
    data = form_data(
        concerns="Car fixed.",
        **{"actions-TOTAL_FORMS": "4", "actions-INITIAL_FORMS": "1"},
    )
    response = client.post(f"/progress-reviews/{review.pk}/edit/", data)
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.concerns == "Car fixed."


def test_a_locked_review_has_no_edit_button_and_its_edit_page_sends_back(client, apprenticeship, assessor):
    review = progress_review(apprenticeship, held_on=HELD, signed_by=ALL_PARTIES)
    client.force_login(assessor)
    assert f"/progress-reviews/{review.pk}/edit/" not in client.get(f"/progress-reviews/{review.pk}/").content.decode()
    response = client.get(f"/progress-reviews/{review.pk}/edit/", follow=True)
    assert response.redirect_chain[-1][0] == f"/progress-reviews/{review.pk}/"
    assert "locked" in response.content.decode()


def test_the_detail_page_shows_the_captured_figures_actions_and_signatures(client, apprenticeship, apprentice):
    review = progress_review(
        apprenticeship,
        held_on=HELD,
        signed_by=[Party.MENTOR],
        coverage={"K1": "signed_off", "K2": "accepted", "S1": "none"},
    )
    ReviewAction.objects.create(review=review, description="Finish the QC log", owner="apprentice", due_on=HELD)
    client.force_login(apprentice)
    body = client.get(f"/progress-reviews/{review.pk}/").content.decode()
    assert "Finish the QC log" in body
    assert "5 hours behind" in body  # expected 45, logged 40
    assert "3 of 65 signed off" in body and "K1" in body
    assert "1 of 3 signatures" in body and str(apprenticeship.mentor) in body
    assert "Sign this review" in body


def test_the_list_shows_signatures_locks_and_when_the_next_review_is_due(client, apprenticeship, assessor):
    progress_review(apprenticeship, held_on=today() - datetime.timedelta(days=100), signed_by=ALL_PARTIES)
    progress_review(apprenticeship, held_on=today() - datetime.timedelta(days=90), signed_by=[Party.ASSESSOR])
    client.force_login(assessor)
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/progress-reviews/").content.decode()
    assert "3 of 3" in body and "1 of 3" in body and "Locked" in body
    assert "Overdue by 6 days" in body  # 12 weeks after the last one held, 90 days ago
    assert "1 review awaiting signatures" in body


def test_the_list_takes_a_fixed_number_of_queries(client, apprenticeship, assessor, django_assert_max_num_queries):
    for n in range(30):
        progress_review(apprenticeship, held_on=HELD - datetime.timedelta(days=n), signed_by=ALL_PARTIES[: n % 4])
    client.force_login(assessor)
    with django_assert_max_num_queries(6):
        response = client.get(f"/apprenticeships/{apprenticeship.pk}/progress-reviews/")
    assert response.content.decode().count('href="/progress-reviews/') == 30


def test_the_detail_page_takes_a_fixed_number_of_queries(
    client, apprenticeship, assessor, django_assert_max_num_queries
):
    review = progress_review(apprenticeship, held_on=HELD, signed_by=ALL_PARTIES[:2])
    ReviewAction.objects.bulk_create(
        ReviewAction(review=review, description=f"Action {n}", owner="apprentice", due_on=HELD) for n in range(20)
    )
    client.force_login(assessor)
    with django_assert_max_num_queries(7):
        assert client.get(f"/progress-reviews/{review.pk}/").status_code == 200


# --- The review status partial ----------------------------------------------------------------


def status(**overrides):
    values = {"last_held": None, "next_due": today(), "on": today(), "expected": True, **overrides}
    return ReviewStatus(**values)


def test_the_status_partial_says_when_the_next_review_is_due():
    due = today() + datetime.timedelta(days=30)
    html = render_to_string("reviews/_partials/review_status.html", {"review_status": status(next_due=due)})
    assert f"Next review due {due:%-d %b %Y}" in html


def test_the_status_partial_flags_an_overdue_review_in_red():
    html = render_to_string(
        "reviews/_partials/review_status.html",
        {"review_status": status(next_due=today() - datetime.timedelta(days=12))},
    )
    assert "Overdue by 12 days" in html and "text-bg-danger" in html


def test_the_status_partial_counts_down_the_last_week():
    soon = render_to_string(
        "reviews/_partials/review_status.html", {"review_status": status(next_due=today() + datetime.timedelta(days=5))}
    )
    assert "Due in 5\xa0days" in soon
    assert "Due today" in render_to_string("reviews/_partials/review_status.html", {"review_status": status()})


def test_the_status_partial_expects_no_review_on_a_break_and_counts_awaiting_signatures(apprenticeship):
    apprenticeship.status = Apprenticeship.Status.BREAK_IN_LEARNING
    html = render_to_string(
        "reviews/_partials/review_status.html",
        {"review_status": status(expected=False, awaiting_signatures=2), "apprenticeship": apprenticeship},
    )
    assert "No review expected (break in learning)" in html
    assert "2 reviews awaiting signatures" in html
