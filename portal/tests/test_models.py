"""People, organisations and enrolments hold together."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from portal.models import Apprenticeship, User
from portal.services import enrol_apprentice
from portal.tests.factories import (
    ApprenticeFactory,
    AssessorFactory,
    EmployerFactory,
    MentorFactory,
    ProviderFactory,
    UserFactory,
)


def enrol(**overrides):
    fields = {"start_date": datetime.date(2025, 9, 1), "planned_end_date": datetime.date(2027, 9, 1)} | overrides
    return enrol_apprentice(**fields)


def test_enrolment_links_the_apprentice_to_their_provider(apprentice, assessor, mentor, employer, st0220):
    apprenticeship = enrol(apprentice=apprentice, standard=st0220, employer=employer, assessor=assessor, mentor=mentor)
    assert apprenticeship.provider == apprentice.organisation
    assert apprenticeship.status == Apprenticeship.Status.ACTIVE
    assert str(apprenticeship).endswith("ST0220 v1.0")


def test_enrolment_refuses_an_end_before_the_start(apprentice, assessor, employer, st0220):
    with pytest.raises(ValidationError) as error:
        enrol(
            apprentice=apprentice,
            standard=st0220,
            employer=employer,
            assessor=assessor,
            planned_end_date=datetime.date(2025, 8, 1),
        )
    assert "planned_end_date" in error.value.message_dict
    assert Apprenticeship.objects.count() == 0


def test_enrolment_refuses_an_assessor_of_another_provider(apprentice, employer, st0220):
    stranger = AssessorFactory(organisation=ProviderFactory())
    with pytest.raises(ValidationError) as error:
        enrol(apprentice=apprentice, standard=st0220, employer=employer, assessor=stranger)
    assert "does not belong to this apprenticeship's provider" in error.value.message_dict["assessor"][0]


def test_enrolment_refuses_people_in_the_wrong_roles(apprentice, assessor, provider, employer, st0220):
    with pytest.raises(ValidationError) as error:
        enrol(apprentice=assessor, standard=st0220, employer=employer, assessor=apprentice)
    assert "apprentice role" in error.value.message_dict["apprentice"][0]
    assert "assessor role" in error.value.message_dict["assessor"][0]


def test_enrolment_refuses_a_mentor_of_another_employer(apprentice, assessor, employer, st0220):
    elsewhere = MentorFactory(organisation=EmployerFactory())
    with pytest.raises(ValidationError) as error:
        enrol(apprentice=apprentice, standard=st0220, employer=employer, assessor=assessor, mentor=elsewhere)
    assert "employer" in error.value.message_dict["mentor"][0]


def test_enrolment_refuses_a_provider_as_employer(apprentice, assessor, provider, st0220):
    with pytest.raises(ValidationError) as error:
        enrol(apprentice=apprentice, standard=st0220, employer=provider, assessor=assessor)
    assert error.value.message_dict["employer"] == ["Choose an employer."]


def test_database_refuses_an_end_before_the_start(apprenticeship):
    apprenticeship.planned_end_date = apprenticeship.start_date
    with pytest.raises(IntegrityError):
        apprenticeship.save()


def test_a_mentor_belongs_to_an_employer(provider):
    mentor = UserFactory.build(role=User.Role.MENTOR, organisation=provider, email="m@example.org")
    with pytest.raises(ValidationError) as error:
        mentor.full_clean()
    assert error.value.message_dict["organisation"] == ["The employer mentor role belongs to an employer."]


def test_a_person_with_a_role_needs_an_organisation(db):
    with pytest.raises(IntegrityError):
        UserFactory(role=User.Role.ASSESSOR, organisation=None)


def test_email_sign_in_name_is_case_insensitive(db):
    user = User.objects.create_user("Someone@Example.org", "a-long-password-1")
    assert user.email == "someone@example.org"
    assert User.objects.get_by_natural_key("SOMEONE@example.org") == user


def test_create_user_needs_an_email(db):
    with pytest.raises(ValueError, match="email address is required"):
        User.objects.create_user("", "x")


def test_create_superuser(db):
    admin = User.objects.create_superuser("root@example.org", "a-long-password-1")
    assert admin.is_staff and admin.is_superuser and admin.role == ""


def test_role_properties(apprentice, assessor, mentor, provider_admin, iqa):
    assert apprentice.is_apprentice and not apprentice.is_assessor
    assert assessor.is_assessor and mentor.is_mentor and provider_admin.is_provider_admin and iqa.is_iqa


def test_factories_build_consistent_people(db):
    apprentice = ApprenticeFactory()
    apprentice.full_clean()
    MentorFactory().full_clean()
