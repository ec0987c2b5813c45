"""The portfolio PDF, rendered for real and read back: what an end-point assessor will open."""

import datetime
import hashlib
import io
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader
from weasyprint import HTML

from evidence import services as evidence_services
from evidence.images import PRINT_MAX_SIDE, make_print_copy
from evidence.models import EvidenceFile, EvidenceItem
from evidence.tests.factories import evidence, portfolio_of_200
from evidence.tests.samples import PDF, upload
from evidence.tests.test_images import phone_photo
from portal.models import Apprenticeship
from portal.tests.factories import ApprenticeFactory, ApprenticeshipFactory
from reviews import services
from reviews.models import SignOff
from reviews.pdf import PortfolioURLFetcher, RefusedURL, portfolio_filename, render_portfolio
from reviews.portfolio import portfolio_of
from reviews.tests.helpers import accepted, ksb, signed_off

EXPORTED_AT = datetime.datetime(2026, 3, 4, 14, 5, tzinfo=datetime.UTC)
PHOTO_TITLE = "Observed venepuncture in the outpatient clinic"
DRAFT_TITLE = "Notes for a reflective account I have not finished"


def _submit(apprenticeship, *, title, codes, uploads=(), evidence_type=EvidenceItem.Type.OBSERVATION):
    standard = apprenticeship.standard
    item = evidence_services.create_evidence(
        apprenticeship=apprenticeship,
        by=apprenticeship.apprentice,
        title=title,
        activity_date=datetime.date(2025, 11, 12),
        evidence_type=evidence_type,
        reflection=f"My reflection on {title.lower()}: what I did and what I learned.",
        mappings={standard.ksbs.get(kind=c[0], number=int(c[1:])): f"How {title} shows {c}" for c in codes},
        uploads=list(uploads),
    )
    evidence_services.submit_evidence(item=item, by=apprenticeship.apprentice)
    item.refresh_from_db()
    return item


@pytest.fixture
def portfolio(apprenticeship, assessor):
    """A portfolio with a signed-off photo, documents, a revised item, a revoked sign-off and a draft."""
    photo = _submit(
        apprenticeship,
        title=PHOTO_TITLE,
        codes=("S1", "K9"),
        uploads=[
            upload("venepuncture.jpg", content=phone_photo(4000, 3000)),
            upload("observation-record.pdf"),
            upload("sample-results.csv"),
        ],
    )
    services.accept_evidence(item=photo, by=assessor, feedback="A confident, well-documented observation.")
    version = photo.versions.get()
    services.sign_off_ksb(
        apprenticeship=apprenticeship,
        ksb=ksb(apprenticeship, "S1"),
        versions=[version],
        by=assessor,
        comment="Observed performing venepuncture to the Trust's standard.",
    )
    wrong = services.sign_off_ksb(
        apprenticeship=apprenticeship,
        ksb=ksb(apprenticeship, "K9"),
        versions=[version],
        by=assessor,
        comment="Signed against the wrong statement.",
    )
    services.revoke_sign_off(sign_off=wrong, by=assessor, reason="K9 needs evidence of reflection, not practice.")

    revised = _submit(apprenticeship, title="Handover to the night shift", codes=("S5",), uploads=[upload("scan.pdf")])
    services.return_evidence(item=revised, by=assessor, feedback="Say what you handed over and why it mattered.")
    evidence_services.revise_evidence(item=revised, by=apprenticeship.apprentice)
    evidence_services.submit_evidence(item=revised, by=apprenticeship.apprentice)

    # Another file with the same name as one already attached.
    another_scan = upload("scan.pdf", content=PDF + b"% another scan\n")
    _submit(apprenticeship, title="Quality control log", codes=("S18",), uploads=[another_scan])
    evidence(apprenticeship, title=DRAFT_TITLE, codes=("B1",), files=("notes.txt",))
    return apprenticeship


def render(apprenticeship, **kwargs) -> PdfReader:
    return PdfReader(io.BytesIO(render_portfolio(apprenticeship, exported_at=EXPORTED_AT, **kwargs)))


