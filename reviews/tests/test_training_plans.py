"""Training plans: written by the assessor or provider, versioned once signed, held to the funding rules."""

import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from evidence.otj import otj_summary_of
from portal.models import AuditEntry, Notice
from reviews.models import Party, TrainingPlan
from reviews.signatures import sign
from reviews.tests.programme import ALL_PARTIES, training_plan
from reviews.training_plans import minimum_otj_hours, save_training_plan

EXEMPT = TrainingPlan.EnglishMaths.EXEMPT
ACHIEVED = TrainingPlan.EnglishMaths.ACHIEVED
WORKING_TOWARDS = TrainingPlan.EnglishMaths.WORKING_TOWARDS


def needs_hours(apprenticeship, hours=400):
    apprenticeship.standard.minimum_otj_hours = hours
    apprenticeship.standard.save(update_fields=["minimum_otj_hours"])


def values(apprenticeship, **overrides):
    return {
        "planned_otj_hours": 420,
        "planned_end_date": apprenticeship.planned_end_date,
        "epa_organisation": "Healthcare EPA Services Ltd",
        "english_status": EXEMPT,
        "english_evidence": "GCSE English grade 6, certificate seen",
        "maths_status": WORKING_TOWARDS,
        "maths_evidence": "",
        "text": "Rotations through haematology, biochemistry and microbiology.",
        **overrides,
    }


def save(apprenticeship, by=None, **overrides):
    return save_training_plan(
        apprenticeship=apprenticeship, by=by or apprenticeship.assessor, **values(apprenticeship, **overrides)
    )


def form_data(apprenticeship, **overrides):
    data = {
        **values(apprenticeship),
        "planned_end_date": apprenticeship.planned_end_date.isoformat(),
        **overrides,
    }
    return {k: v for k, v in data.items() if v is not None}


# --- Who writes it ------------------------------------------------------------------------------


def test_the_assessor_writes_version_one(apprenticeship, assessor):
    plan = save(apprenticeship)
    assert (plan.version, plan.created_by, plan.planned_otj_hours) == (1, assessor, 420)
    entry = AuditEntry.objects.get(action="training_plan.saved")
    assert entry.payload["version"] == 1 and entry.payload["new_version"] is True


def test_a_provider_admin_writes_it_too(apprenticeship, provider_admin):
    assert save(apprenticeship, by=provider_admin).created_by == provider_admin


@pytest.mark.parametrize("who", ["apprentice", "mentor", "iqa", "other_assessor", "outsider"])
def test_nobody_else_writes_the_plan(request, apprenticeship, who):
    with pytest.raises(PermissionDenied):
        save(apprenticeship, by=request.getfixturevalue(who))
    assert not TrainingPlan.objects.exists()


