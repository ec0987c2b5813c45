"""An apprentice's download of everything held about them: what the zip holds, and who may have it."""

import datetime
import hashlib
import io
import json
import zipfile

import pytest
from django.conf import settings

from evidence import services as evidence_services
from evidence.models import EvidenceFile
from evidence.tests.factories import evidence, otj_activity
from portal.models import Notice
from portal.tests.factories import UserFactory
from reviews import services
from reviews.models import Export, GatewayConfirmation, Party
from reviews.personal_data import archive_path
from reviews.tests.helpers import accepted, ksb
from reviews.tests.programme import progress_review, training_plan

REFLECTION = "I calibrated the coagulation analyser alone for the first time."
NOTE = "Shows how I handled the calibration failure"
FEEDBACK = "Add the batch numbers of the controls, please."
OTJ_TEXT = "Phlebotomy workshop at the training centre"
PLAN_TEXT = "Rotation through blood sciences with a weekly tutorial."
SAFEGUARDING = "Disclosed worries at home; the lead has been told."


@pytest.fixture
def record(apprenticeship, assessor, mentor, iqa, django_capture_on_commit_callbacks):
    """One apprentice's record with something of every kind the portal holds about them."""
    with django_capture_on_commit_callbacks(execute=True):
        draft = evidence(
            apprenticeship,
            title="Draft: analyser log",
            files=(),
            evidence_type="reflective_account",
            reflection="Not finished yet",
        )
        returned = evidence(
            apprenticeship,
            title="Coagulation QC",
            codes=("K2",),
            files=("notes.txt",),
            submit=True,
            reflection=REFLECTION,
        )
        services.return_evidence(item=returned, by=assessor, feedback=FEEDBACK)
        evidence_services.revise_evidence(item=returned, by=apprenticeship.apprentice)
        kept = accepted(apprenticeship, codes=("K1", "S1"), files=("chart.png", "sop.pdf"), title="Haematology QC")
        version = kept.versions.get()
        version.mappings.filter(ksb__kind="K").update(note=NOTE)
        sign_off = services.sign_off_ksb(
            apprenticeship=apprenticeship,
            ksb=ksb(apprenticeship, "K1"),
            versions=[version],
            by=assessor,
            comment="Clear evidence of K1",
        )
        services.record_iqa_review(by=iqa, outcome="agree", comment="Sound decision", sign_off=sign_off)
    otj_activity(apprenticeship, description=OTJ_TEXT, hours=2.5)
    progress_review(
        apprenticeship,
        signed_by=(Party.APPRENTICE, Party.ASSESSOR),
        safeguarding_concern=True,
        safeguarding_details=SAFEGUARDING,
    )
    training_plan(apprenticeship, text=PLAN_TEXT, signed_by=(Party.APPRENTICE,))
    GatewayConfirmation.objects.create(
        apprenticeship=apprenticeship, party="employer", confirmed_by=mentor, comment="Ready from our side"
    )
    return {"draft": draft, "returned": returned, "kept": kept, "sign_off": sign_off}


