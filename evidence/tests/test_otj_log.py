"""The off-the-job log: logging, correcting, deleting, verifying and querying entries, and its pages."""

import datetime

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from evidence import services
from evidence.models import OTJActivity
from evidence.otj import otj_summary_of
from evidence.tests.factories import evidence, otj_activity
from portal.models import Apprenticeship, AuditEntry, BreakInLearning, Notice
from standards.tests.factories import standard_with_ksbs

READERS = ["apprentice", "assessor", "mentor", "provider_admin", "iqa"]
LOGGERS = ["apprentice", "mentor", "assessor"]
STRANGERS = ["other_apprentice", "other_assessor", "outsider"]
DAY = datetime.date(2025, 10, 6)


@pytest.fixture
def ksbs(st0220):
    return {ksb.code: ksb for ksb in st0220.ksbs.all()}


def entry(apprenticeship, by=None, **overrides):
    """Logs an entry through the service, as a person does."""
    values = {
        "date": DAY,
        "minutes": 90,
        "activity_type": OTJActivity.Type.TEACHING,
        "description": "Haematology theory session",
        **overrides,
    }
    return services.log_otj_activity(apprenticeship=apprenticeship, by=by or apprenticeship.apprentice, **values)


def changes(**overrides):
    return {
        "date": DAY,
        "minutes": 120,
        "activity_type": OTJActivity.Type.ONLINE,
        "description": "QC e-learning module",
        **overrides,
    }


def audit_of(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action))


def form_data(**overrides):
    return {
        "date": "2025-10-06",
        "hours": "1",
        "minutes": "30",
        "activity_type": "teaching",
        "description": "Haematology theory session",
        **overrides,
    }


# --- Logging -----------------------------------------------------------------------------------


def test_the_apprentice_logs_an_entry_that_waits_for_verification(apprenticeship, apprentice, ksbs):
    activity = entry(apprenticeship, ksbs=[ksbs["K1"], ksbs["S18"]], description="  QC theory  ")
    activity.refresh_from_db()
    assert activity.status == OTJActivity.Status.LOGGED
    assert activity.logged_by == apprentice
    assert activity.description == "QC theory"
    assert sorted(k.code for k in activity.ksbs.all()) == ["K1", "S18"]
    [logged] = audit_of("otj.logged")
    assert logged.actor == apprentice
    assert logged.apprenticeship == apprenticeship
    assert logged.payload["minutes"] == 90 and logged.payload["ksbs"] == ["K1", "S18"]
    assert not Notice.objects.filter(recipient=apprentice).exists()


@pytest.mark.parametrize("persona", ["mentor", "assessor"])
def test_an_entry_logged_on_the_apprentices_behalf_tells_the_apprentice(apprenticeship, apprentice, persona, request):
    person = request.getfixturevalue(persona)
    activity = entry(apprenticeship, by=person)
    assert activity.logged_by == person
    [notice] = Notice.objects.filter(recipient=apprentice)
    assert "logged 1 h 30 min of off-the-job training for you on 6 Oct 2025" in notice.message
    assert notice.url == f"/apprenticeships/{apprenticeship.pk}/otj/"


@pytest.mark.parametrize("persona", ["provider_admin", "iqa", "other_apprentice", "other_assessor", "outsider"])
def test_nobody_else_logs_hours(apprenticeship, persona, request):
    with pytest.raises(PermissionDenied):
        entry(apprenticeship, by=request.getfixturevalue(persona))
    assert not OTJActivity.objects.exists()
    assert not audit_of("otj.logged")


@pytest.mark.parametrize("status", [Apprenticeship.Status.WITHDRAWN, Apprenticeship.Status.COMPLETED])
def test_a_closed_apprenticeship_takes_no_hours(apprenticeship, status):
    apprenticeship.status = status
    apprenticeship.save()
    with pytest.raises(ValidationError, match="off-the-job log is closed"):
        entry(apprenticeship)


def test_hours_may_be_logged_during_a_break_for_days_before_it(apprenticeship):
    BreakInLearning.objects.create(
        apprenticeship=apprenticeship,
        starts_on=datetime.date(2025, 11, 1),
        reason="Illness",
        recorded_by=apprenticeship.assessor,
    )
    apprenticeship.status = Apprenticeship.Status.BREAK_IN_LEARNING
    apprenticeship.save()
    assert entry(apprenticeship, date=datetime.date(2025, 10, 31)).pk


def test_ksbs_of_another_standard_are_refused(apprenticeship):
    elsewhere = standard_with_ksbs(reference="ST0999")
    with pytest.raises(ValidationError) as refused:
        entry(apprenticeship, ksbs=[elsewhere.ksbs.get(kind="K", number=2)])
    assert refused.value.message_dict == {"ksbs": ["K2 is not part of this apprenticeship's standard."]}


def test_evidence_of_another_apprenticeship_is_refused(apprenticeship, other_apprenticeship):
    theirs = evidence(other_apprenticeship, submit=True)
    with pytest.raises(ValidationError) as refused:
        entry(apprenticeship, evidence=theirs)
    assert "evidence" in refused.value.message_dict


