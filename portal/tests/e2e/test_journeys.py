"""The three journeys of the portal, and the wall between apprentices, in a real browser."""

import io
import re

import pytest
from django.urls import reverse
from PIL import Image
from playwright.sync_api import expect
from pypdf import PdfReader

from evidence.models import EvidenceItem
from evidence.tests.factories import evidence
from evidence.tests.samples import PDF
from reviews.tests.helpers import signed_off

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def cell(page, code: str):
    """A square of the coverage grid; its accessible name says its state in words."""
    return page.locator(f".coverage-grid a[data-ksb='{code}']")


@pytest.fixture
def evidence_files(tmp_path):
    """A real photo and a real PDF on disk, as an apprentice would pick them."""
    photo = tmp_path / "analyser-qc-chart.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (32, 128, 192)).save(buffer, "JPEG", quality=80)
    photo.write_bytes(buffer.getvalue())
    procedure = tmp_path / "qc-procedure.pdf"
    procedure.write_bytes(PDF)
    return [photo, procedure]


def test_apprentice_logs_maps_and_submits_evidence(visit, apprenticeship, evidence_files, st0220):
    k1, s18 = (st0220.ksbs.get(kind=c[0], number=int(c[1:])) for c in ("K1", "S18"))
    me = visit("apprentice")
    page = me.page
    page.goto("/accounts/sign-in/")
    me.assert_accessible()
    me.screenshot("sign-in")
    me.sign_in(apprenticeship.apprentice.email)

    expect(page).to_have_url(re.compile(r"/portfolio/$"))
    expect(cell(page, "K1")).to_have_accessible_name(re.compile(r"^K1 No evidence yet"))
    me.assert_accessible()
    me.screenshot("home-before", phone=True)

    page.get_by_role("link", name="Add evidence").first.click()
    expect(page.locator("h1")).to_have_text("Add evidence")
    me.assert_accessible()

    # Keyboard only for the text, the KSB picker and the button; files come from the chooser.
    page.locator("#id_title").focus()
    page.keyboard.type("Daily QC on the haematology analyser")
    page.fill("#id_activity_date", "2026-11-20")
    page.locator("#id_evidence_type").focus()
    page.select_option("#id_evidence_type", label=EvidenceItem.Type.OBSERVATION.label)
    page.locator("#id_reflection").focus()
    page.keyboard.type("I ran the morning QC, spotted a shift on level 2 and recalibrated with my supervisor.")
    page.set_input_files("input[type=file][name=files]", [str(p) for p in evidence_files])
    page.fill("[data-ksb-filter]", "K1")
    for ksb, note in ((k1, "Followed the QC procedure"), (s18, "Recorded and reported the result")):
        page.fill("[data-ksb-filter]", ksb.code.lower())
        page.locator(f"input[name=ksb_{ksb.pk}]").focus()
        page.keyboard.press("Space")
        page.locator(f"input[name=note_{ksb.pk}]").focus()
        page.keyboard.type(note)
    page.fill("[data-ksb-filter]", "")
    expect(page.locator("tr[data-ksb-row].is-mapped")).to_have_count(2)
    me.screenshot("evidence-form")

    # The bar is shown while the files go up; on loopback the upload is over in a moment, so
    # each change to the bar is noted where the page that follows can still read it.
    page.evaluate(
        """() => {
            const box = document.getElementById("upload-progress");
            new MutationObserver(() => {
                if (!box.classList.contains("d-none")) {
                    sessionStorage.setItem("uploadShown", "yes");
                    sessionStorage.setItem("uploadPercent", box.getAttribute("aria-valuenow"));
                }
            }).observe(box, {attributes: true});
        }"""
    )
    page.locator("button[name=save]").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Draft saved.")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('uploadShown')") == "yes"
    assert page.evaluate("sessionStorage.getItem('uploadPercent')") == "100"
    item = EvidenceItem.objects.get(apprenticeship=apprenticeship)
    expect(page).to_have_url(re.compile(rf"/evidence/{item.pk}/$"))
    expect(page.locator("main")).to_contain_text("analyser-qc-chart.jpg")
    expect(page.locator("main")).to_contain_text("qc-procedure.pdf")
    expect(page.locator("main")).to_contain_text("Recorded and reported the result")
    me.assert_accessible()
    me.screenshot("evidence-draft", phone=True)

    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Submitted.")).to_be_visible()
    item.refresh_from_db()
    assert item.status == EvidenceItem.Status.SUBMITTED

    page.get_by_role("link", name="My portfolio").first.click()
    expect(cell(page, "K1")).to_have_accessible_name(re.compile(r"^K1 Submitted, 1 item"))
    expect(cell(page, "S18")).to_have_accessible_name(re.compile(r"^S18 Submitted, 1 item"))
    expect(cell(page, "K2")).to_have_accessible_name(re.compile(r"^K2 No evidence yet"))
    me.assert_accessible()
    me.screenshot("home", phone=True)


