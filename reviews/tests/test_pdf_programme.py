"""The programme in the portfolio PDF: off-the-job training, progress reviews and the training plan.

Rendering takes seconds, so the document is rendered three times in all: a full programme read
back as text, the same laid out to check nothing runs off a page, and an empty one.
"""

import datetime
import io
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
import weasyprint
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader
from weasyprint.formatting_structure.boxes import TableBox, TableRowGroupBox, TextBox

from evidence.models import OTJActivity
from evidence.tests.factories import evidence, otj_activity
from portal import audit
from reviews.models import Party, ProgressReview, ReviewAction
from reviews.pdf import SCHEME, PortfolioURLFetcher, portfolio_document_input, render_portfolio
from reviews.portfolio import hours_text, portfolio_of
from reviews.tests.helpers import ksb
from reviews.tests.programme import ALL_PARTIES, progress_review, training_plan

EXPORTED_AT = datetime.datetime(2026, 3, 4, 14, 5, tzinfo=datetime.UTC)
SIMULATION = "Blood film simulation in the skills lab with the training lead"
QUERY_REASON = "This was your normal rota shift, not training away from your duties."
WELLBEING = "Enjoying the biochemistry rotation; sleeping better since changing shifts."
SAFEGUARDING = "Disclosed worries about a relative at home; referred to the designated lead."
ACTION = "Book the microbiology rotation with the lab manager"
EPA_ORGANISATION = "Pathology EPA Partners"
# A long unbroken word (a pasted link) must wrap, not run off the page.
LONG_LINK = "https://intranet.example.org/" + "training/" * 30 + "haematology-competency-framework.pdf"


@pytest.fixture
def programme(apprenticeship, assessor):
    """OTJ entries of each status, a locked review with a safeguarding concern, a review awaiting
    the mentor, and a training plan in two versions."""
    apprenticeship.standard.minimum_otj_hours = 400
    apprenticeship.standard.save()
    checked_at = datetime.datetime(2025, 10, 10, 9, 0, tzinfo=datetime.UTC)
    linked = evidence(apprenticeship, title="QC on the haematology analyser", submit=True)

    verified = otj_activity(
        apprenticeship,
        on=datetime.date(2025, 10, 6),
        hours=3.5,
        activity_type=OTJActivity.Type.SIMULATION,
        description=SIMULATION,
        status=OTJActivity.Status.VERIFIED,
        checked_by=assessor,
        checked_at=checked_at,
        evidence=linked,
    )
    verified.ksbs.set([ksb(apprenticeship, "K1"), ksb(apprenticeship, "S2")])
    otj_activity(
        apprenticeship,
        on=datetime.date(2025, 10, 8),
        hours=7.5,
        description="Worked the early shift in specimen reception",
        status=OTJActivity.Status.QUERIED,
        query_reason=QUERY_REASON,
        checked_by=assessor,
        checked_at=checked_at,
    )
    otj_activity(apprenticeship, on=datetime.date(2025, 11, 3), hours=2, description=f"Read {LONG_LINK}")

    first = progress_review(
        apprenticeship,
        held_on=datetime.date(2025, 11, 20),
        signed_by=ALL_PARTIES,
        wellbeing=WELLBEING,
        safeguarding_concern=True,
        safeguarding_details=SAFEGUARDING,
        ksb_signed_off=3,
        ksb_total=65,
    )
    ReviewAction.objects.create(review=first, description=ACTION, owner=Party.MENTOR, due_on=datetime.date(2026, 1, 9))
    progress_review(
        apprenticeship,
        held_on=datetime.date(2026, 2, 12),
        signed_by=(Party.APPRENTICE, Party.ASSESSOR),
        progress_against_plan=f"Behind on microbiology; see {LONG_LINK}",
        otj_expected_hours=None,
        otj_required_hours=None,
    )
    training_plan(apprenticeship, version=1, signed_by=ALL_PARTIES, epa_organisation="Healthcare EPA Services Ltd")
    training_plan(
        apprenticeship,
        version=2,
        signed_by=(Party.APPRENTICE,),
        epa_organisation=EPA_ORGANISATION,
        text="Rotations through haematology, biochemistry and microbiology; weekly theory on Tuesdays.",
    )
    return apprenticeship


