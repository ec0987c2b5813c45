"""The evidence list, 25 items a page: pages, filters across pages, odd page numbers, and who sees what."""

import datetime
import re

import pytest
from django.utils import timezone

from evidence.models import EvidenceFile, EvidenceItem, EvidenceVersion, KSBMapping


def portfolio(
    apprenticeship,
    count: int,
    *,
    title: str = "Item",
    evidence_type: str = EvidenceItem.Type.OBSERVATION,
    submitted: bool = True,
) -> list[EvidenceItem]:
    """`count` items written straight to the tables, each with a version, two KSB mappings and a file.

    Item n is changed n minutes after the first, so the newest change is the highest n.
    """
    ksbs = list(apprenticeship.standard.ksbs.order_by("pk")[:10])
    status = EvidenceItem.Status.SUBMITTED if submitted else EvidenceItem.Status.DRAFT
    items = EvidenceItem.objects.bulk_create(
        EvidenceItem(apprenticeship=apprenticeship, status=status) for _ in range(count)
    )
    versions = EvidenceVersion.objects.bulk_create(
        EvidenceVersion(
            item=item,
            number=1,
            title=f"{title} {n}",
            activity_date=datetime.date(2025, 10, 6),
            evidence_type=evidence_type,
            reflection="What I did and what I learnt.",
            submitted_at=timezone.now() if submitted else None,
        )
        for n, item in enumerate(items)
    )
    KSBMapping.objects.bulk_create(
        KSBMapping(version=version, ksb=ksbs[(n + k) % len(ksbs)], note="how")
        for n, version in enumerate(versions)
        for k in range(2)
    )
    files = EvidenceFile.objects.bulk_create(
        EvidenceFile(
            apprenticeship=apprenticeship,
            file=f"evidence/{n}",
            original_name=f"photo-{n}.png",
            size=100,
            content_type="image/png",
            sha256="0" * 64,
        )
        for n in range(count)
    )
    EvidenceVersion.files.through.objects.bulk_create(
        EvidenceVersion.files.through(evidenceversion=version, evidencefile=file)
        for version, file in zip(versions, files, strict=True)
    )
    start = timezone.now() - datetime.timedelta(days=1)
    for n, item in enumerate(items):
        item.updated_at = start + datetime.timedelta(minutes=n)
    EvidenceItem.objects.bulk_update(items, ["updated_at"])
    return items


def titles(response) -> list[str]:
    return [item.shown.title for item in response.context["items"]]


def status_line(response) -> str:
    return re.search(r'role="status">([^<]*)<', response.content.decode()).group(1)


def every_page(client, params=None) -> list[int]:
    """The ids of every item on every page, in order, following the page count the first page gives."""
    first = client.get("/evidence/", params or {})
    shown = []
    for number in first.context["page"].paginator.page_range:
        shown += [item.pk for item in client.get("/evidence/", {**(params or {}), "page": number}).context["items"]]
    return shown


# --- Pages ------------------------------------------------------------------------------------


def test_the_first_page_shows_the_25_newest_changes_and_links_to_the_next(client, apprenticeship, apprentice):
    portfolio(apprenticeship, 30)
    client.force_login(apprentice)

    response = client.get("/evidence/")

    assert titles(response) == [f"Item {n}" for n in range(29, 4, -1)]
    assert status_line(response) == "30 items; 1 to 25 shown."
    body = response.content.decode()
    assert '<nav aria-label="Evidence pages">' in body
    assert 'href="?page=2" rel="next"' in body
    assert 'aria-current="page"><span class="visually-hidden">Page </span>1<' in body


def test_the_second_page_shows_the_rest(client, apprenticeship, apprentice):
    portfolio(apprenticeship, 30)
    client.force_login(apprentice)

    response = client.get("/evidence/", {"page": "2"})

    assert titles(response) == ["Item 4", "Item 3", "Item 2", "Item 1", "Item 0"]
    assert status_line(response) == "30 items; 26 to 30 shown."
    assert 'href="?page=1" rel="prev"' in response.content.decode()
    assert "<title>Evidence, page 2 of 2" in response.content.decode()


def test_a_list_that_fits_on_one_page_has_no_page_links(client, apprenticeship, apprentice):
    portfolio(apprenticeship, 3)
    client.force_login(apprentice)

    response = client.get("/evidence/")

    assert len(response.context["items"]) == 3
    assert status_line(response) == "3 items."
    assert 'aria-label="Evidence pages"' not in response.content.decode()


def test_pages_never_overlap_when_many_items_changed_at_the_same_moment(client, apprenticeship, apprentice):
    items = portfolio(apprenticeship, 60)
    EvidenceItem.objects.filter(apprenticeship=apprenticeship).update(updated_at=timezone.now())
    client.force_login(apprentice)

    shown = every_page(client)

    assert len(shown) == 60
    assert sorted(shown) == sorted(item.pk for item in items)


def test_long_totals_are_grouped_in_thousands(client, apprenticeship, apprentice):
    portfolio(apprenticeship, 1030)
    client.force_login(apprentice)

    response = client.get("/evidence/", {"page": "42"})

    assert status_line(response) == "1,030 items; 1,026 to 1,030 shown."


