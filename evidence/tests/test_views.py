"""The portfolio in the browser: who sees what, the forms, files, and the dashboard."""

from pathlib import Path

import pytest

from evidence.models import EvidenceFile, EvidenceItem
from evidence.tests.factories import evidence, portfolio_of_200
from evidence.tests.samples import upload

READERS = ["apprentice", "assessor", "mentor", "provider_admin", "iqa"]
STRANGERS = ["other_apprentice", "other_assessor", "outsider"]


@pytest.fixture
def submitted(apprenticeship):
    return evidence(
        apprenticeship, title="QC on the analyser", codes=("K1", "S18"), files=("chart.png", "sop.pdf"), submit=True
    )


@pytest.fixture
def draft(apprenticeship):
    return evidence(apprenticeship, title="Half-written reflection", files=("notes.txt",))


def form_data(ksbs_by_code, **overrides):
    data = {
        "title": "Safeguarding referral",
        "activity_date": "2025-11-10",
        "evidence_type": "witness_testimony",
        "reflection": "I recognised the signs and followed the trust's procedure.",
        f"ksb_{ksbs_by_code['K24'].pk}": "on",
        f"note_{ksbs_by_code['K24'].pk}": "Made a referral with my supervisor",
    }
    return data | overrides


@pytest.fixture
def ksbs(st0220):
    return {ksb.code: ksb for ksb in st0220.ksbs.all()}


# --- Who sees what -----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", READERS)
def test_people_of_the_apprenticeship_read_submitted_evidence(client, submitted, persona, request):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(f"/evidence/{submitted.pk}/")
    assert response.status_code == 200
    assert "QC on the analyser" in response.content.decode()


@pytest.mark.parametrize("persona", STRANGERS)
def test_nobody_else_learns_the_item_exists(client, submitted, other_apprenticeship, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(f"/evidence/{submitted.pk}/").status_code == 404
    assert client.get(f"/evidence/{submitted.pk}/versions/1/").status_code == 404
    for f in submitted.versions.get().files.all():
        assert client.get(f"/evidence/files/{f.pk}/").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, submitted):
    f = submitted.versions.get().files.first()
    for url in (f"/evidence/{submitted.pk}/", f"/evidence/files/{f.pk}/", "/evidence/", "/portfolio/"):
        assert client.get(url)["Location"].startswith("/accounts/sign-in/")