def text_of(reader: PdfReader) -> str:
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def page_text(reader: PdfReader, number: int) -> str:
    return " ".join(reader.pages[number - 1].extract_text().split())


def outline_titles(outline) -> list:
    return [outline_titles(node) if isinstance(node, list) else node.title for node in outline]


# --- The document, read back ------------------------------------------------------------------


def test_the_pdf_shows_the_otj_log_the_reviews_and_the_plan_but_no_safeguarding(programme):
    reader = PdfReader(io.BytesIO(render_portfolio(programme, exported_at=EXPORTED_AT)))
    text = text_of(reader)

    # Off-the-job training: the rule, the figures on the export date, every entry.
    assert "The minimum published for the standard" in text
    assert "The standard's published minimum of 400 hours" in text
    # A figure's number and its words are separate blocks, read back with or without a space.
    assert re.search(r"400 ?hours required in total", text)
    assert re.search(r"5\.5 ?hours logged, less any queried", text)
    assert re.search(r"3\.5 ?hours verified by the assessor \(1% of those required\)", text)
    assert re.search(r"7\.5 ?hours queried by the assessor", text)
    assert re.search(r"101\.23 ?hours expected by 4 March 2026", text)
    assert "Behind: 95.73 hours short of those expected by 4 March 2026, more than two weeks' worth." in text
    assert SIMULATION in text and "Simulation exercise" in text
    assert "K1, S2" in text
    assert "Evidence: E1 QC on the haematology analyser" in text
    assert f"Query: {QUERY_REASON}" in text
    assert "Total, 3 entries 13" in text
    assert "2 awaiting verification · 3.5 verified · 7.5 queried" in text
    assert LONG_LINK in text.replace(" ", ""), "wrapped, not cut off"

    # Progress reviews, oldest first, as captured, with actions and signatures.
    assert text.index("Review 1, held 20 November 2025") < text.index("Review 2, held 12 February 2026")
    assert WELLBEING in text
    assert "3 of 65" in text
    assert ACTION in text and "Employer mentor 9 Jan 2026" in text
    assert f"Signed by {programme.mentor} as employer mentor" in text
    assert f"Awaiting the signature of the employer mentor ({programme.mentor})." in text

    # The training plan: the latest version in full, the earlier one listed.
    assert "Version 2, the latest" in text
    assert EPA_ORGANISATION in text
    assert "GCSE maths grade 5, certificate seen" in text
    assert "weekly theory on Tuesdays" in text
    assert re.search(r"Earlier versions .*1 \d+ \w+ \d{4} Signed by all three", text)

    # What stays with the provider's staff.
    assert SAFEGUARDING not in text
    assert "Safeguarding concern" not in text and "safeguarding lead" not in text

    outline = outline_titles(reader.outline)
    top = [title for title in outline if isinstance(title, str)]
    assert top[-5:] == ["Off-the-job training", "Progress reviews", "Training plan", "Sign-off history", "Audit log"]
    assert top.index("Evidence") < top.index("Off-the-job training")
    reviews = outline[outline.index("Progress reviews") + 1]
    assert reviews == ["Review 1, held 20 November 2025", "Review 2, held 12 February 2026"]

    # The table of contents gives the page each section starts on.
    contents = reader.pages[1].extract_text(extraction_mode="layout")
    for heading, marker in [
        ("Off-the-job training", "hours required in total"),
        ("Progress reviews (2)", "Review 1, held"),
        ("Training plan (version 2)", "Version 2, the latest"),
    ]:
        number = int(re.search(rf"{re.escape(heading)} +(\d+)", contents).group(1))
        assert marker in page_text(reader, number), heading


def _in_programme(page_box) -> Iterator:
    """The boxes laid out on a page inside the programme's sections."""
    for box in page_box.descendants():
        if box.element_tag == "section" and "programme" in (box.element.get("class") or ""):
            yield from box.descendants()


