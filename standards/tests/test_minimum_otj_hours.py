"""The minimum off-the-job hours published for a standard: entered by a provider admin on its page."""

import logging

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from standards.services import set_minimum_otj_hours

URL = "/standards/ST0220/1.0/otj-hours/"


def test_a_provider_admin_sets_the_minimum_and_it_is_logged(st0220, provider_admin, caplog):
    with caplog.at_level(logging.INFO, logger="standards.services"):
        set_minimum_otj_hours(standard=st0220, hours=278, by=provider_admin)
    st0220.refresh_from_db()
    assert st0220.minimum_otj_hours == 278
    assert f"Minimum off-the-job hours of ST0220 v1.0 changed from None to 278 by user {provider_admin.pk}" in (
        caplog.text
    )


def test_the_minimum_can_be_cleared(st0220, provider_admin):
    set_minimum_otj_hours(standard=st0220, hours=278, by=provider_admin)
    set_minimum_otj_hours(standard=st0220, hours=None, by=provider_admin)
    st0220.refresh_from_db()
    assert st0220.minimum_otj_hours is None


@pytest.mark.parametrize("persona", ["apprentice", "assessor", "mentor", "iqa"])
def test_nobody_else_sets_the_minimum(st0220, persona, request):
    with pytest.raises(PermissionDenied):
        set_minimum_otj_hours(standard=st0220, hours=278, by=request.getfixturevalue(persona))
    st0220.refresh_from_db()
    assert st0220.minimum_otj_hours is None


@pytest.mark.parametrize("hours", [0, -1, 2001])
def test_an_implausible_minimum_is_refused(st0220, provider_admin, hours):
    with pytest.raises(ValidationError) as refused:
        set_minimum_otj_hours(standard=st0220, hours=hours, by=provider_admin)
    assert "from 1 to 2000" in refused.value.message_dict["hours"][0]


def test_the_page_says_when_the_minimum_is_not_entered(client, st0220, apprentice):
    client.force_login(apprentice)
    body = client.get("/standards/ST0220/1.0/").content.decode()
    assert "not entered" in body
    assert "Applies to apprenticeships starting from 1 August 2025" in body
    assert URL not in body


def test_the_page_shows_the_minimum_to_everyone(client, st0220, mentor):
    st0220.minimum_otj_hours = 312
    st0220.save()
    client.force_login(mentor)
    assert "312 hours" in client.get("/standards/ST0220/1.0/").content.decode()


def test_a_provider_admin_is_offered_the_form_with_the_current_value(client, st0220, provider_admin):
    st0220.minimum_otj_hours = 312
    st0220.save()
    client.force_login(provider_admin)
    body = client.get("/standards/ST0220/1.0/").content.decode()
    assert f'action="{URL}"' in body
    assert 'value="312"' in body


@pytest.mark.parametrize("persona", ["provider_admin", "outsider"])
def test_a_provider_admin_sets_the_minimum_from_the_page(client, st0220, persona, request):
    """The catalogue is shared by every provider, so any provider admin keeps it up to date."""
    client.force_login(request.getfixturevalue(persona))
    response = client.post(URL, {"hours": "278"}, follow=True)
    assert response.redirect_chain[-1][0] == "/standards/ST0220/1.0/"
    body = response.content.decode()
    assert "Minimum off-the-job hours set to 278." in body
    assert "278 hours" in body
    st0220.refresh_from_db()
    assert st0220.minimum_otj_hours == 278


def test_an_empty_box_clears_the_minimum(client, st0220, provider_admin):
    st0220.minimum_otj_hours = 312
    st0220.save()
    client.force_login(provider_admin)
    response = client.post(URL, {"hours": ""}, follow=True)
    assert "Minimum off-the-job hours cleared." in response.content.decode()
    st0220.refresh_from_db()
    assert st0220.minimum_otj_hours is None


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("lots", "Enter a whole number of hours, e.g. 278."),
        ("2.5", "Enter a whole number of hours, e.g. 278."),
        ("0", "Enter at least 1 hour, or leave the box empty."),
        ("99999", "Enter at most 2000 hours"),
    ],
)
def test_bad_hours_are_explained_on_the_standards_page(client, st0220, provider_admin, typed, message):
    client.force_login(provider_admin)
    response = client.post(URL, {"hours": typed})
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body
    assert f'value="{typed}"' in body
    assert "Healthcare science associate" in body  # the whole page, not a bare form
    st0220.refresh_from_db()
    assert st0220.minimum_otj_hours is None


@pytest.mark.parametrize("persona", ["apprentice", "assessor", "mentor", "iqa"])
def test_others_may_not_post_the_minimum(client, st0220, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.post(URL, {"hours": "278"}).status_code == 403
    st0220.refresh_from_db()
    assert st0220.minimum_otj_hours is None


def test_the_minimum_is_posted_not_fetched(client, st0220, provider_admin):
    client.force_login(provider_admin)
    assert client.get(URL).status_code == 405


def test_signed_out_visitors_are_sent_to_sign_in(client, st0220):
    assert client.post(URL, {"hours": "278"})["Location"].startswith("/accounts/sign-in/")


def test_an_unknown_standard_is_404(client, st0220, provider_admin):
    client.force_login(provider_admin)
    assert client.post("/standards/ST9999/1.0/otj-hours/", {"hours": "278"}).status_code == 404