@pytest.mark.parametrize("persona", ["assessor", "mentor", "provider_admin", "iqa"])
def test_a_draft_is_the_apprentices_own(client, draft, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(f"/evidence/{draft.pk}/").status_code == 404
    assert client.get(f"/evidence/files/{draft.versions.get().files.get().pk}/").status_code == 404


def test_others_see_the_submitted_version_not_the_new_draft(client, apprenticeship, submitted, assessor):
    from evidence import services

    services.withdraw_evidence(item=submitted, by=apprenticeship.apprentice)
    fields = {
        "title": "Secret new title",
        "activity_date": "2025-10-06",
        "evidence_type": "observation",
        "reflection": "x",
    }
    services.update_draft(item=submitted, by=apprenticeship.apprentice, **fields, uploads=[upload("new.csv")])
    new_file = EvidenceFile.objects.get(original_name="new.csv")
    client.force_login(assessor)
    response = client.get(f"/evidence/{submitted.pk}/")
    assert "QC on the analyser" in response.content.decode()
    assert "Secret new title" not in response.content.decode()
    assert client.get(f"/evidence/{submitted.pk}/versions/2/").status_code == 404
    assert client.get(f"/evidence/files/{new_file.pk}/").status_code == 404
    listing = client.get("/evidence/", {"q": "Secret"})
    assert listing.context["items"] == []


@pytest.mark.parametrize("persona", ["assessor", "provider_admin", "other_apprentice", "outsider"])
def test_only_the_apprentice_can_change_their_evidence(client, draft, submitted, persona, request):
    client.force_login(request.getfixturevalue(persona))
    for url in (
        f"/evidence/{draft.pk}/edit/",
        f"/evidence/{draft.pk}/submit/",
        f"/evidence/{draft.pk}/delete/",
        f"/evidence/{submitted.pk}/withdraw/",
        f"/evidence/{submitted.pk}/revise/",
    ):
        response = client.post(url)
        assert response.status_code in (403, 404), url
    draft.refresh_from_db()
    submitted.refresh_from_db()
    assert (draft.status, submitted.status) == ("draft", "submitted")


def test_another_apprentice_cannot_reach_my_items_by_changing_the_id(
    client, draft, submitted, other_apprentice, other_apprenticeship
):
    client.force_login(other_apprentice)
    for item in (draft, submitted):
        assert client.get(f"/evidence/{item.pk}/").status_code == 404
        assert client.get(f"/evidence/{item.pk}/edit/").status_code == 404
    assert client.get("/evidence/").context["items"] == []


# --- Files ------------------------------------------------------------------------------------


@pytest.mark.storage
def test_files_download_as_attachments_with_nosniff(client, submitted, assessor):
    pdf = submitted.versions.get().files.get(original_name="sop.pdf")
    client.force_login(assessor)
    response = client.get(f"/evidence/files/{pdf.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="sop.pdf"')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"%PDF")


@pytest.mark.storage
def test_images_and_pdfs_preview_inline(client, submitted, apprentice):
    client.force_login(apprentice)
    for f in submitted.versions.get().files.all():
        response = client.get(f"/evidence/files/{f.pk}/", {"preview": "1"})
        assert response["Content-Disposition"].startswith("inline")
        assert response["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.storage
def test_other_files_are_never_inline(client, draft, apprentice):
    client.force_login(apprentice)
    f = draft.versions.get().files.get()
    response = client.get(f"/evidence/files/{f.pk}/", {"preview": "1"})
    assert response["Content-Disposition"].startswith("attachment")


# --- Creating and editing --------------------------------------------------------------------


@pytest.mark.storage
def test_apprentice_creates_a_draft_with_files_and_mappings(client, apprenticeship, apprentice, ksbs):
    client.force_login(apprentice)
    data = form_data(ksbs, files=[upload("referral.pdf"), upload("ward.jpg")], save="")
    response = client.post("/evidence/new/", data)
    item = EvidenceItem.objects.get()
    assert response["Location"] == f"/evidence/{item.pk}/"
    version = item.versions.get()
    assert version.title == "Safeguarding referral"
    assert [(m.ksb.code, m.note) for m in version.mappings.all()] == [("K24", "Made a referral with my supervisor")]
    assert sorted(f.original_name for f in version.files.all()) == ["referral.pdf", "ward.jpg"]
    assert item.status == "draft"


@pytest.mark.storage
def test_save_and_submit_in_one_go(client, apprenticeship, apprentice, ksbs):
    client.force_login(apprentice)
    client.post("/evidence/new/", form_data(ksbs, files=[upload("referral.pdf")], submit=""))
    item = EvidenceItem.objects.get()
    assert item.status == "submitted"
    assert item.versions.get().submitted_at is not None


def test_save_and_submit_when_incomplete_keeps_the_draft_and_says_what_is_missing(
    client, apprenticeship, apprentice, ksbs
):
    client.force_login(apprentice)
    response = client.post("/evidence/new/", form_data(ksbs, submit=""), follow=True)
    item = EvidenceItem.objects.get()
    assert item.status == "draft"
    assert response.redirect_chain[-1][0] == f"/evidence/{item.pk}/edit/"
    body = response.content.decode()
    assert "Your draft is saved, but it cannot be submitted yet" in body
    assert "Add at least one file." in body


def test_a_rejected_file_is_explained_and_the_rest_is_kept(client, apprenticeship, apprentice, ksbs, settings):
    client.force_login(apprentice)
    data = form_data(ksbs, files=[upload("ok.pdf"), upload("payslip.pdf", "exe")], save="")
    response = client.post("/evidence/new/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "payslip.pdf is not a file type the portfolio accepts" in body
    assert 'value="Safeguarding referral"' in body
    assert "I recognised the signs" in body
    assert "Made a referral with my supervisor" in body
    assert EvidenceItem.objects.count() == 0
    assert not any(p.is_file() for p in Path(settings.MEDIA_ROOT).rglob("*"))


def test_too_many_files_at_once_are_refused(client, apprenticeship, apprentice, ksbs, settings):
    settings.MAX_FILES_PER_UPLOAD = 2
    client.force_login(apprentice)
    data = form_data(ksbs, files=[upload(f"{n}.pdf") for n in range(3)], save="")
    response = client.post("/evidence/new/", data)
    assert "Choose at most 2 files at a time; you chose 3." in response.content.decode()
    assert EvidenceItem.objects.count() == 0


def test_missing_title_and_date_are_reported(client, apprenticeship, apprentice, ksbs):
    client.force_login(apprentice)
    response = client.post("/evidence/new/", form_data(ksbs, title="", activity_date="not a date", save=""))
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"title", "activity_date"}


def test_a_note_without_a_tick_is_questioned(client, apprenticeship, apprentice, ksbs):
    client.force_login(apprentice)
    data = form_data(ksbs, save="", **{f"note_{ksbs['S7'].pk}": "Reflected on it"})
    response = client.post("/evidence/new/", data)
    assert "You wrote a note for S7: tick it to map it, or clear the note." in response.content.decode()


def test_a_ksb_of_another_standard_slipped_into_the_form_is_ignored(client, apprenticeship, apprentice, ksbs):
    from standards.tests.factories import standard_with_ksbs

    foreign = standard_with_ksbs(reference="ST0248").ksbs.first()
    client.force_login(apprentice)
    data = form_data(ksbs, save="", **{f"ksb_{foreign.pk}": "on", f"note_{foreign.pk}": "x"})
    client.post("/evidence/new/", data)
    assert [m.ksb.code for m in EvidenceItem.objects.get().versions.get().mappings.all()] == ["K24"]


@pytest.mark.storage
def test_editing_a_draft(client, draft, apprentice, ksbs):
    client.force_login(apprentice)
    notes = draft.versions.get().files.get()
    data = form_data(ksbs, title="Finished reflection", remove_files=[notes.pk], files=[upload("final.pdf")], save="")
    response = client.post(f"/evidence/{draft.pk}/edit/", data)
    assert response["Location"] == f"/evidence/{draft.pk}/"
    version = draft.versions.get()
    assert version.title == "Finished reflection"
    assert [f.original_name for f in version.files.all()] == ["final.pdf"]


def test_a_submitted_item_cannot_be_edited(client, submitted, apprentice):
    client.force_login(apprentice)
    response = client.get(f"/evidence/{submitted.pk}/edit/", follow=True)
    assert "submitted, so it cannot be edited" in response.content.decode()


def test_withdraw_then_resubmit(client, submitted, apprentice):
    client.force_login(apprentice)
    client.post(f"/evidence/{submitted.pk}/withdraw/")
    submitted.refresh_from_db()
    assert submitted.status == "draft"
    client.post(f"/evidence/{submitted.pk}/submit/")
    submitted.refresh_from_db()
    assert submitted.status == "submitted"
    assert list(submitted.versions.values_list("number", flat=True)) == [1, 2]


def test_revise_a_returned_item(client, submitted, apprentice):
    submitted.return_for_revision()
    submitted.save()
    client.force_login(apprentice)
    response = client.post(f"/evidence/{submitted.pk}/revise/")
    assert response["Location"] == f"/evidence/{submitted.pk}/edit/"
    assert submitted.versions.count() == 2


def test_an_illegal_action_is_explained(client, draft, apprentice):
    client.force_login(apprentice)
    response = client.post(f"/evidence/{draft.pk}/withdraw/", follow=True)
    assert "Cannot withdraw evidence that is draft" in response.content.decode()


def test_actions_need_post(client, draft, apprentice):
    client.force_login(apprentice)
    assert client.get(f"/evidence/{draft.pk}/submit/").status_code == 405


@pytest.mark.storage
def test_deleting_a_draft(client, draft, apprentice):
    client.force_login(apprentice)
    response = client.post(f"/evidence/{draft.pk}/delete/")
    assert response["Location"] == "/evidence/"
    assert not EvidenceItem.objects.filter(pk=draft.pk).exists()


def test_earlier_versions_stay_readable(client, submitted, apprentice, assessor):
    from evidence import services

    submitted.return_for_revision()
    submitted.save()
    services.revise_evidence(item=submitted, by=apprentice)
    services.update_draft(
        item=submitted,
        by=apprentice,
        title="Version two",
        activity_date="2025-10-07",
        evidence_type="observation",
        reflection="Better",
    )
    client.force_login(apprentice)
    body = client.get(f"/evidence/{submitted.pk}/versions/1/").content.decode()
    assert "QC on the analyser" in body and "an earlier version" in body
    assert "sop.pdf" in body
    assert "Version two" in client.get(f"/evidence/{submitted.pk}/").content.decode()
    assert client.get(f"/evidence/{submitted.pk}/versions/9/").status_code == 404


# --- Lists and the dashboard -----------------------------------------------------------------


def test_list_filters_by_status_type_ksb_and_words(client, apprenticeship, apprentice):
    evidence(apprenticeship, title="Pipette calibration", codes=("S13",), evidence_type="work_product", submit=True)
    evidence(apprenticeship, title="Audit of sample labelling", codes=("S25",), evidence_type="observation")
    client.force_login(apprentice)

    def titles(**params):
        return [i.shown.title for i in client.get("/evidence/", params).context["items"]]

    assert titles(status="submitted") == ["Pipette calibration"]
    assert titles(type="observation") == ["Audit of sample labelling"]
    assert titles(ksb="s13") == ["Pipette calibration"]
    assert titles(q="labelling") == ["Audit of sample labelling"]
    assert sorted(titles()) == ["Audit of sample labelling", "Pipette calibration"]


def test_a_bad_ksb_filter_is_explained(client, apprenticeship, apprentice):
    client.force_login(apprentice)
    response = client.get("/evidence/", {"ksb": "Q9"})
    assert "Enter a KSB code such as K1, S18 or B1." in response.content.decode()


def test_provider_admin_lists_submitted_evidence_of_their_apprentices(
    client, submitted, draft, provider_admin, outsider_apprenticeship
):
    evidence(outsider_apprenticeship, title="Elsewhere", submit=True)
    client.force_login(provider_admin)
    items = client.get("/evidence/").context["items"]
    assert [i.shown.title for i in items] == ["QC on the analyser"]


def test_an_apprentice_without_an_apprenticeship_is_told_so(client, apprentice):
    client.force_login(apprentice)
    assert "not enrolled on an apprenticeship" in client.get("/portfolio/").content.decode()
    assert "not enrolled on an apprenticeship" in client.get("/evidence/new/").content.decode()


def test_the_portfolio_home_is_for_apprentices(client, assessor):
    client.force_login(assessor)
    assert client.get("/portfolio/").status_code == 403


@pytest.fixture
def big_portfolio(apprenticeship):
    return portfolio_of_200(apprenticeship)


def test_evidence_list_queries_do_not_grow_with_items(client, big_portfolio, assessor, django_assert_max_num_queries):
    for person in (big_portfolio.apprentice, assessor):
        client.force_login(person)
        with django_assert_max_num_queries(12):
            response = client.get("/evidence/", {"page": "3"})
        assert len(response.context["items"]) == 25
        assert response.context["page"].paginator.count == (200 if person == big_portfolio.apprentice else 150)
    with django_assert_max_num_queries(12):
        response = client.get("/evidence/", {"ksb": "K1", "q": "Item", "type": "reflective_account"})
    assert response.context["items"]


def test_the_edit_page_shows_the_draft_as_saved(client, draft, apprentice):
    client.force_login(apprentice)
    response = client.get(f"/evidence/{draft.pk}/edit/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'value="Half-written reflection"' in body
    assert "notes.txt" in body and 'name="remove_files"' in body
    k1 = draft.versions.get().mappings.get().ksb
    assert f'name="ksb_{k1.pk}" id="id_ksb_{k1.pk}" checked' in body
    assert 'value="Shows K1 in practice"' in body


def test_the_new_evidence_page_offers_every_ksb_of_the_standard(client, apprenticeship, apprentice):
    client.force_login(apprentice)
    response = client.get("/evidence/new/")
    assert response.status_code == 200
    assert len(response.context["form"].ksb_rows()) == 65
    assert "data-upload-progress" in response.content.decode()


def test_an_activity_dated_in_the_future_is_refused_and_everything_typed_is_kept(client, apprenticeship, apprentice):
    import datetime

    from django.utils import timezone

    client.force_login(apprentice)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    response = client.post(
        "/evidence/new/",
        {"title": "Tomorrow's audit", "activity_date": tomorrow.isoformat(), "evidence_type": "work_product"},
    )
    assert response.status_code == 200
    assert "cannot be in the future" in response.content.decode()
    assert "Tomorrow&#x27;s audit" in response.content.decode()
    assert not apprenticeship.evidence_items.exists()
