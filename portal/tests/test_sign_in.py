"""Signing in, out and resetting a password, and where `/` sends each role."""

import pytest
from django.core import mail

from conftest import PASSWORD
from portal.tests.factories import UserFactory


def test_sign_in_page_renders(client, db):
    response = client.get("/accounts/sign-in/")
    assert response.status_code == 200
    assert "Email address" in response.content.decode()


def test_home_sends_anonymous_visitors_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/sign-in/?next=/"


def test_apprentice_signs_in_with_email_and_lands_on_their_home(client, apprenticeship, apprentice):
    response = client.post("/accounts/sign-in/", {"username": "APPRENTICE@example.org", "password": PASSWORD})
    assert response.status_code == 302
    response = client.get(response["Location"], follow=True)
    assert response.redirect_chain[-1][0] == "/portfolio/"
    body = response.content.decode()
    assert "My portfolio" in body
    assert "Healthcare science associate" in body


def test_wrong_password_gets_a_clear_message_and_keeps_the_email(client, apprentice):
    response = client.post("/accounts/sign-in/", {"username": "apprentice@example.org", "password": "wrong"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "do not match an account" in body
    assert 'value="apprentice@example.org"' in body


def test_repeated_failures_lock_the_account_for_that_address(client, apprentice, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/sign-in/", {"username": "apprentice@example.org", "password": "wrong"})
    response = client.post("/accounts/sign-in/", {"username": "apprentice@example.org", "password": PASSWORD})
    assert response.status_code == 429
    assert "Signing in is paused" in response.content.decode()


def test_an_apprentice_is_sent_to_their_portfolio(client, apprenticeship, apprentice):
    client.force_login(apprentice)
    response = client.get("/", follow=True)
    assert response.redirect_chain == [("/portfolio/", 302)]
    assert response.context["apprenticeship"] == apprenticeship


@pytest.mark.parametrize(
    ("persona", "heading"),
    [
        ("apprentice", "My apprenticeship"),
        ("assessor", "My caseload"),
        ("mentor", "Apprentices I mentor"),
        ("provider_admin", "Our apprentices"),
        ("iqa", "Apprentices to sample"),
    ],
)
def test_each_role_has_a_home_with_its_apprenticeships(client, apprenticeship, persona, heading, request):
    client.force_login(request.getfixturevalue(persona))
    response = client.get("/home/")
    assert heading in response.content.decode()
    assert list(response.context["apprenticeships"]) == [apprenticeship]


@pytest.mark.parametrize(
    ("persona", "home"),
    [("assessor", "/assessor/"), ("mentor", "/mentor/"), ("provider_admin", "/provider/"), ("iqa", "/iqa/")],
)
def test_other_roles_are_sent_to_their_home(client, apprenticeship, persona, home, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/")["Location"] == home


def test_home_lists_nothing_of_another_provider(client, apprenticeship, outsider):
    client.force_login(outsider)
    response = client.get("/home/")
    assert list(response.context["apprenticeships"]) == []
    assert apprenticeship.apprentice.get_full_name() not in response.content.decode()


def test_staff_without_a_role_go_to_the_admin(client, db):
    client.force_login(UserFactory(role="", organisation=None, is_staff=True))
    assert client.get("/")["Location"] == "/admin/"


def test_a_person_without_a_role_is_told_what_to_do(client, db):
    client.force_login(UserFactory(role="", organisation=None))
    response = client.get("/")
    assert response.status_code == 403
    assert "no role yet" in response.content.decode()
    assert client.get("/home/").status_code == 403


def test_home_list_queries_do_not_grow_with_apprenticeships(
    client, provider_admin, provider, employer, st0220, django_assert_max_num_queries
):
    from portal.tests.factories import ApprenticeshipFactory

    ApprenticeshipFactory.create_batch(40, apprentice__organisation=provider, provider=provider, standard=st0220)
    client.force_login(provider_admin)
    with django_assert_max_num_queries(6):
        response = client.get("/home/")
    assert len(response.context["apprenticeships"]) == 40


def test_sign_out_ends_the_session(client, apprentice):
    client.force_login(apprentice)
    response = client.post("/accounts/sign-out/")
    assert response["Location"] == "/accounts/sign-in/"
    assert client.get("/home/").status_code == 302


def test_password_reset_emails_a_working_link(client, apprentice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password-reset/", {"email": "apprentice@example.org"})
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["apprentice@example.org"]
    assert message.subject == "Reset your Apprenticeship Portal password"
    link = next(line for line in message.body.splitlines() if "/accounts/password-reset/" in line)
    path = link.split("testserver", 1)[1]
    response = client.get(path, follow=True)
    assert "Choose a new password" in response.content.decode()
    form_path = response.redirect_chain[-1][0]
    response = client.post(
        form_path, {"new_password1": "a-brand-new-passphrase", "new_password2": "a-brand-new-passphrase"}
    )
    assert response["Location"] == "/accounts/password-reset/complete/"
    apprentice.refresh_from_db()
    assert apprentice.check_password("a-brand-new-passphrase")


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(
    client, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password-reset/", {"email": "nobody@example.org"})
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []


def test_an_expired_reset_link_says_so(client, db):
    response = client.get("/accounts/password-reset/MQ/not-a-token/")
    assert "This link has expired" in response.content.decode()