@pytest.mark.parametrize(
    ("asked", "shown"),
    [("abc", 1), ("", 1), ("1.5", 1), ("999999", 2), ("-1", 2), ("0", 2), ("2", 2)],
)
def test_a_page_number_that_is_not_a_page_still_shows_a_page(client, apprenticeship, apprentice, asked, shown):
    portfolio(apprenticeship, 30)
    client.force_login(apprentice)

    response = client.get("/evidence/", {"page": asked})

    assert response.status_code == 200
    assert response.context["page"].number == shown
    assert len(response.context["items"]) == (25 if shown == 1 else 5)


def test_a_page_number_on_an_empty_list_shows_the_empty_list(client, apprenticeship, apprentice):
    client.force_login(apprentice)

    response = client.get("/evidence/", {"page": "7"})

    assert response.status_code == 200
    assert "Your portfolio is empty." in response.content.decode()


# --- Filters across pages -----------------------------------------------------------------------


def test_filters_are_kept_in_the_page_links(client, apprenticeship, apprentice):
    portfolio(apprenticeship, 30, title="Calibration", evidence_type=EvidenceItem.Type.WORK_PRODUCT)
    portfolio(apprenticeship, 30, title="Observed venepuncture")
    client.force_login(apprentice)
    filters = {"q": "calibration", "type": "work_product", "status": "submitted", "ksb": ""}

    first = client.get("/evidence/", filters)

    assert status_line(first) == "30 items match; 1 to 25 shown."
    assert 'href="?q=calibration&amp;type=work_product&amp;status=submitted&amp;ksb=&amp;page=2" rel="next"' in (
        first.content.decode()
    )
    second = client.get("/evidence/", {**filters, "page": "2"})
    assert titles(second) == [f"Calibration {n}" for n in range(4, -1, -1)]
    assert status_line(second) == "30 items match; 26 to 30 shown."


def test_a_ksb_filter_pages_through_only_the_items_mapped_to_it(client, apprenticeship, apprentice):
    items = portfolio(apprenticeship, 150)
    client.force_login(apprentice)
    first_ksb = apprenticeship.standard.ksbs.order_by("pk").first()
    mapped = {m.version.item_id for m in KSBMapping.objects.filter(ksb=first_ksb).select_related("version")}

    shown = every_page(client, {"ksb": first_ksb.code})

    assert 25 < len(mapped) < len(items)
    assert sorted(shown) == sorted(mapped)


# --- Queries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["apprentice", "iqa"])
def test_a_page_takes_the_same_queries_for_30_items_as_for_300(
    client, apprenticeship, persona, request, django_assert_max_num_queries, django_assert_num_queries
):
    client.force_login(request.getfixturevalue(persona))
    portfolio(apprenticeship, 30)
    with django_assert_max_num_queries(12) as thirty:
        assert len(client.get("/evidence/", {"page": "2"}).context["items"]) == 5

    portfolio(apprenticeship, 270)
    with django_assert_num_queries(len(thirty)):
        response = client.get("/evidence/", {"page": "2"})

    assert len(response.context["items"]) == 25
    assert response.context["page"].paginator.count == 300


def test_only_the_items_of_the_page_are_read_with_their_versions(
    client, apprenticeship, iqa, django_assert_max_num_queries
):
    portfolio(apprenticeship, 60)
    client.force_login(iqa)

    with django_assert_max_num_queries(12) as captured:
        response = client.get("/evidence/", {"page": "2"})

    reads = [q["sql"] for q in captured.captured_queries if q["sql"].startswith('SELECT "evidence_evidenceversion"')]
    assert len(reads) == 1
    asked_for = re.search(r'"item_id" IN \(([^)]*)\)', reads[0]).group(1)
    assert sorted(int(pk) for pk in asked_for.split(",")) == sorted(item.pk for item in response.context["items"])
    assert len(response.context["items"]) == 25


# --- Who sees what, page after page -----------------------------------------------------------


@pytest.fixture
def three_portfolios(apprenticeship, other_apprenticeship, outsider_apprenticeship):
    """Submitted work and drafts of two apprentices of one provider, and submitted work elsewhere."""
    return {
        "mine": portfolio(apprenticeship, 30),
        "my drafts": portfolio(apprenticeship, 10, submitted=False),
        "other": portfolio(other_apprenticeship, 20),
        "outsider": portfolio(outsider_apprenticeship, 15),
    }


@pytest.mark.parametrize(
    ("persona", "sees"),
    [
        ("apprentice", ("mine", "my drafts")),
        ("assessor", ("mine",)),
        ("other_assessor", ("other",)),
        ("mentor", ("mine",)),
        ("iqa", ("mine", "other")),
        ("provider_admin", ("mine", "other")),
        ("outsider", ("outsider",)),
    ],
)
def test_every_page_holds_only_what_the_person_may_see(client, three_portfolios, persona, sees, request):
    user = request.getfixturevalue(persona)
    client.force_login(user)

    shown = every_page(client)

    expected = [item.pk for part in sees for item in three_portfolios[part]]
    assert len(shown) == len(set(shown))
    assert sorted(shown) == sorted(expected)
    assert set(shown) == set(EvidenceItem.objects.visible_to(user).values_list("pk", flat=True))
