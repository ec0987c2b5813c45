"""Who may see an apprenticeship: `Apprenticeship.objects.visible_to(user)`, role by role."""

import pytest

from portal.models import Apprenticeship
from portal.tests.factories import ApprenticeFactory, UserFactory


@pytest.fixture
def cohort(apprenticeship, other_apprenticeship, outsider_apprenticeship):
    return {"ours": apprenticeship, "other": other_apprenticeship, "elsewhere": outsider_apprenticeship}


def visible(user):
    return set(Apprenticeship.objects.visible_to(user))


def test_apprentice_sees_only_their_own(cohort, apprentice):
    assert visible(apprentice) == {cohort["ours"]}


def test_other_apprentice_sees_only_theirs(cohort, other_apprentice):
    assert visible(other_apprentice) == {cohort["other"]}


def test_assessor_sees_their_caseload_only(cohort, assessor, other_assessor):
    assert visible(assessor) == {cohort["ours"]}
    assert visible(other_assessor) == {cohort["other"]}


def test_mentor_sees_the_apprentices_they_mentor(cohort, mentor):
    assert visible(mentor) == {cohort["ours"]}


def test_provider_admin_sees_every_apprenticeship_of_their_provider(cohort, provider_admin):
    assert visible(provider_admin) == {cohort["ours"], cohort["other"]}


def test_iqa_sees_every_apprenticeship_of_their_provider(cohort, iqa):
    assert visible(iqa) == {cohort["ours"], cohort["other"]}


def test_another_providers_admin_sees_none_of_ours(cohort, outsider):
    assert visible(outsider) == {cohort["elsewhere"]}


def test_another_providers_apprentice_sees_none_of_ours(cohort):
    assert visible(cohort["elsewhere"].apprentice) == {cohort["elsewhere"]}


def test_an_assessor_moved_to_another_provider_loses_the_old_caseload(cohort, assessor, outsider_provider):
    assessor.organisation = outsider_provider
    assessor.save()
    assert visible(assessor) == set()


def test_a_person_without_a_role_sees_nothing(cohort):
    assert visible(UserFactory(role="", organisation=None)) == set()


def test_an_inactive_person_sees_nothing(cohort, provider_admin):
    provider_admin.is_active = False
    provider_admin.save()
    assert visible(provider_admin) == set()


def test_anonymous_sees_nothing(cohort):
    from django.contrib.auth.models import AnonymousUser

    assert visible(AnonymousUser()) == set()


def test_superuser_sees_everything(cohort):
    superuser = UserFactory(role="", organisation=None, is_superuser=True, is_staff=True)
    assert visible(superuser) == set(cohort.values())


def test_an_apprentice_with_no_apprenticeship_sees_nothing(cohort, provider):
    assert visible(ApprenticeFactory(organisation=provider)) == set()