def test_the_other_parties_are_asked_to_sign(
    apprenticeship, apprentice, mentor, assessor, provider_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        save(apprenticeship)
    assert set(Notice.objects.values_list("recipient__email", flat=True)) == {apprentice.email, mentor.email}
    assert sorted(m.to[0] for m in mail.outbox) == sorted([apprentice.email, mentor.email])
    assert "Training plan version 1" in mail.outbox[0].subject
    Notice.objects.all().delete()
    save(apprenticeship, by=provider_admin, planned_otj_hours=430)
    # Written by the provider, all three parties are asked.
    assert Notice.objects.count() == 3


# --- Versions -----------------------------------------------------------------------------------


def test_an_unsigned_plan_is_changed_in_place(apprenticeship):
    first = save(apprenticeship)
    again = save(apprenticeship, planned_otj_hours=450)
    assert again.pk == first.pk and again.version == 1 and again.planned_otj_hours == 450
    assert TrainingPlan.objects.count() == 1


def test_a_change_after_anyone_signed_makes_a_new_version_and_keeps_the_old(apprenticeship, apprentice):
    first = save(apprenticeship)
    sign(plan=first, by=apprentice)
    second = save(apprenticeship, planned_otj_hours=450)
    assert second.pk != first.pk and second.version == 2
    first.refresh_from_db()
    assert first.planned_otj_hours == 420 and first.signatures.count() == 1
    # The new version is unsigned, so the next change is made to it in place.
    assert save(apprenticeship, planned_otj_hours=460).pk == second.pk


def test_a_change_after_the_plan_locked_makes_a_new_version(apprenticeship):
    locked = training_plan(apprenticeship, signed_by=ALL_PARTIES)
    plan = save(apprenticeship, text="Adds a placement in blood transfusion.")
    assert plan.version == 2 and not plan.is_locked
    locked.refresh_from_db()
    assert locked.text.startswith("Rotations through haematology")


def test_saving_an_unsigned_plan_unchanged_asks_nobody_again(apprenticeship):
    save(apprenticeship)
    Notice.objects.all().delete()
    save(apprenticeship)
    assert not Notice.objects.exists()
    assert AuditEntry.objects.filter(action="training_plan.saved").count() == 1


# --- The rules ------------------------------------------------------------------------------------


def test_planned_hours_below_the_minimum_are_refused_with_the_minimum(apprenticeship):
    needs_hours(apprenticeship, 400)
    with pytest.raises(ValidationError, match="Plan at least 400 off-the-job hours") as caught:
        save(apprenticeship, planned_otj_hours=399)
    assert list(caught.value.error_dict) == ["planned_otj_hours"]
    assert save(apprenticeship, planned_otj_hours=400).planned_otj_hours == 400


def test_the_minimum_follows_the_new_planned_end_date(apprenticeship):
    apprenticeship.start_date = datetime.date(2023, 9, 1)
    apprenticeship.planned_end_date = datetime.date(2025, 8, 31)
    apprenticeship.save()
    assert minimum_otj_hours(apprenticeship, datetime.date(2025, 8, 31))[0] == 559  # the worked example
    longer, _ = minimum_otj_hours(apprenticeship, datetime.date(2026, 8, 31))
    assert longer > 559
    with pytest.raises(ValidationError, match=f"Plan at least {longer} off-the-job hours"):
        save(apprenticeship, planned_otj_hours=559, planned_end_date=datetime.date(2026, 8, 31))


def test_an_unknown_requirement_does_not_hold_the_plan_up(apprenticeship):
    assert apprenticeship.standard.minimum_otj_hours is None
    assert save(apprenticeship, planned_otj_hours=10).planned_otj_hours == 10


def test_a_duration_too_short_is_refused(apprenticeship):
    with pytest.raises(ValidationError, match="must be at least 8 months .* 30 April 2026 or later") as caught:
        save(apprenticeship, planned_end_date=datetime.date(2026, 4, 29))
    assert list(caught.value.error_dict) == ["planned_end_date"]


def test_an_end_before_the_start_is_refused(apprenticeship):
    with pytest.raises(ValidationError, match="must be after the start date"):
        save(apprenticeship, planned_end_date=datetime.date(2025, 8, 1))


@pytest.mark.parametrize("status", [ACHIEVED, EXEMPT])
def test_english_achieved_or_exempt_needs_its_evidence(apprenticeship, status):
    with pytest.raises(ValidationError, match="Record the English evidence") as caught:
        save(apprenticeship, english_status=status, english_evidence="   ")
    assert list(caught.value.error_dict) == ["english_evidence"]


def test_maths_achieved_needs_its_evidence_and_working_towards_does_not(apprenticeship):
    with pytest.raises(ValidationError, match="Record the maths evidence"):
        save(apprenticeship, maths_status=ACHIEVED)
    assert save(apprenticeship, english_status=WORKING_TOWARDS, english_evidence="").pk


# --- The planned end date -----------------------------------------------------------------------


def test_a_new_planned_end_date_moves_the_apprenticeships_and_is_audited(apprenticeship):
    old = apprenticeship.planned_end_date
    new = datetime.date(2027, 12, 31)
    save(apprenticeship, planned_end_date=new)
    apprenticeship.refresh_from_db()
    assert apprenticeship.planned_end_date == new
    entry = AuditEntry.objects.get(action="apprenticeship.planned_end_date_changed")
    assert entry.payload["old"] == old.isoformat() and entry.payload["new"] == new.isoformat()


def test_the_same_end_date_leaves_the_apprenticeship_alone(apprenticeship):
    save(apprenticeship)
    assert not AuditEntry.objects.filter(action="apprenticeship.planned_end_date_changed").exists()


def test_the_otj_requirement_recalculates_from_the_new_date(apprenticeship):
    apprenticeship.start_date = datetime.date(2023, 9, 1)
    apprenticeship.planned_end_date = datetime.date(2025, 8, 31)
    apprenticeship.save()
    assert otj_summary_of(apprenticeship).required == Decimal(559)
    new_end = datetime.date(2026, 2, 28)
    minimum, _ = minimum_otj_hours(apprenticeship, new_end)
    save(apprenticeship, planned_otj_hours=minimum, planned_end_date=new_end)
    apprenticeship.refresh_from_db()
    assert otj_summary_of(apprenticeship).required == minimum > 559


def test_a_refused_plan_leaves_the_end_date_alone(apprenticeship):
    needs_hours(apprenticeship, 400)
    old = apprenticeship.planned_end_date
    with pytest.raises(ValidationError):
        save(apprenticeship, planned_otj_hours=1, planned_end_date=datetime.date(2027, 12, 31))
    apprenticeship.refresh_from_db()
    assert apprenticeship.planned_end_date == old and not TrainingPlan.objects.exists()


# --- Pages ----------------------------------------------------------------------------------------

SEE = ["apprentice", "mentor", "assessor", "provider_admin", "iqa"]


@pytest.mark.parametrize("who", SEE)
def test_everyone_who_sees_the_apprenticeship_reads_the_plan(request, client, apprenticeship, who):
    plan = training_plan(apprenticeship, signed_by=[Party.ASSESSOR])
    client.force_login(request.getfixturevalue(who))
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/training-plan/").content.decode()
    assert "Healthcare EPA Services Ltd" in body and "1 of 3 signatures" in body
    assert ("Edit the plan" in body) is (who in ("assessor", "provider_admin"))
    assert ("Sign this plan" in body) is (who in ("apprentice", "mentor"))
    assert client.get(f"/training-plans/{plan.pk}/").status_code == 200


@pytest.mark.parametrize("who", ["other_apprentice", "other_assessor", "outsider"])
def test_others_get_404_from_the_plan_pages(request, client, apprenticeship, who):
    plan = training_plan(apprenticeship)
    client.force_login(request.getfixturevalue(who))
    assert client.get(f"/apprenticeships/{apprenticeship.pk}/training-plan/").status_code == 404
    assert client.get(f"/training-plans/{plan.pk}/").status_code == 404
    if who != "other_apprentice":  # an apprentice is turned away by role first (403)
        assert client.get(f"/apprenticeships/{apprenticeship.pk}/training-plan/edit/").status_code == 404


@pytest.mark.parametrize("who", ["apprentice", "mentor", "iqa"])
def test_only_the_assessor_and_provider_admins_reach_the_plan_form(request, client, apprenticeship, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(f"/apprenticeships/{apprenticeship.pk}/training-plan/edit/").status_code == 403
    response = client.post(f"/apprenticeships/{apprenticeship.pk}/training-plan/edit/", form_data(apprenticeship))
    assert response.status_code == 403
    assert not TrainingPlan.objects.exists()


def test_the_page_without_a_plan_offers_to_write_one(client, apprenticeship, assessor, apprentice):
    client.force_login(assessor)
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/training-plan/").content.decode()
    assert "No training plan has been written yet" in body and "Write the training plan" in body
    client.force_login(apprentice)
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/training-plan/").content.decode()
    assert "Write the training plan" not in body


def test_the_first_form_is_empty_and_saves_version_one(client, apprenticeship, assessor):
    client.force_login(assessor)
    form = client.get(f"/apprenticeships/{apprenticeship.pk}/training-plan/edit/")
    assert form.status_code == 200 and "Saving makes version 1" in form.content.decode()
    response = client.post(f"/apprenticeships/{apprenticeship.pk}/training-plan/edit/", form_data(apprenticeship))
    assert response.status_code == 302 and response.url == f"/apprenticeships/{apprenticeship.pk}/training-plan/"
    assert TrainingPlan.objects.get().version == 1


def test_the_form_starts_from_the_latest_version(client, apprenticeship, assessor):
    training_plan(apprenticeship, version=1, signed_by=ALL_PARTIES)
    training_plan(apprenticeship, version=2, signed_by=[Party.APPRENTICE], epa_organisation="Pathology EPA Co")
    client.force_login(assessor)
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/training-plan/edit/").content.decode()
    assert 'value="Pathology EPA Co"' in body
    assert "saving makes version 3" in body


def test_a_bad_plan_says_why_beside_the_field_and_keeps_what_was_typed(client, apprenticeship, provider_admin):
    needs_hours(apprenticeship, 400)
    client.force_login(provider_admin)
    response = client.post(
        f"/apprenticeships/{apprenticeship.pk}/training-plan/edit/",
        form_data(apprenticeship, planned_otj_hours="120", text="Weekly theory at the college; lab rotations."),
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Plan at least 400 off-the-job hours" in body
    assert "Weekly theory at the college; lab rotations." in body and 'value="120"' in body
    assert not TrainingPlan.objects.exists()


def test_a_bad_date_in_the_plan_form_is_a_message_not_an_error_page(client, apprenticeship, assessor):
    client.force_login(assessor)
    response = client.post(
        f"/apprenticeships/{apprenticeship.pk}/training-plan/edit/",
        form_data(apprenticeship, planned_end_date="31/02/2027", english_status=ACHIEVED, english_evidence=""),
    )
    assert response.status_code == 200
    assert "Enter a valid date." in response.content.decode()


def test_an_older_version_reads_as_it_was_without_a_sign_button(client, apprenticeship, apprentice):
    old = training_plan(apprenticeship, version=1, signed_by=[Party.ASSESSOR], planned_otj_hours=410)
    training_plan(apprenticeship, version=2, planned_otj_hours=500)
    client.force_login(apprentice)
    body = client.get(f"/training-plans/{old.pk}/").content.decode()
    assert "This is an earlier version" in body and "410" in body
    assert "Sign this plan" not in body
    current = client.get(f"/apprenticeships/{apprenticeship.pk}/training-plan/").content.decode()
    assert "version 2" in current and f'href="/training-plans/{old.pk}/"' in current and "Sign this plan" in current


def test_the_plan_page_takes_a_fixed_number_of_queries(client, apprenticeship, assessor, django_assert_max_num_queries):
    for version in range(1, 21):
        training_plan(apprenticeship, version=version, signed_by=ALL_PARTIES if version < 20 else ())
    client.force_login(assessor)
    with django_assert_max_num_queries(6):
        body = client.get(f"/apprenticeships/{apprenticeship.pk}/training-plan/").content.decode()
    assert body.count('href="/training-plans/') == 19