def test_the_programme_lays_out_within_the_page_and_repeats_table_headers(programme):
    for n in range(60):  # enough for the log to run over three pages or more
        otj_activity(programme, on=datetime.date(2025, 12, 1), hours=1, description=f"Theory session {n}. " * 6)
    html = portfolio_document_input(programme, exported_at=EXPORTED_AT).html
    document = weasyprint.HTML(string=html, base_url=f"{SCHEME}:", url_fetcher=PortfolioURLFetcher()).render()

    checked, log_pages = 0, 0
    for page in document.pages:
        box = page._page_box
        left, top = box.content_box_x(), box.content_box_y()
        right, bottom = left + box.width, top + box.height
        for inner in _in_programme(box):
            if isinstance(inner, TextBox):
                checked += 1
                assert left - 1 <= inner.position_x and inner.position_x + inner.width <= right + 1, inner.text
                assert top - 1 <= inner.position_y and inner.position_y + inner.height <= bottom + 1, inner.text
            if isinstance(inner, TableBox) and "otj" in (inner.element.get("class") or "").split():
                log_pages += 1
                groups = [group for group in inner.children if isinstance(group, TableRowGroupBox)]
                assert groups[0].is_header, f"the log's header row is repeated on page {document.pages.index(page) + 1}"
    assert checked > 100
    assert log_pages >= 3


def test_an_apprenticeship_with_no_programme_records_says_so(other_apprenticeship):
    reader = PdfReader(io.BytesIO(render_portfolio(other_apprenticeship, exported_at=EXPORTED_AT)))
    text = text_of(reader)

    assert "No off-the-job training logged." in text
    assert "No progress review has been recorded yet." in text
    assert "No training plan has been recorded yet." in text
    # The standard's minimum is not entered yet: the document says what is missing instead of a figure.
    assert "published minimum off-the-job hours have not been entered" in text
    assert re.search(r"not known ?hours required in total", text)
    top = [title for title in outline_titles(reader.outline) if isinstance(title, str)]
    assert {"Off-the-job training", "Progress reviews", "Training plan"} <= set(top)


# --- Gathering, without rendering -------------------------------------------------------------


def test_a_review_shows_the_figures_captured_on_the_day_not_todays(programme):
    otj_activity(programme, on=datetime.date(2025, 11, 10), hours=50, status=OTJActivity.Status.VERIFIED)
    first = portfolio_of(programme, exported_at=EXPORTED_AT).reviews[0]
    assert first.otj_figures == [
        ("OTJ hours logged", "40"),
        ("Verified", "30"),
        ("Expected by then", "45"),
        ("Required in total", "400"),
        ("Shortfall", "5"),
    ]


def test_a_review_without_a_trajectory_shows_its_shortfall_as_not_known(programme):
    second = portfolio_of(programme, exported_at=EXPORTED_AT).reviews[1]
    assert dict(second.otj_figures)["Shortfall"] == "not known"
    assert dict(second.otj_figures)["Required in total"] == "not known"


def test_the_safeguarding_fields_are_never_loaded_for_the_document(programme):
    [first, _] = portfolio_of(programme, exported_at=EXPORTED_AT).reviews
    assert {"safeguarding_concern", "safeguarding_details"} <= first.review.get_deferred_fields()


def test_a_review_with_a_safeguarding_concern_prints_exactly_as_one_without(programme):
    with_concern = portfolio_document_input(programme, exported_at=EXPORTED_AT).html
    ProgressReview.objects.filter(apprenticeship=programme).update(safeguarding_concern=False, safeguarding_details="")
    without = portfolio_document_input(programme, exported_at=EXPORTED_AT).html
    assert with_concern == without


def test_audit_entries_about_a_safeguarding_concern_are_left_out_of_the_document(programme, assessor):
    with transaction.atomic():
        audit.record(action="review.safeguarding_raised", actor=assessor, apprenticeship=programme, payload={})
        audit.record(
            action="review.recorded",
            actor=assessor,
            apprenticeship=programme,
            payload={"review": 7, "safeguarding_concern": True},
        )
    lines = portfolio_of(programme, exported_at=EXPORTED_AT).audit_lines
    assert [line.entry.action for line in lines] == ["review.recorded"]
    assert lines[0].details == "review: 7"