def download_zip(client, apprentice, django_capture_on_commit_callbacks) -> tuple[Export, zipfile.ZipFile]:
    client.force_login(apprentice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/my-data/export/")
    export = Export.objects.get(kind=Export.Kind.PERSONAL_DATA)
    assert response.status_code == 302 and response["Location"] == f"/my-data/exports/{export.pk}/"
    export.refresh_from_db()
    assert export.state == Export.State.DONE, export.error
    response = client.get(f"/exports/{export.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    return export, zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_the_zip_holds_every_record_about_the_apprentice(
    client, apprentice, apprenticeship, record, django_capture_on_commit_callbacks
):
    _, archive = download_zip(client, apprentice, django_capture_on_commit_callbacks)
    data = json.loads(archive.read("data.json"))

    assert data["person"]["email"] == apprentice.email
    assert data["person"]["first_name"] == apprentice.first_name
    assert "password" not in json.dumps(data["person"])
    [mine] = data["apprenticeships"]
    assert mine["standard"]["reference"] == "ST0220" and mine["start_date"] == "2025-09-01"
    assert {e["versions"][0]["title"] for e in mine["evidence"]} == {
        "Draft: analyser log",
        "Coagulation QC",
        "Haematology QC",
    }
    returned = next(e for e in mine["evidence"] if e["id"] == record["returned"].pk)
    assert returned["versions"][0]["reflection"] == REFLECTION
    assert returned["versions"][0]["decision"]["feedback"] == FEEDBACK
    # Revising after the return started version 2: every version is there.
    assert [v["number"] for v in returned["versions"]] == [1, 2]
    kept = next(e for e in mine["evidence"] if e["id"] == record["kept"].pk)
    k1 = next(m for m in kept["versions"][0]["ksbs"] if m["ksb"] == "K1")
    assert k1["note"] == NOTE and k1["judgement"]["confirmed"] is True
    [sign_off] = mine["sign_offs"]
    assert sign_off["ksb"] == "K1" and sign_off["comment"] == "Clear evidence of K1"
    assert sign_off["iqa_reviews"][0]["comment"] == "Sound decision"
    assert len(sign_off["files"]) == 2
    [otj] = mine["off_the_job"]
    assert otj["description"] == OTJ_TEXT and otj["minutes"] == 150
    [review] = mine["progress_reviews"]
    assert [s["party"] for s in review["signatures"]] == ["Apprentice", "Assessor"]
    [plan] = mine["training_plans"]
    assert plan["text"] == PLAN_TEXT and plan["planned_otj_hours"] == 420
    assert mine["gateway_confirmations"][0]["comment"] == "Ready from our side"
    actions = {e["action"] for e in mine["audit_log"]}
    assert {"evidence.returned", "evidence.accepted", "ksb.signed_off", "iqa.reviewed"} <= actions
    assert any("was returned with feedback" in n["message"] for n in data["notices"])
    assert "README.txt" in archive.namelist()


def test_every_file_is_in_the_zip_as_uploaded_with_its_sha256(
    client, apprentice, apprenticeship, record, django_capture_on_commit_callbacks
):
    _, archive = download_zip(client, apprentice, django_capture_on_commit_callbacks)
    listed = json.loads(archive.read("data.json"))["apprenticeships"][0]["files"]

    stored = EvidenceFile.objects.filter(apprenticeship=apprenticeship)
    assert {f["id"] for f in listed} == set(stored.values_list("pk", flat=True))
    assert len(listed) == 3
    for entry in listed:
        content = archive.read(entry["path"])
        assert hashlib.sha256(content).hexdigest() == entry["sha256"] == entry["sha256_at_upload"]
        assert entry["path"].startswith(f"files/{entry['id']}-")
    files_in_zip = [n for n in archive.namelist() if n.startswith("files/")]
    assert len(files_in_zip) == 3


def test_safeguarding_matters_are_left_out(
    client, apprentice, apprenticeship, record, django_capture_on_commit_callbacks
):
    _, archive = download_zip(client, apprentice, django_capture_on_commit_callbacks)
    body = archive.read("data.json").decode()
    assert SAFEGUARDING not in body
    assert "safeguarding" not in body.lower()
    assert "Left out: safeguarding matters" in archive.read("README.txt").decode()


def test_a_file_missing_from_storage_is_listed_and_the_rest_still_comes(
    client, apprentice, apprenticeship, record, django_capture_on_commit_callbacks
):
    gone = EvidenceFile.objects.get(apprenticeship=apprenticeship, original_name="notes.txt")
    gone.file.storage.delete(gone.file.name)
    _, archive = download_zip(client, apprentice, django_capture_on_commit_callbacks)
    listed = {f["id"]: f for f in json.loads(archive.read("data.json"))["apprenticeships"][0]["files"]}
    assert listed[gone.pk]["path"] is None and listed[gone.pk]["missing"] == "missing from storage"
    assert sum(1 for n in archive.namelist() if n.startswith("files/")) == 2


@pytest.fixture
def done_export(client, apprentice, apprenticeship, django_capture_on_commit_callbacks):
    evidence(apprenticeship, files=("notes.txt",))
    export, _ = download_zip(client, apprentice, django_capture_on_commit_callbacks)
    client.logout()
    return export


def test_another_apprentice_cannot_see_or_download_it(client, done_export, other_apprentice, other_apprenticeship):
    client.force_login(other_apprentice)
    assert client.get(f"/my-data/exports/{done_export.pk}/").status_code == 404
    assert client.get(f"/exports/{done_export.pk}/download/").status_code == 404
    assert client.get(f"/exports/{done_export.pk}/").status_code == 404


@pytest.mark.parametrize("person", ["assessor", "mentor", "provider_admin", "iqa", "outsider"])
def test_no_member_of_staff_can_see_or_download_it(client, done_export, person, request):
    client.force_login(request.getfixturevalue(person))
    assert client.get(f"/my-data/exports/{done_export.pk}/").status_code == 403
    assert client.get(f"/exports/{done_export.pk}/download/").status_code == 404
    assert client.get(f"/exports/{done_export.pk}/").status_code == 404


def test_not_even_a_site_administrator_can_download_it(client, done_export, db):
    admin = UserFactory(role="", organisation=None, is_staff=True, is_superuser=True)
    client.force_login(admin)
    assert client.get(f"/exports/{done_export.pk}/download/").status_code == 404


def test_staff_cannot_ask_for_an_apprentices_data(client, assessor, provider_admin, apprenticeship):
    for person in (assessor, provider_admin):
        client.force_login(person)
        assert client.post("/my-data/export/").status_code == 403
        assert client.get("/my-data/").status_code == 403
    assert not Export.objects.exists()


def test_signed_out_visitors_are_sent_to_sign_in(client, done_export):
    response = client.get("/my-data/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/sign-in/")
    assert client.post("/my-data/export/").status_code == 302


def test_the_apprentices_home_links_to_their_data(client, apprentice, apprenticeship):
    client.force_login(apprentice)
    assert 'href="/my-data/"' in client.get("/portfolio/").content.decode()
    page = client.get("/my-data/").content.decode()
    assert "Prepare my data" in page and apprentice.email in page


def test_the_progress_page_shows_the_download_link_when_ready(client, done_export, apprentice):
    client.force_login(apprentice)
    page = client.get(f"/my-data/exports/{done_export.pk}/").content.decode()
    assert f'href="/exports/{done_export.pk}/download/"' in page
    assert done_export.file_name.startswith("my-data-") and apprentice.last_name.lower() not in done_export.file_name
    fragment = client.get(f"/my-data/exports/{done_export.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="export-status"' in fragment and "<html" not in fragment


def test_asking_twice_while_one_is_on_its_way_gives_the_same_one(apprentice, apprenticeship):
    from reviews.personal_data import request_personal_data_export

    first = request_personal_data_export(by=apprentice)
    assert request_personal_data_export(by=apprentice) == first
    assert Export.objects.count() == 1


def test_the_zip_goes_to_the_default_queue_not_the_pdf_queue(
    apprentice, apprenticeship, monkeypatch, django_capture_on_commit_callbacks
):
    from reviews import tasks
    from reviews.personal_data import request_personal_data_export

    sent = []
    monkeypatch.setattr(tasks.render_export, "apply_async", lambda *args, **kwargs: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        request_personal_data_export(by=apprentice)
    assert [s.get("queue") for s in sent] == [settings.CELERY_TASK_DEFAULT_QUEUE]
    assert settings.CELERY_TASK_DEFAULT_QUEUE != settings.PDF_QUEUE


def test_an_apprentice_without_an_apprenticeship_sees_their_account_and_no_button(client, db):
    person = UserFactory(email="new.starter@example.org")
    client.force_login(person)
    page = client.get("/my-data/").content.decode()
    assert "new.starter@example.org" in page and "Prepare my data" not in page
    response = client.post("/my-data/export/", follow=True)
    assert "no apprenticeship" in response.content.decode()
    assert not Export.objects.exists()


def test_file_names_in_the_zip_never_carry_path_parts():
    stored = EvidenceFile(pk=7, original_name="..\\..\\windows/../../etc/pass wd?.pdf")
    assert archive_path(stored) == "files/7-pass_wd.pdf"
    assert archive_path(EvidenceFile(pk=8, original_name="..")) == "files/8-file"
    assert archive_path(EvidenceFile(pk=9, original_name="x" * 300 + ".pdf")).endswith("x.pdf")


def test_notices_and_dates_are_plain_json(client, apprentice, apprenticeship, django_capture_on_commit_callbacks):
    Notice.objects.create(recipient=apprentice, message="Welcome to the portal")
    evidence(apprenticeship, files=("notes.txt",))
    _, archive = download_zip(client, apprentice, django_capture_on_commit_callbacks)
    data = json.loads(archive.read("data.json"))
    assert data["notices"][0]["message"] == "Welcome to the portal"
    datetime.datetime.fromisoformat(data["exported_at"])


@pytest.mark.worker
@pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL and a running Celery worker")
@pytest.mark.django_db(transaction=True)
def test_a_worker_reading_the_default_queue_makes_the_zip(apprentice, apprenticeship):
    import time

    from reviews.personal_data import request_personal_data_export

    item = evidence(apprenticeship, files=("notes.txt", "sop.pdf"))
    export = request_personal_data_export(by=apprentice)
    deadline = time.monotonic() + 120
    while export.state not in (Export.State.DONE, Export.State.FAILED) and time.monotonic() < deadline:
        time.sleep(0.25)
        export.refresh_from_db()
    assert export.state == Export.State.DONE, export.error or f"still {export.state} after 120 s"
    with export.file.open("rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    listed = json.loads(archive.read("data.json"))["apprenticeships"][0]["files"]
    assert {f["id"] for f in listed} == set(item.versions.get().files.values_list("pk", flat=True))
    for entry in listed:
        assert hashlib.sha256(archive.read(entry["path"])).hexdigest() == entry["sha256_at_upload"]
