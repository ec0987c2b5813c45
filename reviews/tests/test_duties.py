"""Coverage by duty: a duty is covered when every KSB it calls on is signed off."""

from pathlib import Path

import pytest

from evidence.tests.factories import evidence
from portal.tests.factories import ApprenticeshipFactory
from reviews.duties import duties_of, duty_coverage
from reviews.progress import progress_of
from reviews.tests.helpers import signed_off
from standards.importer import import_standards
from standards.models import Standard

DATA = Path(__file__).resolve().parents[2] / "standards" / "tests" / "data"


@pytest.fixture
def with_duties(apprentice, provider, employer, assessor, mentor, db):
    """An apprenticeship on ST9901 1.0: duty 1 maps K1, K2, S1, B1; duty 4 maps no KSB."""
    import_standards((DATA / "ST9901-v1.0.json").read_bytes())
    return ApprenticeshipFactory(
        apprentice=apprentice,
        provider=provider,
        employer=employer,
        assessor=assessor,
        mentor=mentor,
        standard=Standard.objects.get(reference="ST9901"),
    )


def test_a_duty_is_covered_once_all_its_ksbs_are_signed_off(with_duties):
    for code in ("K1", "K2", "S1"):
        signed_off(with_duties, code)
    evidence(with_duties, codes=("B1",))
    coverage = progress_of(with_duties)
    duties = duty_coverage(coverage, duties_of(with_duties.standard))
    first = duties.rows[0]
    assert [cell.ksb.code for cell in first.cells] == ["K1", "K2", "S1", "B1"]
    assert (first.signed_off, first.total, first.covered, first.percent) == (3, 4, False, 75)

    signed_off(with_duties, "B1")
    duties = duty_coverage(progress_of(with_duties), duties_of(with_duties.standard))
    assert duties.rows[0].covered
    assert [row.covered for row in duties.rows] == [True, False, False, False]
    assert (duties.covered, duties.total) == (1, 4)


def test_a_duty_mapping_no_ksb_is_never_covered(with_duties):
    duties = duty_coverage(progress_of(with_duties), duties_of(with_duties.standard))
    last = duties.rows[-1]
    assert (last.total, last.covered, last.percent) == (0, False, 0)


def test_a_standard_without_duties_has_no_duty_coverage(apprenticeship):
    duties = duty_coverage(progress_of(apprenticeship), duties_of(apprenticeship.standard))
    assert not duties


def test_the_apprentices_home_shows_coverage_by_duty(client, with_duties):
    signed_off(with_duties, "K1")
    client.force_login(with_duties.apprentice)
    response = client.get("/portfolio/")
    body = response.content.decode()
    assert "Coverage by duty" in body
    assert "0 of 4 duties covered" in body
    assert "Carry out analytical tests on samples using calibrated instruments." in body
    assert "Analytical chemistry" in body  # the option duty 2 belongs to
    assert 'href="/evidence/?ksb=K1"' in body
    assert "1 of 4" in body


def test_the_apprentices_home_has_no_duty_section_when_the_standard_maps_none(client, apprenticeship):
    client.force_login(apprenticeship.apprentice)
    assert "Coverage by duty" not in client.get("/portfolio/").content.decode()


def test_the_apprenticeship_page_shows_coverage_by_duty_to_staff(client, with_duties, assessor):
    for code in ("K1", "K2", "S1", "B1"):
        signed_off(with_duties, code)
    client.force_login(assessor)
    body = client.get(f"/apprenticeships/{with_duties.pk}/").content.decode()
    assert "Coverage by duty" in body
    assert "1 of 4 duties covered" in body
    assert "Covered" in body
    assert f'href="/apprenticeships/{with_duties.pk}/ksbs/K1/"' in body


def test_home_queries_do_not_grow_with_duties(
    client, apprentice, provider, employer, assessor, db, django_assert_max_num_queries
):
    [outcome] = import_standards((DATA / "ST0248-v1.1.json").read_bytes())
    apprenticeship = ApprenticeshipFactory(
        apprentice=apprentice, provider=provider, employer=employer, assessor=assessor, standard=outcome.standard
    )
    for code in ("K1", "K6", "S1", "B2"):
        signed_off(apprenticeship, code)
    client.force_login(apprentice)
    # 22 measured: the home's own, with off-the-job hours, reviews, plan and signatures.
    with django_assert_max_num_queries(23):
        response = client.get("/portfolio/")
    assert response.context["duties"].total == 11


def test_the_portfolio_pdf_shows_coverage_by_duty(with_duties):
    import io

    from pypdf import PdfReader

    from reviews.pdf import render_portfolio

    for code in ("K1", "K2", "S1", "B1"):
        signed_off(with_duties, code)
    reader = PdfReader(io.BytesIO(render_portfolio(with_duties)))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Coverage by duty" in text
    assert "1 of 4 duties covered" in text
    assert "Coverage by duty" in [item.title for item in reader.outline if not isinstance(item, list)]


def test_a_pdf_of_a_standard_without_duties_has_no_duty_section(apprenticeship):
    import io

    from pypdf import PdfReader

    from reviews.pdf import render_portfolio

    signed_off(apprenticeship, "K1")
    reader = PdfReader(io.BytesIO(render_portfolio(apprenticeship)))
    assert "Coverage by duty" not in "\n".join(page.extract_text() for page in reader.pages[:4])