def test_signatures_say_who_has_signed_and_who_has_yet_to(programme, other_apprenticeship):
    plans = portfolio_of(programme, exported_at=EXPORTED_AT).plans
    assert [entry.plan.version for entry in plans] == [2, 1]
    assert plans[0].signed.state == "Signed by the apprentice"
    assert [party for party, _ in plans[0].signed.awaiting] == ["Employer mentor", "Assessor"]
    assert plans[1].signed.state == "Signed by all three" and plans[1].signed.complete

    training_plan(other_apprenticeship)
    [unsigned] = portfolio_of(other_apprenticeship, exported_at=EXPORTED_AT).plans
    assert unsigned.signed.state == "Not signed"
    assert (Party.MENTOR.label, None) in unsigned.signed.awaiting, "no mentor assigned: said so, not hidden"


def test_otj_entries_are_listed_oldest_first_with_totals_by_status(programme):
    otj = portfolio_of(programme, exported_at=EXPORTED_AT).otj
    assert [line.activity.date for line in otj.lines] == sorted(line.activity.date for line in otj.lines)
    assert otj.total == "13"
    assert otj.totals_by_status == [("awaiting verification", "2"), ("verified", "3.5"), ("queried", "7.5")]
    assert otj.summary.required == 400


@pytest.mark.parametrize(
    ("hours", "text"),
    [
        (Decimal("40.00"), "40"),
        (Decimal("2.50"), "2.5"),
        (Decimal("0.33"), "0.33"),
        (Decimal(0), "0"),
        (None, "not known"),
    ],
)
def test_hours_are_written_without_trailing_zeros(hours, text):
    assert hours_text(hours) == text


def _queries(apprenticeship) -> int:
    """Gathering and rendering the whole document's HTML, so a lazy relation in a template shows."""
    with CaptureQueriesContext(connection) as captured:
        portfolio_document_input(apprenticeship, exported_at=EXPORTED_AT)
    return len(captured)


def _programme_of(apprenticeship, *, entries: int, reviews: int, plans: int) -> None:
    k1, s2 = ksb(apprenticeship, "K1"), ksb(apprenticeship, "S2")
    signed_by = ALL_PARTIES if apprenticeship.mentor else (Party.APPRENTICE, Party.ASSESSOR)
    for n in range(entries):
        activity = otj_activity(
            apprenticeship,
            on=datetime.date(2025, 9, 1) + datetime.timedelta(days=n % 180),
            status=[OTJActivity.Status.LOGGED, OTJActivity.Status.VERIFIED][n % 2],
            checked_by=apprenticeship.assessor if n % 2 else None,
        )
        activity.ksbs.set([k1, s2])
    for n in range(reviews):
        review = progress_review(
            apprenticeship, held_on=datetime.date(2025, 9, 1) + datetime.timedelta(weeks=n), signed_by=signed_by
        )
        for owner in Party:
            ReviewAction.objects.create(review=review, description="Do it", owner=owner, due_on=review.held_on)
    for version in range(1, plans + 1):
        training_plan(apprenticeship, version=version, signed_by=signed_by)


def test_gathering_the_programme_takes_the_same_queries_however_long_it_is(
    apprenticeship, other_apprenticeship, django_assert_max_num_queries
):
    _programme_of(other_apprenticeship, entries=1, reviews=1, plans=1)
    small = _queries(other_apprenticeship)

    _programme_of(apprenticeship, entries=300, reviews=10, plans=3)
    assert _queries(apprenticeship) == small
    with django_assert_max_num_queries(22):
        portfolio = portfolio_of(apprenticeship, exported_at=EXPORTED_AT)
    assert (len(portfolio.otj.lines), len(portfolio.reviews), len(portfolio.plans)) == (300, 10, 3)