def text_of(reader: PdfReader) -> str:
    """The text of every page, lines joined, as a reader sees it regardless of where lines wrap."""
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def outline_titles(outline) -> list:
    return [outline_titles(node) if isinstance(node, list) else node.title for node in outline]


def flat(titles) -> list[str]:
    return [t for node in titles for t in (flat(node) if isinstance(node, list) else [node])]


def test_the_pdf_shows_every_ksb_the_apprentice_and_what_was_submitted(portfolio):
    reader = render(portfolio)
    text = text_of(reader)
    standard = portfolio.standard

    assert len(reader.pages) > 10
    assert str(portfolio.apprentice) in text
    assert "Northfield College" in text and "Riverside Hospitals" in text
    for ksb_ in standard.ksbs.all():
        assert ksb_.code in text
    assert standard.ksbs.get(kind="S", number=1).text[:40] in text
    assert PHOTO_TITLE in text
    assert "Observed performing venepuncture to the Trust's standard." in text
    assert "A confident, well-documented observation." in text
    # The returned version's feedback stays on record beside the resubmission.
    assert "Say what you handed over and why it mattered." in text
    assert "K9 needs evidence of reflection, not practice." in text
    assert DRAFT_TITLE not in text, "drafts are the apprentice's own and never exported"


def test_bookmarks_follow_the_sections_and_every_ksb(portfolio):
    outline = outline_titles(render(portfolio).outline)
    top = [title for title in outline if isinstance(title, str)]
    assert top == [
        "Contents",
        "Summary of KSBs",
        "Knowledge, skills and behaviours",
        "Evidence",
        "Off-the-job training",
        "Progress reviews",
        "Training plan",
        "Sign-off history",
        "Audit log",
    ]
    titles = flat(outline)
    assert "Knowledge" in titles and "Skills" in titles and "Behaviours" in titles
    assert any(title.startswith("K1 ") for title in titles)
    assert any(title.startswith("B1 ") for title in titles)
    assert any(PHOTO_TITLE in title for title in titles)


def test_every_file_not_drawn_travels_inside_the_pdf_with_its_sha256(portfolio):
    reader = render(portfolio)
    attachments = reader.attachments
    stored = {f.original_name: f for f in EvidenceFile.objects.filter(apprenticeship=portfolio)}

    assert set(attachments) == {"observation-record.pdf", "sample-results.csv", "scan.pdf", "scan (E3).pdf"}
    assert "venepuncture.jpg" not in attachments, "images are drawn from print copies, not attached"
    for contents in attachments.values():
        [content] = contents
        assert hashlib.sha256(content).hexdigest() in {f.sha256 for f in stored.values()}
    assert hashlib.sha256(attachments["observation-record.pdf"][0]).hexdigest() == (
        stored["observation-record.pdf"].sha256
    )
    assert "notes.txt" not in attachments


@pytest.mark.parametrize("copy_made", [True, False], ids=["print-copy-stored", "print-copy-not-made-yet"])
def test_images_are_drawn_from_print_copies_never_the_original(portfolio, copy_made):
    photo = EvidenceFile.objects.get(original_name="venepuncture.jpg")
    if copy_made:
        make_print_copy(photo)
    pdf = render_portfolio(portfolio, exported_at=EXPORTED_AT)
    reader = PdfReader(io.BytesIO(pdf))

    sizes = [image.image.size for page in reader.pages for image in page.images]
    assert sizes, "the photo is on a page"
    assert all(max(size) <= PRINT_MAX_SIDE for size in sizes)
    assert (4000, 3000) not in sizes
    assert len(pdf) < photo.size, "the PDF is smaller than the one original photo"


def test_a_print_copy_lost_from_storage_is_made_again_from_the_original(portfolio):
    photo = EvidenceFile.objects.get(original_name="venepuncture.jpg")
    make_print_copy(photo)
    photo.print_copy.storage.delete(photo.print_copy.name)
    reader = render(portfolio)
    sizes = [image.image.size for page in reader.pages for image in page.images]
    assert (2000, 1500) in sizes