def test_a_mentor_cannot_link_a_draft_they_may_not_see(apprenticeship, mentor):
    draft = evidence(apprenticeship)
    with pytest.raises(ValidationError) as refused:
        entry(apprenticeship, by=mentor, evidence=draft)
    assert refused.value.message_dict["evidence"] == ["Choose an evidence item of this apprenticeship's portfolio."]


def test_the_apprentice_links_their_own_evidence(apprenticeship):
    item = evidence(apprenticeship)
    assert entry(apprenticeship, evidence=item).evidence == item


def test_a_future_date_is_refused(apprenticeship):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    with pytest.raises(ValidationError) as refused:
        entry(apprenticeship, date=tomorrow)
    assert refused.value.message_dict["date"] == ["The date is in the future: log an activity once it has happened."]


def test_a_date_before_the_start_is_refused(apprenticeship):
    with pytest.raises(ValidationError) as refused:
        entry(apprenticeship, date=datetime.date(2025, 8, 31))
    assert "started on 1 September 2025" in refused.value.message_dict["date"][0]


def test_today_and_the_start_date_are_accepted(apprenticeship):
    assert entry(apprenticeship, date=timezone.localdate()).pk
    assert entry(apprenticeship, date=apprenticeship.start_date).pk


@pytest.mark.parametrize(
    ("ends_on", "wording"), [(datetime.date(2025, 10, 10), "to 10 October 2025"), (None, "and still going on")]
)
def test_a_date_inside_a_break_is_refused(apprenticeship, assessor, ends_on, wording):
    BreakInLearning.objects.create(
        apprenticeship=apprenticeship,
        starts_on=datetime.date(2025, 10, 1),
        ends_on=ends_on,
        reason="Illness",
        recorded_by=assessor,
    )
    with pytest.raises(ValidationError) as refused:
        entry(apprenticeship, date=datetime.date(2025, 10, 6))
    [message] = refused.value.message_dict["date"]
    assert f"falls in a break in learning (from 1 October 2025 {wording})" in message
    if ends_on:
        assert entry(apprenticeship, date=datetime.date(2025, 10, 11)).pk


@pytest.mark.parametrize("minutes", [0, -5, 24 * 60 + 1])
def test_minutes_outside_a_day_are_refused(apprenticeship, minutes):
    with pytest.raises(ValidationError) as refused:
        entry(apprenticeship, minutes=minutes)
    assert "between 1 minute and 24 hours" in refused.value.message_dict["minutes"][0]


def test_a_whole_day_is_the_most_one_entry_takes(apprenticeship):
    assert entry(apprenticeship, minutes=24 * 60).hours == 24


def test_every_problem_is_reported_at_once(apprenticeship):
    with pytest.raises(ValidationError) as refused:
        entry(apprenticeship, description="  ", minutes=0, date=datetime.date(2020, 1, 1))
    assert set(refused.value.message_dict) == {"description", "minutes", "date"}


# --- Correcting and deleting -------------------------------------------------------------------


def test_whoever_logged_an_entry_corrects_it(apprenticeship, mentor, ksbs):
    activity = entry(apprenticeship, by=mentor)
    services.update_otj_activity(activity=activity, by=mentor, **changes(ksbs=[ksbs["K2"]]))
    activity.refresh_from_db()
    assert (activity.minutes, activity.activity_type, activity.description) == (120, "online", "QC e-learning module")
    assert [k.code for k in activity.ksbs.all()] == ["K2"]
    [updated] = audit_of("otj.updated")
    assert updated.payload["before"]["minutes"] == 90
    assert updated.payload["after"]["minutes"] == 120
    assert "answered_query" not in updated.payload


def test_the_apprentice_corrects_an_entry_logged_for_them(apprenticeship, mentor, apprentice):
    activity = entry(apprenticeship, by=mentor)
    services.update_otj_activity(activity=activity, by=apprentice, **changes())
    activity.refresh_from_db()
    assert activity.minutes == 120


@pytest.mark.parametrize("persona", ["mentor", "assessor", "provider_admin", "other_apprentice"])
def test_nobody_else_corrects_an_entry(apprenticeship, persona, request):
    activity = entry(apprenticeship)
    with pytest.raises(PermissionDenied):
        services.update_otj_activity(activity=activity, by=request.getfixturevalue(persona), **changes())
    activity.refresh_from_db()
    assert activity.minutes == 90


def test_a_verified_entry_no_longer_changes(apprenticeship, assessor, apprentice):
    activity = entry(apprenticeship)
    services.verify_otj_activity(activity=activity, by=assessor)
    with pytest.raises(ValidationError, match="verified, so it no longer changes"):
        services.update_otj_activity(activity=activity, by=apprentice, **changes())
    with pytest.raises(ValidationError, match="verified, so it stays in the log"):
        services.delete_otj_activity(activity=activity, by=apprentice)
    assert OTJActivity.objects.get().minutes == 90


def test_a_correction_is_checked_like_a_new_entry(apprenticeship, apprentice):
    activity = entry(apprenticeship)
    with pytest.raises(ValidationError) as refused:
        services.update_otj_activity(activity=activity, by=apprentice, **changes(minutes=0))
    assert "minutes" in refused.value.message_dict


