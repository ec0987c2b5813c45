"""Breaks in learning and the planned end date: who records them, the rules, and their pages."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from portal import services
from portal.models import Apprenticeship, AuditEntry, BreakInLearning, Notice

MANAGERS = ["provider_admin", "assessor"]
READERS_WHO_MAY_NOT = ["apprentice", "mentor", "iqa"]
STRANGERS = ["other_assessor", "outsider", "other_apprentice"]


def start(apprenticeship, by=None, **overrides):
    values = {"starts_on": datetime.date(2025, 11, 3), "reason": "Illness", **overrides}
    return services.start_break(apprenticeship=apprenticeship, by=by or apprenticeship.assessor, **values)


def on_break(apprenticeship, starts_on=datetime.date(2025, 11, 3)):
    start(apprenticeship, starts_on=starts_on)
    apprenticeship.refresh_from_db()
    return apprenticeship


def audit_of(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action))


# --- Starting a break --------------------------------------------------------------------------


@pytest.mark.parametrize("persona", MANAGERS)
def test_the_provider_admin_or_assessor_starts_a_break(apprenticeship, apprentice, persona, request):
    person = request.getfixturevalue(persona)
    pause = start(apprenticeship, by=person, reason="  Parental leave  ")
    apprenticeship.refresh_from_db()
    assert apprenticeship.status == Apprenticeship.Status.BREAK_IN_LEARNING
    assert (pause.starts_on, pause.ends_on, pause.reason, pause.recorded_by) == (
        datetime.date(2025, 11, 3),
        None,
        "Parental leave",
        person,
    )
    [started] = audit_of("break.started")
    assert started.actor == person
    assert started.payload == {"break": pause.pk, "starts_on": "2025-11-03", "reason": "Parental leave"}
    [notice] = Notice.objects.filter(recipient=apprentice)
    assert "break in learning from 3 Nov 2025" in notice.message


@pytest.mark.parametrize("persona", [*READERS_WHO_MAY_NOT, *STRANGERS])
def test_nobody_else_starts_a_break(apprenticeship, persona, request):
    with pytest.raises(PermissionDenied):
        start(apprenticeship, by=request.getfixturevalue(persona))
    assert not BreakInLearning.objects.exists()


def test_an_admin_of_another_provider_may_not(outsider_apprenticeship, provider_admin):
    with pytest.raises(PermissionDenied):
        start(outsider_apprenticeship, by=provider_admin)


@pytest.mark.parametrize(
    "status",
    [
        Apprenticeship.Status.BREAK_IN_LEARNING,
        Apprenticeship.Status.WITHDRAWN,
        Apprenticeship.Status.AT_GATEWAY,
        Apprenticeship.Status.COMPLETED,
    ],
)
def test_a_break_starts_only_from_active_learning(apprenticeship, status):
    Apprenticeship.objects.filter(pk=apprenticeship.pk).update(status=status)
    with pytest.raises(ValidationError, match="a break in learning starts only from active learning"):
        start(apprenticeship)
    assert not BreakInLearning.objects.exists()


def test_a_break_needs_a_reason(apprenticeship):
    with pytest.raises(ValidationError) as refused:
        start(apprenticeship, reason="   ")
    assert "reason" in refused.value.message_dict


def test_a_break_does_not_start_in_the_future_or_before_the_start(apprenticeship):
    with pytest.raises(ValidationError) as refused:
        start(apprenticeship, starts_on=timezone.localdate() + datetime.timedelta(days=1))
    assert "cannot start in the future" in refused.value.message_dict["starts_on"][0]
    with pytest.raises(ValidationError) as refused:
        start(apprenticeship, starts_on=datetime.date(2025, 8, 31))
    assert "started on 1 September 2025" in refused.value.message_dict["starts_on"][0]
    assert start(apprenticeship, starts_on=timezone.localdate()).pk


def test_a_new_break_starts_after_the_last_one_ended(apprenticeship, assessor):
    on_break(apprenticeship, starts_on=datetime.date(2025, 11, 3))
    services.end_break(apprenticeship=apprenticeship, by=assessor, ends_on=datetime.date(2025, 11, 30))
    with pytest.raises(ValidationError) as refused:
        start(apprenticeship, starts_on=datetime.date(2025, 11, 30))
    assert "ran until 30 November 2025" in refused.value.message_dict["starts_on"][0]
    assert start(apprenticeship, starts_on=datetime.date(2025, 12, 1)).pk


# --- Ending a break ----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", MANAGERS)
def test_ending_a_break_moves_the_planned_end_by_its_length(apprenticeship, apprentice, persona, request):
    on_break(apprenticeship, starts_on=datetime.date(2025, 11, 3))
    person = request.getfixturevalue(persona)
    pause = services.end_break(apprenticeship=apprenticeship, by=person, ends_on=datetime.date(2025, 11, 12))
    apprenticeship.refresh_from_db()
    assert pause.ends_on == datetime.date(2025, 11, 12)
    assert apprenticeship.status == Apprenticeship.Status.ACTIVE
    # 3 to 12 November, both included: 10 days.
    assert apprenticeship.planned_end_date == datetime.date(2027, 9, 11)
    [ended] = audit_of("break.ended")
    assert ended.actor == person
    assert ended.payload["days"] == 10
    assert ended.payload["planned_end_date"] == {"old": "2027-09-01", "new": "2027-09-11"}
    assert "planned end date is now 11 Sep 2027" in Notice.objects.filter(recipient=apprentice).first().message


def test_ending_a_break_may_set_another_planned_end(apprenticeship, assessor):
    on_break(apprenticeship)
    services.end_break(
        apprenticeship=apprenticeship,
        by=assessor,
        ends_on=datetime.date(2025, 11, 12),
        new_planned_end_date=datetime.date(2027, 12, 31),
    )
    apprenticeship.refresh_from_db()
    assert apprenticeship.planned_end_date == datetime.date(2027, 12, 31)


def test_the_new_planned_end_must_follow_the_break(apprenticeship, assessor):
    on_break(apprenticeship)
    with pytest.raises(ValidationError) as refused:
        services.end_break(
            apprenticeship=apprenticeship,
            by=assessor,
            ends_on=datetime.date(2025, 11, 12),
            new_planned_end_date=datetime.date(2025, 11, 12),
        )
    assert "after the break" in refused.value.message_dict["new_planned_end_date"][0]
    apprenticeship.refresh_from_db()
    assert apprenticeship.status == Apprenticeship.Status.BREAK_IN_LEARNING


def test_a_break_ends_on_or_after_its_start_and_not_in_the_future(apprenticeship, assessor):
    on_break(apprenticeship, starts_on=datetime.date(2025, 11, 3))
    with pytest.raises(ValidationError) as refused:
        services.end_break(apprenticeship=apprenticeship, by=assessor, ends_on=datetime.date(2025, 11, 2))
    assert "started on 3 November 2025" in refused.value.message_dict["ends_on"][0]
    with pytest.raises(ValidationError) as refused:
        services.end_break(
            apprenticeship=apprenticeship, by=assessor, ends_on=timezone.localdate() + datetime.timedelta(days=1)
        )
    assert "cannot end in the future" in refused.value.message_dict["ends_on"][0]
    # A one-day break ends the day it started.
    services.end_break(apprenticeship=apprenticeship, by=assessor, ends_on=datetime.date(2025, 11, 3))
    apprenticeship.refresh_from_db()
    assert apprenticeship.planned_end_date == datetime.date(2027, 9, 2)


def test_there_is_no_break_to_end_when_learning_is_active(apprenticeship, assessor):
    with pytest.raises(ValidationError, match="not on a break in learning"):
        services.end_break(apprenticeship=apprenticeship, by=assessor, ends_on=datetime.date(2025, 11, 3))


def test_a_break_status_without_an_open_break_is_reported_not_crashed(apprenticeship, assessor):
    Apprenticeship.objects.filter(pk=apprenticeship.pk).update(status=Apprenticeship.Status.BREAK_IN_LEARNING)
    apprenticeship.refresh_from_db()
    with pytest.raises(ValidationError, match="no break to end"):
        services.end_break(apprenticeship=apprenticeship, by=assessor, ends_on=datetime.date(2025, 11, 3))


@pytest.mark.parametrize("persona", [*READERS_WHO_MAY_NOT, *STRANGERS])
def test_nobody_else_ends_a_break(apprenticeship, persona, request):
    on_break(apprenticeship)
    with pytest.raises(PermissionDenied):
        services.end_break(
            apprenticeship=apprenticeship, by=request.getfixturevalue(persona), ends_on=datetime.date(2025, 11, 12)
        )
    assert BreakInLearning.objects.get().ends_on is None


# --- The planned end date ----------------------------------------------------------------------


@pytest.mark.parametrize("persona", MANAGERS)
def test_the_provider_admin_or_assessor_moves_the_planned_end(apprenticeship, apprentice, persona, request):
    person = request.getfixturevalue(persona)
    services.change_planned_end_date(
        apprenticeship=apprenticeship, by=person, planned_end_date=datetime.date(2027, 12, 1), reason="Plan revised"
    )
    apprenticeship.refresh_from_db()
    assert apprenticeship.planned_end_date == datetime.date(2027, 12, 1)
    [changed] = audit_of("apprenticeship.planned_end_date_changed")
    assert changed.actor == person
    assert changed.payload == {"old": "2027-09-01", "new": "2027-12-01", "reason": "Plan revised"}
    assert "from 1 Sep 2027 to 1 Dec 2027: Plan revised" in Notice.objects.get(recipient=apprentice).message


@pytest.mark.parametrize("persona", [*READERS_WHO_MAY_NOT, *STRANGERS])
def test_nobody_else_moves_the_planned_end(apprenticeship, persona, request):
    with pytest.raises(PermissionDenied):
        services.change_planned_end_date(
            apprenticeship=apprenticeship,
            by=request.getfixturevalue(persona),
            planned_end_date=datetime.date(2027, 12, 1),
            reason="Plan revised",
        )
    apprenticeship.refresh_from_db()
    assert apprenticeship.planned_end_date == datetime.date(2027, 9, 1)


@pytest.mark.parametrize(
    ("new_end", "reason", "field", "message"),
    [
        (datetime.date(2025, 9, 1), "Plan revised", "planned_end_date", "must be after the start date"),
        (datetime.date(2025, 8, 1), "Plan revised", "planned_end_date", "must be after the start date"),
        (datetime.date(2027, 9, 1), "Plan revised", "planned_end_date", "already the planned end date"),
        (datetime.date(2027, 12, 1), "  ", "reason", "Say why the planned end date changes."),
    ],
)
def test_bad_planned_end_dates_are_refused(apprenticeship, assessor, new_end, reason, field, message):
    with pytest.raises(ValidationError) as refused:
        services.change_planned_end_date(
            apprenticeship=apprenticeship, by=assessor, planned_end_date=new_end, reason=reason
        )
    assert message in refused.value.message_dict[field][0]
    assert not audit_of("apprenticeship.planned_end_date_changed")


# --- Pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", MANAGERS)
def test_the_break_page_starts_then_ends_a_break(client, apprenticeship, persona, request):
    client.force_login(request.getfixturevalue(persona))
    url = f"/apprenticeships/{apprenticeship.pk}/break/"
    response = client.get(url)
    assert response.status_code == 200
    assert "Start the break" in response.content.decode()
    response = client.post(url, {"starts_on": "2025-11-03", "reason": "Illness"}, follow=True)
    assert response.redirect_chain[-1][0] == url
    body = response.content.decode()
    assert "Break in learning recorded" in body
    assert "End the break" in body
    assert "still on" in body
    response = client.post(url, {"ends_on": "2025-11-12", "new_planned_end_date": ""}, follow=True)
    assert "Break ended. The planned end date is now 11 September 2027." in response.content.decode()
    apprenticeship.refresh_from_db()
    assert apprenticeship.status == Apprenticeship.Status.ACTIVE


def test_break_errors_are_shown_in_the_form_with_what_was_typed(client, apprenticeship, assessor):
    client.force_login(assessor)
    url = f"/apprenticeships/{apprenticeship.pk}/break/"
    response = client.post(url, {"starts_on": "2025-08-01", "reason": "Long-term illness"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "the break cannot start before" in body
    assert 'value="Long-term illness"' in body
    response = client.post(url, {"starts_on": "not a date", "reason": ""})
    body = response.content.decode()
    assert "Enter a valid date." in body
    assert "Say why the apprentice is taking a break" in body
    assert not BreakInLearning.objects.exists()


def test_ending_errors_are_shown_in_the_form(client, apprenticeship, assessor):
    on_break(apprenticeship, starts_on=datetime.date(2025, 11, 3))
    client.force_login(assessor)
    response = client.post(f"/apprenticeships/{apprenticeship.pk}/break/", {"ends_on": "2025-10-01"})
    assert response.status_code == 200
    assert "it cannot end before then" in response.content.decode()
    assert BreakInLearning.objects.get().ends_on is None


def test_a_closed_apprenticeship_offers_no_break(client, apprenticeship, assessor):
    Apprenticeship.objects.filter(pk=apprenticeship.pk).update(status=Apprenticeship.Status.COMPLETED)
    client.force_login(assessor)
    url = f"/apprenticeships/{apprenticeship.pk}/break/"
    body = client.get(url).content.decode()
    assert "a break in learning starts only from active learning" in body
    assert client.post(url, {"starts_on": "2025-11-03", "reason": "Illness"}).status_code == 200
    assert not BreakInLearning.objects.exists()


@pytest.mark.parametrize("persona", MANAGERS)
def test_the_planned_end_date_page_changes_it(client, apprenticeship, persona, request):
    client.force_login(request.getfixturevalue(persona))
    url = f"/apprenticeships/{apprenticeship.pk}/planned-end-date/"
    assert 'value="2027-09-01"' in client.get(url).content.decode()
    response = client.post(url, {"planned_end_date": "2027-11-30", "reason": "Extra rotation"}, follow=True)
    assert response.redirect_chain[-1][0] == url
    assert "The planned end date is now 30 November 2027." in response.content.decode()
    apprenticeship.refresh_from_db()
    assert apprenticeship.planned_end_date == datetime.date(2027, 11, 30)


def test_planned_end_date_errors_are_shown_in_the_form(client, apprenticeship, assessor):
    client.force_login(assessor)
    url = f"/apprenticeships/{apprenticeship.pk}/planned-end-date/"
    response = client.post(url, {"planned_end_date": "2025-08-01", "reason": "Typo fixed"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "must be after the start date, 1 September 2025" in body
    assert 'value="Typo fixed"' in body
    response = client.post(url, {"planned_end_date": "", "reason": ""})
    assert "This field is required." in response.content.decode()
    apprenticeship.refresh_from_db()
    assert apprenticeship.planned_end_date == datetime.date(2027, 9, 1)


@pytest.mark.parametrize("persona", READERS_WHO_MAY_NOT)
def test_readers_who_may_not_change_the_programme_are_refused(client, apprenticeship, persona, request):
    client.force_login(request.getfixturevalue(persona))
    for url in (
        f"/apprenticeships/{apprenticeship.pk}/break/",
        f"/apprenticeships/{apprenticeship.pk}/planned-end-date/",
    ):
        assert client.get(url).status_code == 403, url
    assert (
        client.post(
            f"/apprenticeships/{apprenticeship.pk}/break/", {"starts_on": "2025-11-03", "reason": "x"}
        ).status_code
        == 403
    )
    assert not BreakInLearning.objects.exists()


@pytest.mark.parametrize("persona", STRANGERS)
def test_nobody_else_learns_the_pages_exist(client, apprenticeship, persona, request):
    client.force_login(request.getfixturevalue(persona))
    for url in (
        f"/apprenticeships/{apprenticeship.pk}/break/",
        f"/apprenticeships/{apprenticeship.pk}/planned-end-date/",
    ):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {}).status_code == 404, url


def test_signed_out_visitors_are_sent_to_sign_in(client, apprenticeship):
    for url in (
        f"/apprenticeships/{apprenticeship.pk}/break/",
        f"/apprenticeships/{apprenticeship.pk}/planned-end-date/",
    ):
        assert client.get(url)["Location"].startswith("/accounts/sign-in/"), url


def test_the_break_page_lists_every_break(client, apprenticeship, assessor, django_assert_max_num_queries):
    for month in range(1, 9):
        BreakInLearning.objects.create(
            apprenticeship=apprenticeship,
            starts_on=datetime.date(2026, month, 1),
            ends_on=datetime.date(2026, month, 5),
            reason=f"Break {month}",
            recorded_by=assessor,
        )
    client.force_login(assessor)
    with django_assert_max_num_queries(8):
        body = client.get(f"/apprenticeships/{apprenticeship.pk}/break/").content.decode()
    assert all(f"Break {month}" in body for month in range(1, 9))