def test_a_file_missing_from_storage_fails_the_render_naming_it(portfolio):
    record = EvidenceFile.objects.get(original_name="observation-record.pdf")
    record.file.storage.delete(record.file.name)
    with pytest.raises(FileNotFoundError) as failure:
        render_portfolio(portfolio, exported_at=EXPORTED_AT)
    assert failure.value.filename == "observation-record.pdf"


def test_document_metadata_pdf_a_and_progress_reports(portfolio):
    seen: list[int] = []
    reader = render(portfolio, on_progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 100 and len(seen) == 3, "HTML, layout, written"
    metadata = reader.metadata
    assert metadata.title == f"Portfolio of evidence: {portfolio.apprentice}, ST0220 {portfolio.standard.title}"
    assert metadata.author == str(portfolio.apprentice)
    assert metadata.subject.startswith("ST0220 ") and "level 4" in metadata.subject
    xmp = reader.xmp_metadata.stream.get_data().decode()
    assert re.search(r"pdfaid:part(>|=\")3", xmp) and re.search(r"pdfaid:conformance(>|=\")B", xmp)


def test_the_file_name_is_ascii_and_names_the_standard_and_apprentice(st0220, provider):
    person = ApprenticeFactory(organisation=provider, first_name="Siân", last_name="Ó Briain-Łukasz")
    apprenticeship = ApprenticeshipFactory(apprentice=person, provider=provider, standard=st0220)
    name = portfolio_filename(apprenticeship)
    assert name == "portfolio-ST0220-sian-o-briain-ukasz.pdf"
    assert name.isascii()


# --- What WeasyPrint may fetch -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "/etc/passwd",
        "http://example.org/logo.png",
        "https://example.org/logo.png",
        "data:image/png;base64,iVBORw0KGgo=",
        "portfolio:static/../../../../etc/passwd",
        "portfolio:static/css/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "portfolio:static//etc/passwd",
        "portfolio:image/../../etc/passwd",
        "portfolio:image/1/../../etc/passwd",
        "portfolio:evidence/1",
        "portfolio:/dev/zero",
    ],
)
def test_the_fetcher_refuses_anything_but_its_own_urls(url):
    with pytest.raises(RefusedURL):
        PortfolioURLFetcher().fetch(url)


def test_the_fetcher_serves_static_files_and_only_this_portfolios_images(portfolio):
    fetcher = PortfolioURLFetcher()
    assert b"coverage" in fetcher.fetch("portfolio:static/css/portal.css").read()
    photo = EvidenceFile.objects.get(original_name="venepuncture.jpg")
    with pytest.raises(RefusedURL):
        fetcher.fetch(f"portfolio:image/{photo.pk}")  # not handed to this fetcher
    make_print_copy(photo)
    photo.refresh_from_db()
    served = PortfolioURLFetcher({photo.pk: photo}).fetch(f"portfolio:image/{photo.pk}")
    assert served.content_type == "image/jpeg"
    with photo.print_copy.open("rb") as handle:
        assert served.read() == handle.read()


