"""Bad input on the portal's own forms: signing in, password reset, breaks in learning, the planned
end date and notices. Never a 5xx, nothing saved changes, and a refusal says what to do.
See portal/tests/fuzz.py for the properties and how examples are isolated."""

from __future__ import annotations

import datetime
from urllib.parse import quote

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from hypothesis import example, given
from hypothesis import strategies as st

from conftest import PASSWORD
from portal.models import Apprenticeship, Notice
from portal.tests import fuzz
from portal.tests.fuzz import report_examples  # noqa: F401 (the fixture that prints the count)

pytestmark = pytest.mark.usefixtures("report_examples")


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def emails() -> st.SearchStrategy[str]:
    """Addresses of accounts, near misses, and anything else typed into the box."""
    return st.one_of(
        st.sampled_from(
            [
                "apprentice@example.org",
                "APPRENTICE@example.org",
                " apprentice@example.org ",
                "nobody@example.org",
                "apprentice@example.org\x00",
                "apprentice@exam\u0440le.org",
            ]
        ),
        st.emails().map(str),
        fuzz.hostile_text(300),
    )


# --- Signing in -------------------------------------------------------------------------------------


@fuzz.fuzz_settings()
@example(username="apprentice@example.org", password=PASSWORD + "\x00")
@example(username="apprentice@example.org\x00", password=PASSWORD)
@given(username=emails(), password=st.one_of(st.just(PASSWORD), fuzz.hostile_text(200)))
def test_signing_in_takes_any_input_and_only_the_password_opens_the_account(apprentice, username, password):
    with fuzz.isolated():
        client = fuzz.client_for()
        before = fuzz.snapshot()
        response = client.post("/accounts/sign-in/", {"username": username, "password": password})
        fuzz.assert_no_server_error(response, (username, password))
        fuzz.assert_unchanged(before, what=(username, password))
        right = username.strip().lower() == "apprentice@example.org" and password == PASSWORD
        if _signed_in(client):
            assert right, (username, password)
        else:
            assert not right or response.status_code == 429, (username, password)
            if response.status_code == 429:
                assert b"Try again" in response.content
            else:
                fuzz.assert_explained(response, (username, password))


@fuzz.fuzz_settings(0.5)
@given(password=fuzz.hostile_text(100).filter(lambda p: p != PASSWORD))
def test_an_unknown_account_and_a_wrong_password_get_the_same_answer(apprentice, password):
    with fuzz.isolated():
        answers = []
        for username in ("apprentice@example.org", "nobody@example.org"):
            response = fuzz.client_for().post("/accounts/sign-in/", {"username": username, "password": password})
            fuzz.assert_no_server_error(response, password)
            answers.append((response.status_code, sorted(fuzz.explanations(response))))
        assert answers[0] == answers[1]


# --- Password reset ---------------------------------------------------------------------------------


@fuzz.fuzz_settings()
@given(email=emails())
def test_password_reset_takes_any_address_and_tells_nobody_who_has_an_account(apprentice, email):
    with fuzz.isolated():
        mail.outbox = []
        client = fuzz.client_for()
        before = fuzz.snapshot()
        response = client.post("/accounts/password-reset/", {"email": email})
        fuzz.assert_no_server_error(response, email)
        fuzz.assert_unchanged(before, what=email)
        if response.status_code == 302:
            # The same page whether or not the address has an account; mail only to the account's owner.
            assert response.url == "/accounts/password-reset/sent/"
            assert all(message.to == ["apprentice@example.org"] for message in mail.outbox)
        else:
            assert not mail.outbox
            fuzz.assert_explained(response, email)


@fuzz.fuzz_settings()
@example(uid="\x00", token="x", good_link=False, password=PASSWORD)
@given(
    uid=fuzz.hostile_text(40),
    token=fuzz.hostile_text(60),
    good_link=st.booleans(),
    password=st.one_of(fuzz.hostile_text(80), fuzz.sensible_text(40)),
)
def test_password_reset_links_take_any_uid_token_and_new_password(apprentice, uid, token, good_link, password):
    with fuzz.isolated():
        client = fuzz.client_for()
        if good_link:
            uid = urlsafe_base64_encode(force_bytes(apprentice.pk))
            token = default_token_generator.make_token(apprentice)
        path = f"/accounts/password-reset/{quote(uid, safe='') or 'x'}/{quote(token, safe='') or 'x'}/"
        before = fuzz.snapshot()
        response = client.get(path, follow=True)
        fuzz.assert_no_server_error(response, path)
        form_path = response.redirect_chain[-1][0] if response.redirect_chain else path
        response = client.post(form_path, {"new_password1": password, "new_password2": password})
        fuzz.assert_no_server_error(response, (path, password))
        after = fuzz.snapshot()
        if response.status_code == 302 and response.url == "/accounts/password-reset/complete/":
            assert good_link
            fuzz.assert_kept(before, after, may_change=[("portal.User", apprentice.pk)], what=password)
            assert len(password) >= 12
        else:
            fuzz.assert_unchanged(before, after, what=(path, password))
            if good_link:
                fuzz.assert_explained(response, password)