def test_a_corrected_query_goes_back_to_the_assessor(apprenticeship, apprentice, assessor):
    activity = entry(apprenticeship)
    services.query_otj_activity(activity=activity, by=assessor, reason="The session was 1 hour on the register.")
    services.update_otj_activity(activity=activity, by=apprentice, **changes(minutes=60))
    activity.refresh_from_db()
    assert activity.status == OTJActivity.Status.LOGGED
    assert (activity.query_reason, activity.checked_by, activity.checked_at) == ("", None, None)
    [updated] = audit_of("otj.updated")
    assert updated.payload["answered_query"] == "The session was 1 hour on the register."
    [notice] = Notice.objects.filter(recipient=assessor)
    assert "you queried has been corrected" in notice.message


def test_the_logger_or_apprentice_deletes_an_entry_and_the_audit_keeps_it(apprenticeship, mentor, apprentice):
    mine, theirs = entry(apprenticeship, by=mentor), entry(apprenticeship, by=mentor, minutes=30)
    services.delete_otj_activity(activity=mine, by=mentor)
    services.delete_otj_activity(activity=theirs, by=apprentice)
    assert not OTJActivity.objects.exists()
    deleted = audit_of("otj.deleted")
    assert [(e.actor, e.payload["minutes"]) for e in deleted] == [(mentor, 90), (apprentice, 30)]
    assert deleted[0].payload["description"] == "Haematology theory session"


@pytest.mark.parametrize("persona", ["mentor", "assessor", "iqa", "outsider"])
def test_nobody_else_deletes_an_entry(apprenticeship, persona, request):
    activity = entry(apprenticeship)
    with pytest.raises(PermissionDenied):
        services.delete_otj_activity(activity=activity, by=request.getfixturevalue(persona))
    assert OTJActivity.objects.exists()


def test_entries_of_a_closed_apprenticeship_stay_as_they_are(apprenticeship, apprentice, assessor):
    activity = entry(apprenticeship)
    Apprenticeship.objects.filter(pk=apprenticeship.pk).update(status=Apprenticeship.Status.COMPLETED)
    for attempt in (
        lambda: services.update_otj_activity(activity=activity, by=apprentice, **changes()),
        lambda: services.delete_otj_activity(activity=activity, by=apprentice),
        lambda: services.verify_otj_activity(activity=activity, by=assessor),
        lambda: services.query_otj_activity(activity=activity, by=assessor, reason="Why?"),
    ):
        with pytest.raises(ValidationError, match="completed; its off-the-job log is closed"):
            attempt()
    assert OTJActivity.objects.get().status == OTJActivity.Status.LOGGED


# --- Verifying and querying --------------------------------------------------------------------


def test_the_assessor_verifies_an_entry(apprenticeship, assessor):
    activity = entry(apprenticeship)
    services.verify_otj_activity(activity=activity, by=assessor)
    activity.refresh_from_db()
    assert activity.status == OTJActivity.Status.VERIFIED
    assert activity.checked_by == assessor and activity.checked_at is not None
    [verified] = audit_of("otj.verified")
    assert verified.payload == {"activity": activity.pk, "date": "2025-10-06", "minutes": 90}
    assert otj_summary_of(apprenticeship).verified == 1.5


def test_a_verification_is_final(apprenticeship, assessor):
    activity = entry(apprenticeship)
    services.verify_otj_activity(activity=activity, by=assessor)
    with pytest.raises(ValidationError, match="already verified"):
        services.verify_otj_activity(activity=activity, by=assessor)
    with pytest.raises(ValidationError, match="already verified"):
        services.query_otj_activity(activity=activity, by=assessor, reason="Second thoughts")
    assert len(audit_of("otj.verified")) == 1


@pytest.mark.parametrize("persona", ["apprentice", "mentor", "provider_admin", "iqa", "other_assessor", "outsider"])
def test_only_the_assessor_verifies_or_queries(apprenticeship, persona, request):
    activity = entry(apprenticeship)
    person = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        services.verify_otj_activity(activity=activity, by=person)
    with pytest.raises(PermissionDenied):
        services.query_otj_activity(activity=activity, by=person, reason="Looks long")
    assert OTJActivity.objects.get().status == OTJActivity.Status.LOGGED


def test_a_query_tells_the_apprentice_why_and_stops_the_hours_counting(
    apprenticeship, apprentice, assessor, django_capture_on_commit_callbacks
):
    activity = entry(apprenticeship)
    with django_capture_on_commit_callbacks(execute=True):
        services.query_otj_activity(activity=activity, by=assessor, reason="  The register shows 1 hour.  ")
    activity.refresh_from_db()
    assert activity.status == OTJActivity.Status.QUERIED
    assert activity.query_reason == "The register shows 1 hour."
    assert audit_of("otj.queried")[0].payload["reason"] == "The register shows 1 hour."
    [notice] = Notice.objects.filter(recipient=apprentice)
    assert notice.message == "Your off-the-job entry of 6 Oct 2025 (1 h 30 min) was queried: The register shows 1 hour."
    [email] = mail.outbox
    assert email.to == [apprentice.email]
    assert "The register shows 1 hour." in email.body
    assert "6 Oct 2025" in email.subject
    summary = otj_summary_of(apprenticeship)
    assert (summary.logged, summary.queried) == (0, 1.5)