def test_a_document_pointing_at_local_files_gets_nothing(tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(upload("x.png").read())
    fetcher = PortfolioURLFetcher()
    html = f'<img src="file://{secret}"><img src="{secret}"><link rel="stylesheet" href="http://127.0.0.1:1/x.css">'
    pdf = HTML(string=html, base_url="portfolio:", url_fetcher=fetcher).write_pdf()
    assert len(set(fetcher.failures)) == 3
    assert not [image for page in PdfReader(io.BytesIO(pdf)).pages for image in page.images]


# --- Gathering the data -----------------------------------------------------------------------


def _judged(apprenticeship, count: int, *, first: int = 2) -> None:
    """`count` items each signed off on a skill from S<first> on, and one accepted with a KSB unticked."""
    for n in range(count):
        code = f"S{first + n}"
        signed_off(apprenticeship, code, title=f"Signed item {n}", files=("qc-chart.png", "sop.pdf"))
    item = accepted(apprenticeship, codes=("K2", "K3"), untick=("K3",))
    services.record_iqa_review(
        by=_iqa(apprenticeship),
        decision=item.versions.get().decision,
        outcome="agree",
    )


def _iqa(apprenticeship):
    from portal.tests.factories import IQAFactory

    return IQAFactory(organisation=apprenticeship.provider)


def _queries(apprenticeship) -> int:
    from django.template.loader import render_to_string

    with CaptureQueriesContext(connection) as captured:
        portfolio = portfolio_of(apprenticeship, exported_at=EXPORTED_AT)
        # Everything the template reaches for, so a lazy relation would show up here.
        render_to_string(
            "reviews/pdf/portfolio.html",
            {"portfolio": portfolio, "apprenticeship": portfolio.apprenticeship, "coverage": portfolio.coverage},
        )
        for entry in portfolio.evidence:
            [stored.sha256 for stored in entry.files]
    return len(captured)


def test_gathering_the_portfolio_takes_the_same_queries_however_big_it_is(
    apprenticeship, other_apprenticeship, django_assert_max_num_queries
):
    _judged(apprenticeship, 1)
    _judged(other_apprenticeship, 1)
    small = _queries(apprenticeship)

    portfolio_of_200(other_apprenticeship)
    _judged(other_apprenticeship, 6, first=3)
    assert _queries(other_apprenticeship) == small
    with django_assert_max_num_queries(22):
        portfolio = portfolio_of(other_apprenticeship, exported_at=EXPORTED_AT)
    assert len(portfolio.evidence) == 150 + 9  # the 50 drafts of the 200 are left out
    assert SignOff.objects.filter(apprenticeship=other_apprenticeship).count() == 7


def test_only_submitted_versions_are_shown_and_the_latest_of_each(portfolio):
    gathered = portfolio_of(portfolio, exported_at=EXPORTED_AT)
    titles = [entry.version.title for entry in gathered.evidence]
    assert DRAFT_TITLE not in titles
    revised = next(entry for entry in gathered.evidence if entry.version.title == "Handover to the night shift")
    assert revised.version.number == 2 and [v.number for v in revised.earlier] == [1]
    assert revised.earlier_feedback[0][1].feedback == "Say what you handed over and why it mattered."
    s1 = next(section for section in gathered.sections if section.ksb.code == "S1")
    assert s1.sign_off and [r.entry.version.title for r in s1.relied_on] == [PHOTO_TITLE]
    k9 = next(section for section in gathered.sections if section.ksb.code == "K9")
    assert k9.sign_off is None and len(k9.revoked) == 1
    assert [line.label for line in gathered.audit_lines].count("KSB signed off") == 2


# --- The demo data, as `make run` shows it ---------------------------------------------------


def test_chloes_demo_portfolio_renders(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", stdout=io.StringIO())
    chloe = Apprenticeship.objects.get(apprentice__email="chloe.evans@demo.test")

    # How long it takes is measured by `make bench-pdf`, not here: a timed test flakes on a busy machine.
    reader = render(chloe)

    text = text_of(reader)
    assert len(reader.pages) > 15
    assert "Chloe Evans" in text and "Helen Marsh" in text
    for code in ("K13", "K18", "S13", "S14", "K24", "S21", "K6"):
        assert code in text
    files = EvidenceFile.objects.filter(apprenticeship=chloe, versions__submitted_at__isnull=False).distinct()
    expected = {f.original_name: f.sha256 for f in files if not f.is_image}
    assert {name: hashlib.sha256(c[0]).hexdigest() for name, c in reader.attachments.items()} == expected


# --- The chart the PDF shares with the web pages ----------------------------------------------


def test_the_progress_chart_is_the_same_svg_on_the_web_pages(client, apprenticeship, assessor):
    signed_off(apprenticeship, "K1")
    accepted(apprenticeship, codes=("S2",))
    for user, url in [(apprenticeship.apprentice, "/portfolio/"), (assessor, f"/apprenticeships/{apprenticeship.pk}/")]:
        client.force_login(user)
        page = client.get(url).content.decode()
        assert page.count('<svg class="progress-chart"') == 1
        assert 'role="img"' in page
        assert "Progress: 1 of 65 KSBs signed off (2%). Signed off: 1. Accepted: 1. No evidence yet: 63." in page
        assert "Knowledge: 1 signed off, 33 no evidence yet." in page
