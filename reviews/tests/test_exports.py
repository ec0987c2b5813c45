"""Exporting portfolios: who may, what comes out, failures in words, and re-runs that add nothing."""

import datetime
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from reviews import exports
from reviews.models import Export
from reviews.tests.helpers import signed_off


@pytest.fixture
def portfolio(apprenticeship):
    signed_off(apprenticeship, "K1", files=("chart.png", "sop.pdf"))
    return apprenticeship


def export_now(django_capture_on_commit_callbacks, **kwargs) -> Export:
    """Asks for an export and lets the in-process task run, as it does without a broker."""
    with django_capture_on_commit_callbacks(execute=True):
        export = exports.request_portfolio_export(**kwargs)
    export.refresh_from_db()
    return export


@pytest.mark.storage
def test_an_assessor_exports_a_portfolio_pdf(portfolio, assessor, django_capture_on_commit_callbacks):
    export = export_now(django_capture_on_commit_callbacks, apprenticeship=portfolio, by=assessor)
    assert export.state == Export.State.DONE
    assert export.progress == 100
    assert export.file_name.endswith(".pdf")
    assert export.file.open("rb").read(5) == b"%PDF-"
    assert export.expires_at > timezone.now() + datetime.timedelta(days=6)


def test_the_task_is_queued_only_after_the_transaction_commits(portfolio, assessor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        exports.request_portfolio_export(apprenticeship=portfolio, by=assessor)
        raise RuntimeError("the request failed after asking")
    assert callbacks == []
    assert not Export.objects.exists()
    with django_capture_on_commit_callbacks() as callbacks:
        exports.request_portfolio_export(apprenticeship=portfolio, by=assessor)
    assert len(callbacks) == 1


def test_asking_twice_while_it_is_on_its_way_gives_the_same_export(portfolio, assessor):
    first = exports.request_portfolio_export(apprenticeship=portfolio, by=assessor)
    assert exports.request_portfolio_export(apprenticeship=portfolio, by=assessor) == first
    assert Export.objects.count() == 1


@pytest.mark.parametrize("persona", ["other_assessor", "mentor", "iqa", "apprentice", "outsider"])
def test_only_the_assessor_and_provider_admins_export(portfolio, other_apprenticeship, persona, request):
    with pytest.raises(PermissionDenied):
        exports.request_portfolio_export(apprenticeship=portfolio, by=request.getfixturevalue(persona))


def test_a_re_run_overwrites_its_own_file(portfolio, assessor, settings, django_capture_on_commit_callbacks):
    export = export_now(django_capture_on_commit_callbacks, apprenticeship=portfolio, by=assessor)
    assert exports.run_export(export.pk) is None  # done already: nothing to do
    # As if the worker died after writing: the task comes back and runs again.
    Export.objects.filter(pk=export.pk).update(state=Export.State.RUNNING)
    again = exports.run_export(export.pk)
    assert again.state == Export.State.DONE and again.attempts == 2
    folder = Path(settings.MEDIA_ROOT) / "exports" / str(export.pk)
    assert [p.name for p in folder.iterdir()] == [export.file_name]
    assert Export.objects.count() == 1


def test_a_missing_file_fails_the_export_in_words(portfolio, assessor, django_capture_on_commit_callbacks):
    stored = portfolio.sign_offs.get().signed_files.get(file__original_name="sop.pdf").file
    Path(stored.file.path).unlink()
    export = export_now(django_capture_on_commit_callbacks, apprenticeship=portfolio, by=assessor)
    assert export.state == Export.State.FAILED
    assert "missing from storage" in export.error
    assert not export.file


@pytest.mark.storage
def test_a_provider_admin_exports_the_cohort_as_a_zip_with_a_manifest(
    portfolio, other_apprenticeship, outsider_apprenticeship, provider_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export = exports.request_cohort_export(by=provider_admin)
    export.refresh_from_db()
    assert export.state == Export.State.DONE, export.error
    archive = zipfile.ZipFile(io.BytesIO(export.file.open("rb").read()))
    pdfs = [n for n in archive.namelist() if n.endswith(".pdf")]
    assert len(pdfs) == 2
    manifest = json.loads(archive.read("manifest.json"))
    by_email = {p["email"]: p for p in manifest["portfolios"]}
    assert set(by_email) == {portfolio.apprentice.email, other_apprenticeship.apprentice.email}
    ours = by_email[portfolio.apprentice.email]
    assert ours["file"] in pdfs
    assert ours["ksb_states"]["K1"] == "signed_off" and ours["signed_off"] == 1
    signed = {f["name"]: f["sha256"] for f in ours["sign_offs"][0]["files"]}
    stored = {f.file.original_name: f.file.sha256 for f in portfolio.sign_offs.get().signed_files.all()}
    assert signed == stored


def test_a_cohort_export_follows_its_filters(
    portfolio, other_apprenticeship, provider_admin, assessor, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export = exports.request_cohort_export(by=provider_admin, assessor=assessor)
    export.refresh_from_db()
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(export.file.open("rb").read())).read("manifest.json"))
    assert [p["email"] for p in manifest["portfolios"]] == [portfolio.apprentice.email]


def test_an_empty_cohort_is_refused(provider_admin):
    with pytest.raises(ValidationError, match="nothing to export"):
        exports.request_cohort_export(by=provider_admin)


@pytest.mark.parametrize("persona", ["assessor", "iqa", "apprentice"])
def test_only_provider_admins_export_a_cohort(portfolio, persona, request):
    with pytest.raises(PermissionDenied):
        exports.request_cohort_export(by=request.getfixturevalue(persona))


def test_expired_exports_are_deleted_with_their_files(portfolio, assessor, django_capture_on_commit_callbacks):
    export = export_now(django_capture_on_commit_callbacks, apprenticeship=portfolio, by=assessor)
    path = Path(export.file.path)
    assert exports.delete_expired_exports() == 0
    assert exports.delete_expired_exports(now=export.expires_at + datetime.timedelta(seconds=1)) == 1
    assert not Export.objects.exists() and not path.exists()


def test_an_export_whose_worker_vanished_is_requeued(portfolio, assessor, settings):
    from reviews.tasks import requeue_stalled_exports

    export = exports.request_portfolio_export(apprenticeship=portfolio, by=assessor)
    long_ago = timezone.now() - datetime.timedelta(seconds=settings.EXPORT_TIME_LIMIT + 120)
    Export.objects.filter(pk=export.pk).update(state=Export.State.RUNNING, started_at=long_ago)
    assert requeue_stalled_exports() == 1  # tasks run in-process here, so it is made at once
    export.refresh_from_db()
    assert export.state == Export.State.DONE


# --- Pages -------------------------------------------------------------------------------------


@pytest.mark.storage
def test_export_button_page_and_download(client, portfolio, assessor, django_capture_on_commit_callbacks):
    client.force_login(assessor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/apprenticeships/{portfolio.pk}/export/")
    export = Export.objects.get()
    assert response["Location"] == f"/exports/{export.pk}/"
    page = client.get(f"/exports/{export.pk}/").content.decode()
    assert "Ready." in page and f"/exports/{export.pk}/download/" in page
    download = client.get(f"/exports/{export.pk}/download/")
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content).startswith(b"%PDF-")


def test_the_progress_part_polls_until_done(client, portfolio, assessor):
    export = exports.request_portfolio_export(apprenticeship=portfolio, by=assessor)
    Export.objects.filter(pk=export.pk).update(state=Export.State.RUNNING, progress=40)
    client.force_login(assessor)
    part = client.get(f"/exports/{export.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in part and "40%" in part
    assert "<html" not in part


def test_a_failed_export_page_says_why(client, portfolio, assessor):
    export = exports.request_portfolio_export(apprenticeship=portfolio, by=assessor)
    exports.fail_export(export.pk, "A file of the portfolio is missing from storage (x.pdf).")
    client.force_login(assessor)
    page = client.get(f"/exports/{export.pk}/").content.decode()
    assert "The export failed." in page and "x.pdf" in page and "hx-trigger" not in page


@pytest.mark.storage
@pytest.mark.parametrize("persona", ["other_assessor", "mentor", "iqa", "apprentice", "outsider"])
def test_others_can_neither_start_nor_see_nor_download(
    client, portfolio, other_apprenticeship, persona, request, assessor
):
    from django.core.files.base import ContentFile

    export = exports.request_portfolio_export(apprenticeship=portfolio, by=assessor)
    export.file.save("portfolio.pdf", ContentFile(b"%PDF-1.7 finished"), save=False)
    Export.objects.filter(pk=export.pk).update(state=Export.State.DONE, file=export.file.name)
    client.force_login(request.getfixturevalue(persona))
    assert client.post(f"/apprenticeships/{portfolio.pk}/export/").status_code in (403, 404)
    assert client.get(f"/exports/{export.pk}/").status_code == 404
    assert client.get(f"/exports/{export.pk}/download/").status_code == 404
    assert Export.objects.count() == 1


@pytest.mark.storage
def test_a_provider_admin_starts_a_cohort_export_from_the_heatmap(
    client, portfolio, provider_admin, django_capture_on_commit_callbacks
):
    client.force_login(provider_admin)
    assert "Export these portfolios" in client.get("/provider/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/provider/export/", {"assessor": "", "employer": "", "status": "active"})
    export = Export.objects.get(kind=Export.Kind.COHORT)
    assert response["Location"] == f"/exports/{export.pk}/"
    assert client.get(f"/exports/{export.pk}/download/")["Content-Type"] == "application/zip"


def test_export_portfolio_command_writes_the_same_pdf(portfolio, tmp_path):
    out = tmp_path / "portfolio.pdf"
    call_command("export_portfolio", portfolio.apprentice.email, "--out", str(out), stdout=io.StringIO())
    assert out.read_bytes().startswith(b"%PDF-")
    with pytest.raises(CommandError, match="No apprenticeship matches 'nobody@example.org'"):
        call_command("export_portfolio", "nobody@example.org", "--out", str(out))
    with pytest.raises(CommandError, match="does not exist"):
        call_command("export_portfolio", str(portfolio.pk), "--out", str(tmp_path / "no" / "x.pdf"))


def test_the_export_button_shows_for_those_who_may_export(client, portfolio, assessor, mentor, iqa):
    for person, shown in ((assessor, True), (mentor, False), (iqa, False)):
        client.force_login(person)
        page = client.get(f"/apprenticeships/{portfolio.pk}/").content.decode()
        assert ("Export portfolio PDF" in page) is shown


def test_a_cohort_export_can_hold_only_the_apprentices_with_no_activity(
    portfolio, other_apprenticeship, provider_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export = exports.request_cohort_export(by=provider_admin, inactive_only=True)
    export.refresh_from_db()
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(export.file.open("rb").read())).read("manifest.json"))
    # The other apprentice has done nothing since starting in 2025; the first has just been signed off.
    assert [p["email"] for p in manifest["portfolios"]] == [other_apprenticeship.apprentice.email]
