"""The provider admin's home: the cohort heatmap, its filters, sorting and inactivity flag."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from evidence.models import EvidenceItem
from evidence.tests.factories import evidence
from portal.models import Apprenticeship
from portal.tests.factories import ApprenticeshipFactory, AssessorFactory, EmployerFactory
from reviews import services
from reviews.cohort import inactive_condition, is_inactive, with_progress
from reviews.models import SignOff
from reviews.progress import progress_for
from reviews.tests.bulk import ACTIVITY_DAYS_AGO, build_cohort
from standards.tests.factories import standard_with_ksbs

URL = "/provider/"


def row_ids(html: str) -> list[int]:
    """The apprenticeships in the heatmap, in the order shown."""
    return [int(pk) for pk in re.findall(r'<tr id="cohort-(\d+)"', html)]


def row(html: str, apprenticeship) -> str:
    pk = getattr(apprenticeship, "pk", apprenticeship)
    match = re.search(rf'<tr id="cohort-{pk}".*?</tr>', html, re.DOTALL)
    assert match, f"no row for apprenticeship {pk}"
    return match.group(0)


def counts(html: str) -> str:
    """The line above the heatmap that counts the whole filtered cohort, in one line."""
    match = re.search(r'<p class="text-body-secondary mb-0" role="status">(.*?)</p>', html, re.DOTALL)
    return " ".join(match.group(1).split())


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


# --- Pages --------------------------------------------------------------------------------------

NAV = '<nav aria-label="Cohort pages">'


def small_cohort(provider, employer, assessor, st0220, apprentices=60):
    """More than a page of apprentices, quickly (two items each)."""
    return build_cohort(
        provider=provider,
        employer=employer,
        assessors=[assessor],
        standard=st0220,
        apprentices=apprentices,
        items_each=2,
        otj_each=1,
    )


def test_a_cohort_of_one_page_has_no_page_links(client, provider_admin, apprenticeship, other_apprenticeship):
    html = page(client, provider_admin)
    assert NAV not in html
    assert counts(html) == "2 apprentices; 2 with no activity for 4 weeks."


def test_pages_hold_fifty_and_the_counts_are_of_the_whole_cohort(
    client, provider_admin, provider, employer, assessor, st0220
):
    small_cohort(provider, employer, assessor, st0220)
    first = page(client, provider_admin)
    second = page(client, provider_admin, "?page=2")
    assert len(row_ids(first)) == 50 and len(row_ids(second)) == 10
    assert not set(row_ids(first)) & set(row_ids(second))
    for html in (first, second):
        assert counts(html).startswith("60 apprentices;")
        assert NAV in html
    assert "1 to 50 of 60, page 1 of 2" in first
    assert "51 to 60 of 60, page 2 of 2" in second
    assert '<a class="page-link" href="?page=2" rel="next">' in first
    assert '<a class="page-link" href="?page=1" rel="prev">' in second
    assert 'href="?page=2" aria-current="page"' in second
    # The export button still takes the whole cohort, not the page.
    assert "Export all 60 of these portfolios" in second


@pytest.mark.parametrize(("asked", "shown"), [("3", 2), ("99", 2), ("0", 2), ("-1", 2), ("two", 1), ("", 1)])
def test_a_page_number_out_of_range_or_not_a_number_gives_the_nearest_page(
    client, provider_admin, provider, employer, assessor, st0220, asked, shown
):
    small_cohort(provider, employer, assessor, st0220)
    html = page(client, provider_admin, f"?page={asked}")
    assert f"page {shown} of 2" in html


def test_page_links_keep_the_filters_and_sort_and_a_new_sort_starts_at_page_one(
    client, provider_admin, provider, employer, assessor, st0220
):
    small_cohort(provider, employer, assessor, st0220)
    html = page(client, provider_admin, f"?assessor={assessor.pk}&sort=-progress&page=2")
    assert f'href="?assessor={assessor.pk}&amp;sort=-progress&amp;page=1" rel="prev"' in html
    assert f'href="?assessor={assessor.pk}&amp;sort=progress"' in html
    assert f'href="?assessor={assessor.pk}"' in html
    # The filter form itself carries no page: applying new filters starts from the first.
    assert 'name="page"' not in html


def test_an_old_versions_sign_off_does_not_count_towards_progress(
    client, provider_admin, apprenticeship, other_apprenticeship
):
    """After a move, sign-offs left on the old version's KSBs count neither on the grid nor in the sort."""
    old = standard_with_ksbs(knowledge=2, skills=0, behaviours=0)
    for ksb in old.ksbs.all():
        SignOff.objects.create(
            apprenticeship=apprenticeship, ksb=ksb, signed_by=apprenticeship.assessor, comment="Met."
        )
    sign_off(other_apprenticeship, "K1")
    assert row_ids(page(client, provider_admin, "?sort=-progress")) == [other_apprenticeship.pk, apprenticeship.pk]
    assert "0/65" in row(page(client, provider_admin), apprenticeship)


