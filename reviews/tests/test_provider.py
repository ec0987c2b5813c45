"""The provider admin's home: the cohort heatmap, its filters, sorting and inactivity flag."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from evidence.models import EvidenceItem
from evidence.tests.factories import evidence
from portal.tests.factories import ApprenticeshipFactory, AssessorFactory, EmployerFactory
from reviews import services
from reviews.tests.bulk import ACTIVITY_DAYS_AGO, build_cohort

URL = "/provider/"


def row_ids(html: str) -> list[int]:
    """The apprenticeships in the heatmap, in the order shown."""
    return [int(pk) for pk in re.findall(r'<tr id="cohort-(\d+)"', html)]


def row(html: str, apprenticeship) -> str:
    match = re.search(rf'<tr id="cohort-{apprenticeship.pk}".*?</tr>', html, re.DOTALL)
    assert match, f"no row for apprenticeship {apprenticeship.pk}"
    return match.group(0)


def page(client, user, query: str = "") -> str:
    client.force_login(user)
    response = client.get(URL + query)
    assert response.status_code == 200
    return response.content.decode()


def sign_off(apprenticeship, code: str) -> None:
    """Evidence submitted, accepted and relied on for a sign-off, all through the services."""
    item = evidence(apprenticeship, codes=(code,), submit=True)
    services.accept_evidence(item=item, by=apprenticeship.assessor)
    services.sign_off_ksb(
        apprenticeship=apprenticeship,
        ksb=apprenticeship.standard.ksbs.get(kind=code[0], number=int(code[1:])),
        versions=[item.versions.get()],
        by=apprenticeship.assessor,
        comment="Observed running the QC independently.",
    )


def last_touched(apprenticeship, days_ago: int) -> None:
    """Evidence last changed some days ago (updated_at is automatic, so set it afterwards)."""
    item = evidence(apprenticeship, submit=True)
    EvidenceItem.objects.filter(pk=item.pk).update(updated_at=timezone.now() - datetime.timedelta(days=days_ago))


# --- Who may see it -----------------------------------------------------------------------------


def test_lists_every_apprenticeship_of_the_admins_provider_and_no_other(
    client, provider_admin, apprenticeship, other_apprenticeship, outsider_apprenticeship
):
    html = page(client, provider_admin)
    assert sorted(row_ids(html)) == sorted([apprenticeship.pk, other_apprenticeship.pk])
    assert f'href="/apprenticeships/{apprenticeship.pk}/"' in html
    assert str(outsider_apprenticeship.apprentice) not in html


def test_another_providers_admin_sees_only_their_own_cohort(
    client, outsider, apprenticeship, other_apprenticeship, outsider_apprenticeship
):
    html = page(client, outsider)
    assert row_ids(html) == [outsider_apprenticeship.pk]
    assert str(apprenticeship.apprentice) not in html


@pytest.mark.parametrize("persona", ["apprentice", "assessor", "mentor", "iqa"])
def test_other_roles_are_refused(client, apprenticeship, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/sign-in/?next=/provider/"


# --- Filters -----------------------------------------------------------------------------------


@pytest.fixture
def third_apprenticeship(provider, st0220):
    """Same provider, another employer and assessor, on a break in learning."""
    return ApprenticeshipFactory(
        apprentice__organisation=provider,
        provider=provider,
        employer=EmployerFactory(name="Hillside Clinics"),
        assessor=AssessorFactory(organisation=provider),
        standard=st0220,
        status="break",
    )


@pytest.fixture
def cohort(apprenticeship, other_apprenticeship, third_apprenticeship):
    return apprenticeship, other_apprenticeship, third_apprenticeship


def test_filters_by_assessor(client, provider_admin, cohort, other_assessor):
    assert row_ids(page(client, provider_admin, f"?assessor={other_assessor.pk}")) == [cohort[1].pk]


def test_filters_by_employer(client, provider_admin, cohort, employer):
    html = page(client, provider_admin, f"?employer={cohort[2].employer_id}")
    assert row_ids(html) == [cohort[2].pk]
    html = page(client, provider_admin, f"?employer={employer.pk}")
    assert sorted(row_ids(html)) == sorted([cohort[0].pk, cohort[1].pk])


def test_filters_by_status(client, provider_admin, cohort):
    assert row_ids(page(client, provider_admin, "?status=break")) == [cohort[2].pk]


def test_filter_choices_are_only_the_providers_own(client, provider_admin, cohort, outsider_apprenticeship):
    html = page(client, provider_admin)
    assert f'<option value="{cohort[2].employer_id}">Hillside Clinics</option>' in html
    assert f'value="{outsider_apprenticeship.employer_id}"' not in html
    assert f'value="{outsider_apprenticeship.assessor_id}"' not in html


@pytest.mark.parametrize(
    ("field", "value"),
    [("assessor", "outsider"), ("employer", "outsider"), ("assessor", "nobody"), ("status", "asleep")],
)
def test_a_filter_value_not_of_this_provider_is_refused_with_a_message(
    client, provider_admin, cohort, outsider_apprenticeship, field, value
):
    if value == "outsider":
        value = getattr(outsider_apprenticeship, f"{field}_id")
    html = page(client, provider_admin, f"?{field}={value}")
    assert "Some filters could not be applied" in html
    assert "Choose one of the" in html
    # The refused filter is left out: the admin still sees their own cohort, and nothing else.
    assert len(row_ids(html)) == 3
    assert str(outsider_apprenticeship.apprentice) not in html
    assert str(outsider_apprenticeship.employer) not in html


def test_an_unknown_sort_is_refused_with_a_message(client, provider_admin, cohort):
    html = page(client, provider_admin, "?sort=shoe-size")
    assert "Some filters could not be applied" in html
    assert len(row_ids(html)) == 3


# --- Sorting -----------------------------------------------------------------------------------


def test_sorts_by_progress_both_ways(client, provider_admin, apprenticeship, other_apprenticeship):
    sign_off(apprenticeship, "K1")
    assert row_ids(page(client, provider_admin, "?sort=progress")) == [other_apprenticeship.pk, apprenticeship.pk]
    assert row_ids(page(client, provider_admin, "?sort=-progress")) == [apprenticeship.pk, other_apprenticeship.pk]


def test_sorts_by_name_by_default(client, provider_admin, apprenticeship, other_apprenticeship):
    apprenticeship.apprentice.last_name = "Zephaniah"
    apprenticeship.apprentice.save()
    other_apprenticeship.apprentice.last_name = "Abbott"
    other_apprenticeship.apprentice.save()
    assert row_ids(page(client, provider_admin)) == [other_apprenticeship.pk, apprenticeship.pk]


# --- Inactivity --------------------------------------------------------------------------------

FLAG = "No activity for 4 weeks</span>"


def test_flags_an_apprentice_with_no_activity_for_four_weeks(client, provider_admin, apprenticeship):
    last_touched(apprenticeship, days_ago=29)
    assert FLAG in row(page(client, provider_admin), apprenticeship)


def test_flags_an_apprentice_who_has_never_added_evidence(client, provider_admin, apprenticeship):
    assert FLAG in row(page(client, provider_admin), apprenticeship)


def test_does_not_flag_an_active_apprentice(client, provider_admin, apprenticeship):
    last_touched(apprenticeship, days_ago=27)
    assert FLAG not in row(page(client, provider_admin), apprenticeship)


def test_does_not_flag_a_new_starter(client, provider_admin, apprenticeship):
    apprenticeship.start_date = timezone.localdate() - datetime.timedelta(days=20)
    apprenticeship.save()
    assert FLAG not in row(page(client, provider_admin), apprenticeship)


def test_does_not_flag_an_apprentice_on_a_break(client, provider_admin, apprenticeship):
    apprenticeship.status = "break"
    apprenticeship.save()
    assert FLAG not in row(page(client, provider_admin), apprenticeship)


def test_can_show_only_the_inactive(client, provider_admin, apprenticeship, other_apprenticeship):
    last_touched(apprenticeship, days_ago=2)
    assert row_ids(page(client, provider_admin, "?inactive=on")) == [other_apprenticeship.pk]


# --- The heatmap -------------------------------------------------------------------------------


def test_a_ksb_signed_off_shows_as_signed_off(client, provider_admin, apprenticeship):
    sign_off(apprenticeship, "K1")
    html = row(page(client, provider_admin), apprenticeship)
    assert re.search(r'class="heatmap-cell coverage-signed_off" role="img" title="K1: Signed off \d', html)
    assert 'class="heatmap-cell coverage-none" role="img" title="K2: No evidence yet"' in html
    assert "1/65" in html
    assert "1 signed off" in html and "64 no evidence yet" in html


def test_drafts_do_not_show_on_the_heatmap(client, provider_admin, apprenticeship):
    evidence(apprenticeship, codes=("K3",))
    html = row(page(client, provider_admin), apprenticeship)
    assert 'title="K3: No evidence yet"' in html


# --- Scale -------------------------------------------------------------------------------------

# Measured: 13 (session, user, notices, apprenticeships, four for progress, two for off-the-job
# hours, one for reviews, two listing the filter choices), 15 with the assessor and employer
# filters (one query each to check the choice).
MAX_QUERIES = 15


def test_the_heatmap_of_300_apprentices_makes_a_fixed_number_of_queries(
    client, provider_admin, provider, employer, assessor, other_assessor, st0220, django_assert_max_num_queries
):
    big = build_cohort(provider=provider, employer=employer, assessors=[assessor, other_assessor], standard=st0220)
    client.force_login(provider_admin)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(URL + f"?sort=-progress&assessor={assessor.pk}&employer={employer.pk}")
    assert response.status_code == 200
    assert len(row_ids(response.content.decode())) == 150
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(URL)
    html = response.content.decode()
    assert len(row_ids(html)) == 300
    assert html.count('class="heatmap-cell ') == 300 * 65
    quiet = [
        a for i, a in enumerate(big) if ACTIVITY_DAYS_AGO[i % len(ACTIVITY_DAYS_AGO)] > 28 and a.status == "active"
    ]
    assert html.count(FLAG) == len(quiet) > 0