def test_assessor_returns_then_accepts_and_signs_off(visit, apprenticeship):
    item = evidence(
        apprenticeship, title="QC on the analyser", codes=("K1",), files=("qc-chart.png", "procedure.pdf"), submit=True
    )
    assessor = visit("assessor")
    page = assessor.page
    assessor.sign_in(apprenticeship.assessor.email)
    expect(page).to_have_url(re.compile(r"/assessor/$"))
    assessor.assert_accessible()
    assessor.screenshot("queue")

    page.get_by_role("link", name="QC on the analyser").first.click()
    expect(page).to_have_url(re.compile(rf"/reviews/evidence/{item.pk}/$"))
    preview = page.locator("img.preview-image")
    preview.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=preview.element_handle())
    frame = page.locator("iframe[title='Preview of procedure.pdf']")
    expect(frame).to_have_count(1)
    answer = page.request.get(frame.get_attribute("src"))
    assert answer.ok and answer.headers["content-type"] == "application/pdf"
    assessor.assert_accessible()
    assessor.screenshot("review", phone=True)

    # The decision by keyboard alone: type the feedback, tab to the button, press Enter.
    page.locator("#return-heading ~ form textarea[name=feedback]").focus()
    page.keyboard.type("Say what the shift was and how you knew the recalibration worked.")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Return for revision")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Returned")).to_be_visible()

    me = visit("apprentice")
    mine = me.page
    me.sign_in(apprenticeship.apprentice.email)
    mine.goto(f"/evidence/{item.pk}/")
    expect(mine.get_by_label("Assessor's decision")).to_contain_text("how you knew the recalibration worked")
    me.assert_accessible()
    me.screenshot("returned")
    mine.get_by_role("button", name="Revise and resubmit").click()
    expect(mine.get_by_role("status").filter(has_text="A new version is ready")).to_be_visible()
    mine.fill("#id_reflection", "The level 2 control read 3 SD high; after recalibration both levels were in range.")
    mine.locator("button[name=submit]").click()
    expect(mine.get_by_role("status").filter(has_text="Submitted.")).to_be_visible()

    page.goto(f"/reviews/evidence/{item.pk}/")
    expect(page.locator("main")).to_contain_text("both levels were in range")
    expect(page.locator("main")).to_contain_text("Earlier versions and feedback")
    page.get_by_role("button", name="Accept evidence").click()
    expect(page.get_by_role("status").filter(has_text="Accepted")).to_be_visible()

    page.goto(f"/apprenticeships/{apprenticeship.pk}/ksbs/K1/")
    assessor.assert_accessible()
    page.locator("input[name=versions]").first.check()
    page.fill("textarea[name=comment]", "Both versions together show K1 in full.")
    assessor.screenshot("sign-off")
    page.get_by_role("button", name="Sign off K1").click()
    expect(page.locator("main")).to_contain_text("Signed off")

    page.goto(f"/apprenticeships/{apprenticeship.pk}/")
    expect(cell(page, "K1")).to_have_accessible_name(re.compile(r"^K1 Signed off"))
    assessor.assert_accessible()
    assessor.screenshot("apprenticeship")

    mine.goto("/portfolio/")
    expect(cell(mine, "K1")).to_have_accessible_name(re.compile(r"^K1 Signed off"))
    me.screenshot("home-signed-off")