# --- Breaks in learning and the planned end date ----------------------------------------------------

PROGRAMME_ACTIONS = ["start_break", "end_break", "planned_end_date"]


@fuzz.fuzz_settings()
@example(
    steps=[
        ("planned_end_date", "provider_admin", "9999-12-31", "Revised plan"),
        ("start_break", "provider_admin", "today", "Illness"),
        ("end_break", "provider_admin", "today", ""),
    ]
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(PROGRAMME_ACTIONS),
            st.sampled_from(["provider_admin", "assessor", "apprentice", "mentor", "outsider"]),
            st.one_of(st.sampled_from(["today", "yesterday", "9999-12-31", "0001-01-01"]), fuzz.date_like()),
            fuzz.hostile_text(400),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_breaks_and_end_dates_take_any_dates_in_any_order(request, apprenticeship, steps):
    people = {n: request.getfixturevalue(n) for n in ("provider_admin", "assessor", "apprentice", "mentor", "outsider")}
    today = timezone.localdate()
    named = {"today": today.isoformat(), "yesterday": (today - datetime.timedelta(days=1)).isoformat()}
    with fuzz.isolated():
        for action, who, day, text in steps:
            day = named.get(day, day)
            client = fuzz.client_for(people[who])
            before = fuzz.snapshot()
            status = Apprenticeship.objects.get(pk=apprenticeship.pk).status
            if action == "planned_end_date":
                response = client.post(
                    f"/apprenticeships/{apprenticeship.pk}/planned-end-date/", {"planned_end_date": day, "reason": text}
                )
            elif action == "start_break":
                response = client.post(
                    f"/apprenticeships/{apprenticeship.pk}/break/", {"starts_on": day, "reason": text}
                )
            else:
                response = client.post(
                    f"/apprenticeships/{apprenticeship.pk}/break/", {"ends_on": day, "new_planned_end_date": text[:12]}
                )
            step = (action, who, day, text[:40], status)
            fuzz.assert_no_server_error(response, step)
            after = fuzz.snapshot()
            if any(fuzz.differences(before, after).values()):
                assert who in ("provider_admin", "assessor"), step
                fuzz.assert_kept(
                    before, after, may_change=["portal.Apprenticeship", "portal.BreakInLearning"], what=step
                )
                changed = Apprenticeship.objects.get(pk=apprenticeship.pk)
                assert changed.planned_end_date > changed.start_date
            else:
                fuzz.assert_explained(response, step)
        # The pages that count days from these dates still open, whatever the dates became.
        staff = fuzz.client_for(people["provider_admin"])
        for path in (
            f"/apprenticeships/{apprenticeship.pk}/",
            f"/apprenticeships/{apprenticeship.pk}/otj/",
            f"/apprenticeships/{apprenticeship.pk}/gateway/",
            "/provider/",
        ):
            fuzz.assert_no_server_error(staff.get(path), (path, steps))


# --- Notices ------------------------------------------------------------------------------------------


@fuzz.fuzz_settings(0.5)
@given(pk=fuzz.id_like(), who=st.sampled_from(["apprentice", "other_apprentice", "assessor"]))
def test_dismissing_a_notice_by_any_id_touches_only_ones_own(request, apprentice, pk, who):
    user = request.getfixturevalue(who)
    notice = Notice.objects.create(recipient=apprentice, message="Your evidence was accepted.")
    with fuzz.isolated():
        client = fuzz.client_for(user)
        before = fuzz.snapshot()
        target = pk if pk.isdigit() and len(pk) < 19 else str(notice.pk)
        response = client.post(f"/notices/{target}/dismiss/")
        fuzz.assert_no_server_error(response, pk)
        response = client.post("/notices/dismiss/", {"pk": pk})
        fuzz.assert_no_server_error(response, pk)
        after = fuzz.snapshot()
        own = [key for key, row in before.items() if key[0] == "portal.Notice" and row["recipient_id"] == user.pk]
        fuzz.assert_kept(before, after, may_change=own, what=pk)
