"""Exporting portfolios: who may, what comes out, failures in words, and re-runs that add nothing."""

import datetime
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from portal.models import Apprenticeship
from reviews import exports
from reviews.models import Export, ExportPart
from reviews.pdf import portfolio_filename
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
    assert 'hx-trigger="every 1s"' in part and "Making the PDF… 40%" in part
    assert "<html" not in part


def test_a_running_cohort_says_how_many_of_its_portfolios_are_done(client, portfolio, provider_admin):
    export = Export.objects.create(
        kind=Export.Kind.COHORT, requested_by=provider_admin, provider=provider_admin.organisation, progress=25
    )
    Export.objects.filter(pk=export.pk).update(state=Export.State.RUNNING)
    client.force_login(provider_admin)
    part = client.get(f"/exports/{export.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert "Making the portfolios… 25% of them done" in part


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


# --- A cohort spread over the workers: one part per portfolio, then one zip --------------------


def fan_out(provider_admin, django_capture_on_commit_callbacks, **filters) -> tuple[Export, list]:
    """Asks for a cohort export and runs its first task, holding back the parts it queues."""
    export = exports.request_cohort_export(by=provider_admin, **filters)
    with django_capture_on_commit_callbacks() as queued:
        exports.run_export(export.pk)
    export.refresh_from_db()
    return export, queued


def part_of(export: Export, apprenticeship) -> ExportPart:
    return export.parts.get(apprenticeship=apprenticeship)


@pytest.mark.storage
def test_a_cohort_export_renders_each_portfolio_as_a_part_then_zips_the_parts_once(
    portfolio, other_apprenticeship, provider_admin, django_capture_on_commit_callbacks
):
    export, queued = fan_out(provider_admin, django_capture_on_commit_callbacks)
    assert (export.state, export.progress) == (Export.State.RUNNING, 0)
    order = [p.apprenticeship_id for p in export.parts.all()]
    assert sorted(order) == sorted([portfolio.pk, other_apprenticeship.pk])
    assert [c.func for c in queued] == [exports.publish_part, exports.publish_part]

    with django_capture_on_commit_callbacks() as after_first:
        exports.run_export_part(part_of(export, portfolio).pk)
    export.refresh_from_db()
    assert export.progress == 50 and after_first == []  # one of two made: no zip yet
    assert default_storage.exists(f"exports/{export.pk}/parts/{portfolio.pk}.pdf")

    with django_capture_on_commit_callbacks() as after_last:
        exports.run_export_part(part_of(export, other_apprenticeship).pk)
    export.refresh_from_db()
    assert (export.state, export.progress) == (Export.State.RUNNING, 99)
    assert [c.func for c in after_last] == [exports.publish_assembly]
    rendered = {p.apprenticeship_id: default_storage.open(p.file, "rb").read() for p in export.parts.all()}

    export = exports.assemble_cohort(export.pk)
    assert (export.state, export.progress) == (Export.State.DONE, 100)
    archive = zipfile.ZipFile(export.file.open("rb"))
    names = {a.pk: f"{a.pk}-{portfolio_filename(a)}" for a in (portfolio, other_apprenticeship)}
    # In the cohort's order, as the portfolios were listed when it was asked for.
    assert archive.namelist() == [names[pk] for pk in order] + ["manifest.json"]
    # The zip holds each part exactly as it was rendered, and the manifest as a single render made it.
    assert {pk: archive.read(name) for pk, name in names.items()} == rendered
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["exported_at"] == export.started_at.isoformat()
    assert [p["file"] for p in manifest["portfolios"]] == [names[pk] for pk in order]
    assert export.file_name == f"cohort-northfield-college-{export.started_at:%Y%m%d-%H%M}.zip"
    # The parts are gone, rows and files.
    assert not ExportPart.objects.exists()
    assert default_storage.listdir(f"exports/{export.pk}")[1] == [export.file.name.rsplit("/", 1)[1]]
    assert exports.assemble_cohort(export.pk) is None  # a second delivery finds nothing to do


def test_in_process_the_cohort_fans_out_and_zips_in_one_go(
    portfolio, other_apprenticeship, provider_admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export = exports.request_cohort_export(by=provider_admin)
    export.refresh_from_db()
    assert (export.state, export.progress, export.attempts) == (Export.State.DONE, 100, 1)
    assert len([n for n in zipfile.ZipFile(export.file.open("rb")).namelist() if n.endswith(".pdf")]) == 2
    assert not ExportPart.objects.exists()


def test_a_re_run_of_a_part_overwrites_its_own_file_and_counts_once(
    portfolio, other_apprenticeship, provider_admin, django_capture_on_commit_callbacks, settings
):
    export, _ = fan_out(provider_admin, django_capture_on_commit_callbacks)
    part = part_of(export, portfolio)
    with django_capture_on_commit_callbacks():
        exports.run_export_part(part.pk)
        # As if the worker died after writing the file but before recording it: the task comes back.
        ExportPart.objects.filter(pk=part.pk).update(finished_at=None)
        again = exports.run_export_part(part.pk)
        assert exports.run_export_part(part.pk) is None  # made already: nothing to do
    assert again.file == f"exports/{export.pk}/parts/{portfolio.pk}.pdf"
    folder = Path(settings.MEDIA_ROOT) / "exports" / str(export.pk) / "parts"
    assert [p.name for p in folder.iterdir()] == [f"{portfolio.pk}.pdf"]
    export.refresh_from_db()
    assert export.progress == 50 and export.assembly_queued_at is None


def test_parts_finishing_at_the_same_moment_queue_the_zip_exactly_once(
    portfolio, other_apprenticeship, provider_admin, django_capture_on_commit_callbacks
):
    export, _ = fan_out(provider_admin, django_capture_on_commit_callbacks)
    first, last = export.parts.all()
    with django_capture_on_commit_callbacks() as queued:
        assert exports.finish_part(part_id=first.pk, file="exports/x/parts/a.pdf") is False
        # Two workers report the last part: the row lock lets only one of them see the cohort complete.
        assert exports.finish_part(part_id=last.pk, file="exports/x/parts/b.pdf") is True
        assert exports.finish_part(part_id=last.pk, file="exports/x/parts/b.pdf") is False
    assert [c.func for c in queued] == [exports.publish_assembly]
    export.refresh_from_db()
    assert export.assembly_queued_at is not None and export.progress == 99


def test_a_portfolio_that_cannot_be_made_fails_the_cohort_naming_the_apprentice(
    portfolio, other_apprenticeship, provider_admin, django_capture_on_commit_callbacks
):
    signed_off(other_apprenticeship, "K1", files=("sop.pdf",))
    export, _ = fan_out(provider_admin, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks():
        exports.run_export_part(part_of(export, portfolio).pk)
    stored = other_apprenticeship.sign_offs.get().signed_files.get().file
    default_storage.delete(stored.file.name)
    failing = part_of(export, other_apprenticeship)
    assert exports.run_export_part(failing.pk) is None
    export.refresh_from_db()
    assert export.state == Export.State.FAILED
    assert export.error.startswith(f"The portfolio of {other_apprenticeship.apprentice} could not be made")
    assert "missing from storage" in export.error and "sop.pdf" in export.error
    # The parts already made go with it, and a part still queued finds nothing to do.
    assert not ExportPart.objects.exists()
    assert not default_storage.exists(f"exports/{export.pk}/parts/{portfolio.pk}.pdf")
    assert exports.run_export_part(failing.pk) is None


def test_the_time_limit_applies_to_each_portfolio(
    portfolio, other_apprenticeship, provider_admin, django_capture_on_commit_callbacks, monkeypatch
):
    from celery.exceptions import SoftTimeLimitExceeded

    def too_slow(apprenticeship, **kwargs):
        raise SoftTimeLimitExceeded()

    export, _ = fan_out(provider_admin, django_capture_on_commit_callbacks)
    monkeypatch.setattr(exports, "render_portfolio", too_slow)
    exports.run_export_part(part_of(export, portfolio).pk)
    export.refresh_from_db()
    assert export.state == Export.State.FAILED
    assert f"The portfolio of {portfolio.apprentice} could not be made: it took longer than" in export.error


def test_access_is_checked_again_when_each_portfolio_is_made(
    portfolio, other_apprenticeship, outsider_provider, provider_admin, django_capture_on_commit_callbacks
):
    export, _ = fan_out(provider_admin, django_capture_on_commit_callbacks)
    # The apprentice moved to another provider while the cohort waited for a worker.
    Apprenticeship.objects.filter(pk=other_apprenticeship.pk).update(provider=outsider_provider)
    exports.run_export_part(part_of(export, other_apprenticeship).pk)
    export.refresh_from_db()
    assert export.state == Export.State.FAILED
    assert f"{other_apprenticeship.apprentice} could not be made: it is no longer among" in export.error


def test_a_cohort_whose_part_was_lost_is_recovered_by_the_periodic_requeue(
    portfolio, other_apprenticeship, provider_admin, django_capture_on_commit_callbacks, settings
):
    from reviews.tasks import requeue_stalled_exports

    export, _ = fan_out(provider_admin, django_capture_on_commit_callbacks)  # its parts' messages are lost
    long_ago = timezone.now() - datetime.timedelta(seconds=settings.EXPORT_TIME_LIMIT + 120)
    Export.objects.filter(pk=export.pk).update(started_at=long_ago)
    # However long a cohort runs, it is not started over while its parts are on their way.
    assert exports.stalled_exports() == [] and exports.stalled_parts() == []
    ExportPart.objects.filter(export=export).update(queued_at=long_ago)
    assert len(exports.stalled_parts()) == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stalled_exports() == 2  # tasks run in-process here, so it is made at once
    export.refresh_from_db()
    assert export.state == Export.State.DONE, export.error
    assert export.attempts == 1


def test_a_cohort_still_making_progress_is_left_alone(
    portfolio, other_apprenticeship, provider_admin, django_capture_on_commit_callbacks, settings
):
    export, _ = fan_out(provider_admin, django_capture_on_commit_callbacks)
    long_ago = timezone.now() - datetime.timedelta(seconds=settings.EXPORT_TIME_LIMIT + 120)
    ExportPart.objects.filter(export=export).update(queued_at=long_ago)
    # A part finished a moment ago: the workers are busy with this cohort, the rest wait their turn.
    export.parts.filter(apprenticeship=portfolio).update(finished_at=timezone.now(), file="exports/x.pdf")
    assert exports.stalled_parts() == []


def test_a_cohort_whose_zip_was_lost_is_zipped_by_the_periodic_requeue(
    portfolio, other_apprenticeship, provider_admin, django_capture_on_commit_callbacks, settings
):
    from reviews.tasks import requeue_stalled_exports

    export, _ = fan_out(provider_admin, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks():  # the zip's message is lost
        for part in export.parts.all():
            exports.run_export_part(part.pk)
    assert exports.stalled_assemblies() == []
    long_ago = timezone.now() - datetime.timedelta(seconds=settings.EXPORT_TIME_LIMIT + 120)
    Export.objects.filter(pk=export.pk).update(assembly_queued_at=long_ago)
    assert requeue_stalled_exports() == 1
    export.refresh_from_db()
    assert export.state == Export.State.DONE and not ExportPart.objects.exists()


def test_a_part_the_broker_could_not_take_is_queued_at_the_next_requeue(
    portfolio, provider_admin, django_capture_on_commit_callbacks, monkeypatch
):
    from kombu.exceptions import OperationalError

    from reviews import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.render_export_part, "apply_async", broker_down)
    export, _ = fan_out(provider_admin, django_capture_on_commit_callbacks)
    part = export.parts.get()
    assert exports.publish_part(part.pk) is False
    part.refresh_from_db()
    assert part.queued_at is None
    assert exports.stalled_parts() == [part]  # at once: it never reached the broker
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        assert exports.requeue_stalled_cohort_work() == 1
    export.refresh_from_db()
    assert export.state == Export.State.DONE, export.error


def test_each_portfolio_of_a_cohort_goes_to_the_pdf_queue(settings):
    from portal.celery import app

    assert app.amqp.router.route({}, "reviews.tasks.render_export_part")["queue"].name == settings.PDF_QUEUE
    # Zipping copies files and renders nothing: the default queue.
    assert app.amqp.router.route({}, "reviews.tasks.assemble_cohort_export")["queue"].name == (
        settings.CELERY_TASK_DEFAULT_QUEUE
    )