def test_provider_admin_exports_a_portfolio_pdf(visit, apprenticeship, provider_admin):
    signed_off(apprenticeship, "K1")
    admin = visit("provider-admin")
    page = admin.page
    admin.sign_in(provider_admin.email)
    expect(page).to_have_url(re.compile(r"/provider/$"))
    row = page.locator(f"#cohort-{apprenticeship.pk}")
    # The heatmap gives each apprentice's states in words as well as colours.
    expect(row.locator(".heatmap-counts")).to_contain_text("1 signed off")
    admin.assert_accessible()
    admin.screenshot("heatmap", phone=True)

    row.get_by_role("link", name=str(apprenticeship.apprentice)).click()
    page.get_by_role("button", name="Export portfolio PDF").click()
    expect(page).to_have_url(re.compile(r"/exports/\d+/$"))
    status = page.locator("#export-status")
    expect(status).to_be_visible()
    # Tests run the export in-process, so it is done when the page opens; with a worker the
    # page polls #export-status and the bar fills until this link replaces it.
    download_link = status.locator("#export-download")
    expect(download_link).to_be_visible()
    expect(status).not_to_have_attribute("hx-get", re.compile(".+"))
    admin.assert_accessible()
    admin.screenshot("export")

    with page.expect_download() as downloading:
        download_link.click()
    download = downloading.value
    assert download.suggested_filename.endswith(".pdf")
    text = "\n".join(p.extract_text() for p in PdfReader(download.path()).pages)
    assert apprenticeship.apprentice.get_full_name() in text
    assert re.search(r"K1.*Signed off", text, re.S)


def test_an_apprentice_cannot_open_anothers_evidence_or_files(visit, apprenticeship, other_apprenticeship):
    item = evidence(apprenticeship, files=("qc-chart.png", "procedure.pdf"))
    stranger = visit("other-apprentice")
    page = stranger.page
    stranger.sign_in(other_apprenticeship.apprentice.email)
    addresses = [
        f"/evidence/{item.pk}/",
        f"/evidence/{item.pk}/edit/",
        f"/evidence/{item.pk}/versions/1/",
        *(f.get_absolute_url() for f in item.versions.get().files.all()),
        *(f"{f.get_absolute_url()}?preview=1" for f in item.versions.get().files.all()),
        f"/reviews/evidence/{item.pk}/",
        f"/apprenticeships/{apprenticeship.pk}/",
    ]
    for address in addresses:
        answer = page.goto(address)
        assert answer.status in (403, 404), address
        expect(page.locator("main, body").first).not_to_contain_text("qc-chart.png")
    stranger.screenshot("refused")
    answer = page.request.post(reverse("evidence:submit", args=[item.pk]), fail_on_status_code=False)
    assert answer.status in (403, 404)


@pytest.mark.parametrize(
    "who, address",
    [
        ("mentor", "/mentor/"),
        ("iqa", "/iqa/"),
        ("apprentice", "/standards/"),
        ("apprentice", "/standards/ST0220/1.0/"),
        ("apprentice", "/evidence/"),
    ],
)
def test_other_main_pages_pass_axe(visit, apprenticeship, iqa, who, address, request):
    person = {"mentor": apprenticeship.mentor, "iqa": iqa, "apprentice": apprenticeship.apprentice}[who]
    evidence(apprenticeship, submit=True)
    visitor = visit(who)
    visitor.sign_in(person.email)
    answer = visitor.page.goto(address)
    assert answer.ok
    visitor.assert_accessible()
    visitor.screenshot(address.strip("/").replace("/", "-") or "home")