def test_a_long_reason_is_cut_short_in_the_notice_but_not_in_the_email(
    apprenticeship, assessor, django_capture_on_commit_callbacks
):
    reason = "The activity does not match the training plan. " * 20
    with django_capture_on_commit_callbacks(execute=True):
        services.query_otj_activity(activity=entry(apprenticeship), by=assessor, reason=reason)
    assert len(Notice.objects.get().message) <= 300
    assert reason.strip() in mail.outbox[0].body


def test_a_query_needs_a_reason(apprenticeship, assessor):
    activity = entry(apprenticeship)
    with pytest.raises(ValidationError) as refused:
        services.query_otj_activity(activity=activity, by=assessor, reason="   ")
    assert refused.value.message_dict == {"reason": ["Say what is wrong with the entry, so it can be corrected."]}
    assert OTJActivity.objects.get().status == OTJActivity.Status.LOGGED


def test_a_queried_entry_is_not_queried_twice_but_may_be_verified(apprenticeship, assessor):
    activity = entry(apprenticeship)
    services.query_otj_activity(activity=activity, by=assessor, reason="Check the date")
    with pytest.raises(ValidationError, match="already queried"):
        services.query_otj_activity(activity=activity, by=assessor, reason="Again")
    services.verify_otj_activity(activity=activity, by=assessor)
    activity.refresh_from_db()
    assert (activity.status, activity.query_reason) == (OTJActivity.Status.VERIFIED, "")
    assert audit_of("otj.verified")[0].payload["withdrawn_query"] == "Check the date"


# --- Pages: who sees what ----------------------------------------------------------------------


def test_an_apprentice_goes_to_the_log_of_their_apprenticeship(client, apprenticeship, apprentice):
    client.force_login(apprentice)
    response = client.get("/otj/")
    assert response.status_code == 302
    assert response["Location"] == f"/apprenticeships/{apprenticeship.pk}/otj/"


def test_an_apprentice_without_an_apprenticeship_is_told_so(client, apprentice):
    client.force_login(apprentice)
    assert "not enrolled on an apprenticeship" in client.get("/otj/").content.decode()