def test_the_sql_for_sorting_and_inactivity_agrees_with_the_coverage_grid(
    provider, employer, assessor, other_assessor, st0220
):
    """The sort and the filter read signed-off shares and activity in SQL; the rows read them in Python: the same."""
    big = build_cohort(
        provider=provider,
        employer=employer,
        assessors=[assessor, other_assessor],
        standard=st0220,
        apprentices=40,
        items_each=10,
        otj_each=1,
    )
    coverage = progress_for(big, drafts=False)
    now = timezone.now()
    cohort = Apprenticeship.objects.filter(pk__in=[a.pk for a in big])
    quiet = set(cohort.filter(inactive_condition(now=now)).values_list("pk", flat=True))
    assert 0 < len(quiet) < len(big)
    for a in with_progress(cohort):
        assert (a.signed_off, a.ksb_total) == (coverage[a.pk].signed_off, coverage[a.pk].total)
        assert a.progress == coverage[a.pk].signed_off / 65
        assert (a.pk in quiet) == is_inactive(a, coverage[a.pk].last_activity, now=now)


# --- Scale -------------------------------------------------------------------------------------

# Measured: 15 on every page seen for the first time, filtered and sorted or not (session, user,
# notices, one aggregate counting the whole filtered cohort and its inactive, the page of
# apprenticeships, five for progress, two for off-the-job hours, one for reviews, two listing the
# filter choices), and two more with the assessor and employer filters (one query each to check
# the choice). Seen again, progress comes from the cache: three queries (KSBs, evidence stamps,
# signers' names) instead of five.
QUERIES = 15
FILTERED_QUERIES = QUERIES + 2


def pages_of(client, query: str, pages: int) -> list[str]:
    return [client.get(URL + f"{query}&page={n}").content.decode() for n in range(1, pages + 1)]


def expected_order(big, *, sort: str) -> list[int]:
    """The cohort's order worked out in Python from the coverage grid, independently of the page's SQL."""
    coverage = progress_for(big, drafts=False)
    by_name = sorted(big, key=lambda a: (a.apprentice.last_name, a.apprentice.first_name, a.pk))
    if sort == "name":
        return [a.pk for a in by_name]
    share = {pk: c.signed_off / c.total for pk, c in coverage.items()}
    ordered = sorted(by_name, key=lambda a: share[a.pk], reverse=sort == "-progress")
    return [a.pk for a in ordered]


@pytest.fixture
def big(provider, employer, assessor, other_assessor, st0220):
    return build_cohort(provider=provider, employer=employer, assessors=[assessor, other_assessor], standard=st0220)


def without_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def test_every_page_of_300_apprentices_makes_the_same_fixed_number_of_queries(
    client, provider_admin, big, assessor, employer
):
    client.force_login(provider_admin)
    counts, pages = {}, {}
    for query in ("", "?page=6", "?sort=-progress&page=3", "?sort=progress&inactive=on"):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL + query)
        assert response.status_code == 200
        html = pages[query] = response.content.decode()
        assert len(row_ids(html)) == 50, query
        assert html.count('class="heatmap-cell ') == 50 * 65
        counts[query] = len(queries)
    assert set(counts.values()) == {QUERIES}, counts
    with CaptureQueriesContext(connection) as queries:
        again = client.get(URL + "?page=6")
    assert len(queries) == QUERIES - 2
    assert without_csrf(again.content.decode()) == without_csrf(pages["?page=6"])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL + f"?sort=-progress&assessor={assessor.pk}&employer={employer.pk}&page=3")
    assert len(row_ids(response.content.decode())) == 50
    assert len(queries) == FILTERED_QUERIES


def test_sorting_covers_the_whole_cohort_before_paging(client, provider_admin, big):
    client.force_login(provider_admin)
    for sort in ("name", "-progress", "progress"):
        shown = [pk for html in pages_of(client, f"?sort={sort}", 6) for pk in row_ids(html)]
        assert shown == expected_order(big, sort=sort), sort


def test_the_inactive_flag_filter_and_count_cover_the_whole_cohort(client, provider_admin, big):
    quiet = [
        a.pk for i, a in enumerate(big) if ACTIVITY_DAYS_AGO[i % len(ACTIVITY_DAYS_AGO)] > 28 and a.status == "active"
    ]
    client.force_login(provider_admin)
    every_page = pages_of(client, "?sort=name", 6)
    flagged = [pk for html in every_page for pk in row_ids(html) if FLAG in row(html, pk)]
    assert sorted(flagged) == sorted(quiet)
    assert counts(every_page[5]) == f"300 apprentices; {len(quiet)} with no activity for 4 weeks."

    pages = -(-len(quiet) // 50)
    only_quiet = pages_of(client, "?inactive=on&sort=-progress", pages)
    shown = [pk for html in only_quiet for pk in row_ids(html)]
    assert shown == [pk for pk in expected_order(big, sort="-progress") if pk in set(quiet)]
    assert counts(only_quiet[-1]) == f"{len(quiet)} apprentices match; {len(quiet)} with no activity for 4 weeks."