@pytest.mark.parametrize("persona", ["assessor", "mentor", "provider_admin", "iqa", "outsider"])
def test_my_log_is_for_apprentices(client, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/otj/").status_code == 403


def test_the_navigation_links_apprentices_to_their_log(client, apprenticeship, apprentice, assessor):
    client.force_login(apprentice)
    assert 'href="/otj/">Off-the-job hours</a>' in client.get("/evidence/").content.decode()
    client.force_login(assessor)
    assert 'href="/otj/"' not in client.get("/evidence/").content.decode()


@pytest.mark.parametrize("persona", READERS)
def test_people_of_the_apprenticeship_read_the_log(client, apprenticeship, persona, request):
    otj_activity(apprenticeship, description="Shadowed the blood bank team")
    client.force_login(request.getfixturevalue(persona))
    response = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/")
    assert response.status_code == 200
    assert "Shadowed the blood bank team" in response.content.decode()


@pytest.mark.parametrize("persona", STRANGERS)
def test_nobody_else_learns_the_log_exists(client, apprenticeship, other_apprenticeship, persona, request):
    activity = otj_activity(apprenticeship)
    client.force_login(request.getfixturevalue(persona))
    for url in (
        f"/apprenticeships/{apprenticeship.pk}/otj/",
        f"/apprenticeships/{apprenticeship.pk}/otj/new/",
        f"/otj/{activity.pk}/edit/",
        f"/otj/{activity.pk}/delete/",
        f"/otj/{activity.pk}/query/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/otj/{activity.pk}/verify/").status_code == 404
    assert client.post(f"/otj/{activity.pk}/query/", {"reason": "x"}).status_code == 404
    assert client.post(f"/otj/{activity.pk}/delete/").status_code == 404
    assert OTJActivity.objects.get().status == OTJActivity.Status.LOGGED


def test_signed_out_visitors_are_sent_to_sign_in(client, apprenticeship):
    activity = otj_activity(apprenticeship)
    for url in ("/otj/", f"/apprenticeships/{apprenticeship.pk}/otj/", f"/otj/{activity.pk}/edit/"):
        assert client.get(url)["Location"].startswith("/accounts/sign-in/"), url


# --- Pages: the log ----------------------------------------------------------------------------


def test_the_log_shows_the_summary_against_the_standards_minimum(client, apprenticeship, apprentice):
    apprenticeship.standard.minimum_otj_hours = 400
    apprenticeship.standard.save()
    otj_activity(apprenticeship, hours=10, status=OTJActivity.Status.VERIFIED)
    otj_activity(apprenticeship, hours=5)
    client.force_login(apprentice)
    response = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/")
    body = response.content.decode()
    summary = response.context["otj"]
    assert (summary.logged, summary.verified, summary.required) == (15, 10, 400)
    assert "400 h" in body and "15 h" in body and "10 h" in body
    assert f"{summary.expected:.0f} h" in body
    assert "Rule:</strong> The minimum published for the standard (starts from 1 August 2025)." in body
    assert "the standard&#x27;s published minimum of 400 hours" in body
    assert "pct-2" in body  # 10 of 400 verified


def test_the_log_flags_an_apprentice_who_is_behind(client, apprenticeship, apprentice):
    apprenticeship.standard.minimum_otj_hours = 400
    apprenticeship.standard.save()
    client.force_login(apprentice)
    response = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/")
    summary = response.context["otj"]
    assert summary.behind
    assert f"Behind by {summary.shortfall:.0f} hours" in response.content.decode()


def test_an_apprentice_on_track_is_not_flagged(client, apprenticeship, apprentice):
    apprenticeship.standard.minimum_otj_hours = 400
    apprenticeship.standard.save()
    otj_activity(apprenticeship, hours=int(otj_summary_of(apprenticeship).expected) + 1)
    client.force_login(apprentice)
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/").content.decode()
    assert "Behind by" not in body


def test_the_log_says_when_the_requirement_cannot_be_worked_out(client, apprenticeship, assessor):
    client.force_login(assessor)
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/").content.decode()
    assert "published minimum off-the-job hours have not been entered" in body
    assert "not known" in body


def test_entries_are_newest_first_with_who_logged_them_and_their_ksbs(client, apprenticeship, mentor, ksbs):
    older = otj_activity(apprenticeship, on=datetime.date(2025, 10, 1), description="Older")
    newer = otj_activity(apprenticeship, on=datetime.date(2025, 10, 20), description="Newer", by=mentor)
    newer.ksbs.set([ksbs["K3"], ksbs["B1"]])
    client.force_login(apprenticeship.apprentice)
    response = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/")
    assert list(response.context["page"]) == [newer, older]
    body = response.content.decode()
    assert body.index("Newer") < body.index("Older")
    assert str(mentor) in body
    assert ">K3<" in body and ">B1<" in body


def test_linked_evidence_is_a_link_for_those_who_may_see_it(client, apprenticeship, assessor):
    submitted = evidence(apprenticeship, title="Blood film reading", submit=True)
    draft = evidence(apprenticeship, title="Secret draft")
    otj_activity(apprenticeship, evidence=submitted, on=datetime.date(2025, 10, 2))
    otj_activity(apprenticeship, evidence=draft, on=datetime.date(2025, 10, 1))
    client.force_login(assessor)
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/").content.decode()
    assert f'<a href="/evidence/{submitted.pk}/">Blood film reading</a>' in body
    assert "Secret draft" not in body
    assert "not shared yet" in body


def test_the_assessor_sees_verify_and_query_for_entries_awaiting_verification(client, apprenticeship, assessor):
    waiting = otj_activity(apprenticeship, on=datetime.date(2025, 10, 3))
    done = otj_activity(
        apprenticeship, on=datetime.date(2025, 10, 2), status=OTJActivity.Status.VERIFIED, checked_by=assessor
    )
    client.force_login(assessor)
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/").content.decode()
    assert f'action="/otj/{waiting.pk}/verify/"' in body
    assert f'action="/otj/{waiting.pk}/query/"' in body
    assert f"/otj/{done.pk}/verify/" not in body


@pytest.mark.parametrize("persona", ["apprentice", "mentor", "provider_admin", "iqa"])
def test_others_get_no_verify_buttons(client, apprenticeship, persona, request):
    waiting = otj_activity(apprenticeship)
    client.force_login(request.getfixturevalue(persona))
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/").content.decode()
    assert f"/otj/{waiting.pk}/verify/" not in body


def test_edit_and_delete_are_offered_to_whoever_may_change_an_entry(client, apprenticeship, apprentice, mentor):
    own = otj_activity(apprenticeship, on=datetime.date(2025, 10, 3), by=mentor)
    apprentices = otj_activity(apprenticeship, on=datetime.date(2025, 10, 2))
    verified = otj_activity(
        apprenticeship, on=datetime.date(2025, 10, 1), by=mentor, status=OTJActivity.Status.VERIFIED
    )
    client.force_login(mentor)
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/").content.decode()
    assert f"/otj/{own.pk}/edit/" in body
    assert f"/otj/{apprentices.pk}/edit/" not in body
    assert f"/otj/{verified.pk}/edit/" not in body
    client.force_login(apprentice)
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/").content.decode()
    assert f"/otj/{own.pk}/edit/" in body and f"/otj/{apprentices.pk}/delete/" in body


@pytest.mark.parametrize("persona", ["provider_admin", "iqa"])
def test_only_those_who_may_log_are_offered_to(client, apprenticeship, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert (
        f"/apprenticeships/{apprenticeship.pk}/otj/new/"
        not in client.get(f"/apprenticeships/{apprenticeship.pk}/otj/").content.decode()
    )


def test_a_queried_entry_shows_the_reason(client, apprenticeship, apprentice, assessor):
    otj_activity(apprenticeship, status=OTJActivity.Status.QUERIED, query_reason="Which session was this?")
    client.force_login(apprentice)
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/").content.decode()
    assert "Which session was this?" in body
    assert ">Correct</a>" in body


def test_the_log_filters_by_status(client, apprenticeship, assessor):
    otj_activity(apprenticeship, description="Waiting one")
    otj_activity(apprenticeship, description="Checked one", status=OTJActivity.Status.VERIFIED)
    client.force_login(assessor)
    response = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/", {"status": "verified"})
    assert [e.description for e in response.context["page"]] == ["Checked one"]
    assert "Waiting one" not in response.content.decode()
    response = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/", {"status": "nonsense"})
    assert response.status_code == 200
    assert len(response.context["page"]) == 2
    assert "Select a valid choice" in response.content.decode()


def test_the_log_shows_fifty_entries_a_page(client, apprenticeship, apprentice):
    OTJActivity.objects.bulk_create(
        OTJActivity(
            apprenticeship=apprenticeship,
            date=datetime.date(2025, 9, 1) + datetime.timedelta(days=n),
            minutes=60,
            activity_type="teaching",
            description=f"Session {n}",
            logged_by=apprentice,
        )
        for n in range(60)
    )
    client.force_login(apprentice)
    first = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/")
    assert len(first.context["page"]) == 50
    assert "Session 59" in first.content.decode()
    assert "?page=2" in first.content.decode()
    second = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/", {"page": 2})
    assert [e.description for e in second.context["page"]] == [f"Session {n}" for n in range(9, -1, -1)]
    assert client.get(f"/apprenticeships/{apprenticeship.pk}/otj/", {"page": "x"}).status_code == 200


@pytest.fixture
def long_log(apprenticeship, mentor, ksbs):
    """300 entries in every status, by each logger, with KSBs and evidence."""
    item = evidence(apprenticeship, submit=True)
    loggers = [apprenticeship.apprentice, mentor, apprenticeship.assessor]
    statuses = list(OTJActivity.Status)
    entries = OTJActivity.objects.bulk_create(
        OTJActivity(
            apprenticeship=apprenticeship,
            date=datetime.date(2025, 9, 1) + datetime.timedelta(days=n % 400),
            minutes=30 + n % 90,
            activity_type=OTJActivity.Type.values[n % len(OTJActivity.Type.values)],
            description=f"Activity {n}",
            logged_by=loggers[n % 3],
            status=statuses[n % 3],
            query_reason="Check it" if statuses[n % 3] == OTJActivity.Status.QUERIED else "",
            checked_by=apprenticeship.assessor if n % 3 else None,
            checked_at=timezone.now() if n % 3 else None,
            evidence=item if n % 4 == 0 else None,
        )
        for n in range(300)
    )
    codes = list(ksbs.values())
    OTJActivity.ksbs.through.objects.bulk_create(
        OTJActivity.ksbs.through(otjactivity_id=e.pk, ksb_id=codes[(n + k) % len(codes)].pk)
        for n, e in enumerate(entries)
        for k in range(3)
    )
    return apprenticeship


@pytest.mark.parametrize("persona", ["apprentice", "assessor", "mentor", "provider_admin"])
def test_log_queries_do_not_grow_with_entries(client, long_log, persona, request, django_assert_max_num_queries):
    client.force_login(request.getfixturevalue(persona))
    with django_assert_max_num_queries(11):
        response = client.get(f"/apprenticeships/{long_log.pk}/otj/")
    assert response.status_code == 200
    assert len(response.context["page"]) == 50
    with django_assert_max_num_queries(11):
        response = client.get(f"/apprenticeships/{long_log.pk}/otj/", {"status": "queried", "page": 2})
    assert len(response.context["page"]) == 50


# --- Pages: logging and changing ---------------------------------------------------------------


@pytest.mark.parametrize("persona", LOGGERS)
def test_the_apprentice_mentor_and_assessor_log_from_the_page(client, apprenticeship, ksbs, persona, request):
    person = request.getfixturevalue(persona)
    client.force_login(person)
    assert client.get(f"/apprenticeships/{apprenticeship.pk}/otj/new/").status_code == 200
    response = client.post(
        f"/apprenticeships/{apprenticeship.pk}/otj/new/", form_data(ksbs=[ksbs["K1"].pk, ksbs["S2"].pk])
    )
    assert response.status_code == 302
    assert response["Location"] == f"/apprenticeships/{apprenticeship.pk}/otj/"
    activity = OTJActivity.objects.get()
    assert (activity.minutes, activity.logged_by) == (90, person)
    assert sorted(k.code for k in activity.ksbs.all()) == ["K1", "S2"]


@pytest.mark.parametrize("persona", ["provider_admin", "iqa"])
def test_readers_who_may_not_log_are_refused(client, apprenticeship, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(f"/apprenticeships/{apprenticeship.pk}/otj/new/").status_code == 403
    assert client.post(f"/apprenticeships/{apprenticeship.pk}/otj/new/", form_data()).status_code == 403
    assert not OTJActivity.objects.exists()


def test_the_form_groups_ksbs_by_kind_and_offers_readable_evidence(client, apprenticeship, mentor):
    evidence(apprenticeship, title="Submitted piece", submit=True)
    evidence(apprenticeship, title="Unsubmitted piece")
    client.force_login(mentor)
    response = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/new/")
    body = response.content.decode()
    assert [label for label, _ in response.context["form"].ksb_groups()] == ["Knowledge", "Skill", "Behaviour"]
    assert "Submitted piece" in body
    assert "Unsubmitted piece" not in body


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hours": "0", "minutes": "0"}, "Enter how long the activity took, in hours and minutes."),
        ({"hours": "", "minutes": ""}, "Enter how long the activity took, in hours and minutes."),
        ({"hours": "24", "minutes": "30"}, "An activity takes at most 24 hours"),
        ({"hours": "two"}, "Enter the hours as a whole number, e.g. 2."),
        ({"minutes": "75"}, "Ensure this value is less than or equal to 59."),
        ({"date": "31/02/2025"}, "Enter a valid date."),
        ({"date": "2025-08-01"}, "started on 1 September 2025"),
        ({"description": ""}, "Say what the activity was and what it taught you."),
    ],
)
def test_bad_input_is_explained_and_nothing_typed_is_lost(client, apprenticeship, apprentice, changes, message):
    client.force_login(apprentice)
    data = form_data(description="Two hours on the blood bank SOPs") | changes
    response = client.post(f"/apprenticeships/{apprenticeship.pk}/otj/new/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body
    if data["description"]:
        assert "Two hours on the blood bank SOPs" in body
    assert not OTJActivity.objects.exists()


def test_a_ksb_of_another_standard_is_an_invalid_choice(client, apprenticeship, apprentice):
    foreign = standard_with_ksbs(reference="ST0998").ksbs.first()
    client.force_login(apprentice)
    response = client.post(f"/apprenticeships/{apprenticeship.pk}/otj/new/", form_data(ksbs=[foreign.pk]))
    assert response.status_code == 200
    assert "Choose KSBs of this apprenticeship&#x27;s standard only." in response.content.decode()
    assert not OTJActivity.objects.exists()


def test_evidence_of_another_apprenticeship_is_an_invalid_choice(
    client, apprenticeship, other_apprenticeship, apprentice
):
    theirs = evidence(other_apprenticeship, submit=True)
    client.force_login(apprentice)
    response = client.post(f"/apprenticeships/{apprenticeship.pk}/otj/new/", form_data(evidence=theirs.pk))
    assert "Choose an evidence item of this apprenticeship&#x27;s portfolio." in response.content.decode()
    assert not OTJActivity.objects.exists()


def test_a_date_inside_a_break_is_explained_at_the_date(client, apprenticeship, apprentice, assessor):
    BreakInLearning.objects.create(
        apprenticeship=apprenticeship,
        starts_on=datetime.date(2025, 10, 1),
        ends_on=datetime.date(2025, 10, 31),
        reason="Illness",
        recorded_by=assessor,
    )
    client.force_login(apprentice)
    response = client.post(f"/apprenticeships/{apprenticeship.pk}/otj/new/", form_data())
    assert response.status_code == 200
    assert "falls in a break in learning" in str(response.context["form"].errors["date"])


def test_a_closed_apprenticeship_offers_no_form(client, apprenticeship, apprentice):
    apprenticeship.status = Apprenticeship.Status.WITHDRAWN
    apprenticeship.save()
    client.force_login(apprentice)
    response = client.get(f"/apprenticeships/{apprenticeship.pk}/otj/new/", follow=True)
    assert response.redirect_chain[-1][0] == f"/apprenticeships/{apprenticeship.pk}/otj/"
    assert "withdrawn; its off-the-job log is closed" in response.content.decode()
    assert "Log an activity" not in response.content.decode()


def test_the_edit_page_shows_the_entry_as_saved_and_saves_changes(client, apprenticeship, apprentice, ksbs):
    activity = otj_activity(apprenticeship, hours=2.25, description="Reading the SOP")
    activity.ksbs.set([ksbs["K4"]])
    client.force_login(apprentice)
    response = client.get(f"/otj/{activity.pk}/edit/")
    form = response.context["form"]
    assert (form["hours"].value(), form["minutes"].value()) == (2, 15)
    assert f'value="{ksbs["K4"].pk}" id="ksb-{ksbs["K4"].pk}" checked' in response.content.decode()
    response = client.post(f"/otj/{activity.pk}/edit/", form_data(hours="3", minutes="0", description="Re-read"))
    assert response.status_code == 302
    activity.refresh_from_db()
    assert (activity.minutes, activity.description) == (180, "Re-read")
    assert not activity.ksbs.exists()


def test_correcting_a_queried_entry_from_the_page(client, apprenticeship, apprentice, assessor):
    activity = otj_activity(apprenticeship, status=OTJActivity.Status.QUERIED, query_reason="Only 1 hour?")
    client.force_login(apprentice)
    assert "Only 1 hour?" in client.get(f"/otj/{activity.pk}/edit/").content.decode()
    client.post(f"/otj/{activity.pk}/edit/", form_data(hours="1", minutes="0"))
    activity.refresh_from_db()
    assert activity.status == OTJActivity.Status.LOGGED


def test_a_verified_entry_cannot_be_edited_from_the_page(client, apprenticeship, apprentice):
    activity = otj_activity(apprenticeship, status=OTJActivity.Status.VERIFIED)
    client.force_login(apprentice)
    response = client.get(f"/otj/{activity.pk}/edit/", follow=True)
    assert "verified, so it no longer changes" in response.content.decode()
    client.post(f"/otj/{activity.pk}/edit/", form_data(hours="9"))
    activity.refresh_from_db()
    assert activity.minutes == 180


@pytest.mark.parametrize("persona", ["mentor", "assessor", "provider_admin", "iqa"])
def test_readers_who_did_not_log_an_entry_may_not_change_it(client, apprenticeship, persona, request):
    activity = otj_activity(apprenticeship)
    client.force_login(request.getfixturevalue(persona))
    assert client.get(f"/otj/{activity.pk}/edit/").status_code == 403
    assert client.post(f"/otj/{activity.pk}/edit/", form_data(hours="9")).status_code == 403
    assert client.get(f"/otj/{activity.pk}/delete/").status_code == 403
    assert client.post(f"/otj/{activity.pk}/delete/").status_code == 403
    assert OTJActivity.objects.get().minutes == 180


def test_delete_asks_first_then_deletes(client, apprenticeship, apprentice):
    activity = otj_activity(apprenticeship, description="Logged twice by mistake")
    client.force_login(apprentice)
    response = client.get(f"/otj/{activity.pk}/delete/")
    assert response.status_code == 200
    assert "Logged twice by mistake" in response.content.decode()
    assert OTJActivity.objects.exists()
    response = client.post(f"/otj/{activity.pk}/delete/", follow=True)
    assert response.redirect_chain[-1][0] == f"/apprenticeships/{apprenticeship.pk}/otj/"
    assert "Deleted the entry of 6 Oct 2025" in response.content.decode()
    assert not OTJActivity.objects.exists()


def test_a_verified_entry_is_not_deleted_from_the_page(client, apprenticeship, apprentice):
    activity = otj_activity(apprenticeship, status=OTJActivity.Status.VERIFIED)
    client.force_login(apprentice)
    response = client.post(f"/otj/{activity.pk}/delete/", follow=True)
    assert "verified, so it stays in the log" in response.content.decode()
    assert OTJActivity.objects.exists()


# --- Pages: verifying and querying -------------------------------------------------------------


def test_the_assessor_verifies_from_the_log(client, apprenticeship, assessor):
    activity = otj_activity(apprenticeship)
    client.force_login(assessor)
    assert client.get(f"/otj/{activity.pk}/verify/").status_code == 405
    response = client.post(f"/otj/{activity.pk}/verify/", follow=True)
    assert response.redirect_chain[-1][0] == f"/apprenticeships/{apprenticeship.pk}/otj/"
    assert "Verified 3 h on 6 Oct 2025." in response.content.decode()
    activity.refresh_from_db()
    assert activity.status == OTJActivity.Status.VERIFIED


def test_verifying_twice_is_explained(client, apprenticeship, assessor):
    activity = otj_activity(apprenticeship, status=OTJActivity.Status.VERIFIED)
    client.force_login(assessor)
    response = client.post(f"/otj/{activity.pk}/verify/", follow=True)
    assert "already verified; a verification is final" in response.content.decode()


@pytest.mark.parametrize("persona", ["apprentice", "mentor", "provider_admin", "iqa"])
def test_readers_may_not_verify_or_query(client, apprenticeship, persona, request):
    activity = otj_activity(apprenticeship)
    client.force_login(request.getfixturevalue(persona))
    assert client.post(f"/otj/{activity.pk}/verify/").status_code == 403
    assert client.get(f"/otj/{activity.pk}/query/").status_code == 403
    assert client.post(f"/otj/{activity.pk}/query/", {"reason": "Why?"}).status_code == 403
    assert OTJActivity.objects.get().status == OTJActivity.Status.LOGGED


def test_the_assessor_queries_with_a_reason(client, apprenticeship, assessor):
    activity = otj_activity(apprenticeship)
    client.force_login(assessor)
    assert client.get(f"/otj/{activity.pk}/query/").status_code == 200
    response = client.post(f"/otj/{activity.pk}/query/", {"reason": "The rota says you were on the ward."})
    assert response["Location"] == f"/apprenticeships/{apprenticeship.pk}/otj/"
    activity.refresh_from_db()
    assert (activity.status, activity.query_reason) == ("queried", "The rota says you were on the ward.")


def test_a_query_without_a_reason_shows_the_page_again(client, apprenticeship, assessor):
    activity = otj_activity(apprenticeship, description="Lab induction")
    client.force_login(assessor)
    response = client.post(f"/otj/{activity.pk}/query/", {"reason": "  "})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Say what is wrong with the entry, so it can be corrected." in body
    assert "Lab induction" in body
    assert OTJActivity.objects.get().status == OTJActivity.Status.LOGGED


def test_querying_a_verified_entry_is_explained(client, apprenticeship, assessor):
    activity = otj_activity(apprenticeship, status=OTJActivity.Status.VERIFIED)
    client.force_login(assessor)
    response = client.post(f"/otj/{activity.pk}/query/", {"reason": "Second thoughts"}, follow=True)
    assert "already verified" in response.content.decode()
    assert OTJActivity.objects.get().status == OTJActivity.Status.VERIFIED


# --- The partials ------------------------------------------------------------------------------


def test_the_cell_partial_shows_logged_of_required_and_behind(apprenticeship):
    from django.template.loader import render_to_string

    apprenticeship.standard.minimum_otj_hours = 559
    apprenticeship.standard.save()
    otj_activity(apprenticeship, hours=120)
    html = render_to_string("evidence/_partials/otj_cell.html", {"otj": otj_summary_of(apprenticeship)})
    assert "120 / 559 h" in html
    assert ">behind<" in html
    apprenticeship.standard.minimum_otj_hours = None
    apprenticeship.standard.save()
    apprenticeship.standard.refresh_from_db()
    html = render_to_string("evidence/_partials/otj_cell.html", {"otj": otj_summary_of(apprenticeship)})
    assert "120 / ? h" in html
    assert ">behind<" not in html
