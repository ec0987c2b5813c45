"""Files through the storage API only, so the same tests prove local storage and object storage.

Each test changes, removes or lists stored files through `default_storage`, never a path: CI runs
them (marked `storage`) against the local folder and again against an S3-compatible server.
"""

import datetime
import hashlib
import io
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from evidence import services as evidence_services
from evidence.images import PRINT_MAX_SIDE, make_print_copy
from evidence.models import EvidenceFile
from evidence.tests.factories import evidence
from evidence.tests.samples import upload
from evidence.tests.test_images import phone_photo
from reviews import exports, services
from reviews.models import Export
from reviews.pdf import render_portfolio
from reviews.tests.helpers import accepted, ksb, signed_off

pytestmark = pytest.mark.storage


def replace(name: str, content: bytes) -> None:
    """Writes other bytes under a stored file's own name, as a change made behind the portal's back."""
    default_storage.delete(name)
    assert default_storage.save(name, ContentFile(content)) == name


def item_with(apprenticeship, *uploads, codes=("K1",), submit=False):
    standard = apprenticeship.standard
    item = evidence_services.create_evidence(
        apprenticeship=apprenticeship,
        by=apprenticeship.apprentice,
        title="Venepuncture in the outpatient clinic",
        activity_date=datetime.date(2025, 10, 6),
        evidence_type="observation",
        reflection="What I did and what I learned.",
        mappings={standard.ksbs.get(kind=c[0], number=int(c[1:])): f"Shows {c}" for c in codes},
        uploads=list(uploads),
    )
    if submit:
        evidence_services.submit_evidence(item=item, by=apprenticeship.apprentice)
    return item


def export_now(django_capture_on_commit_callbacks, **kwargs) -> Export:
    with django_capture_on_commit_callbacks(execute=True):
        export = exports.request_portfolio_export(**kwargs)
    export.refresh_from_db()
    return export


def test_an_upload_is_stored_whole_and_read_back_in_chunks(apprenticeship):
    photo = phone_photo(2400, 1800)
    item = item_with(apprenticeship, upload("trolley.jpg", content=photo))
    stored = item.versions.get().files.get()
    assert default_storage.exists(stored.file.name)
    assert default_storage.size(stored.file.name) == len(photo) == stored.size
    with stored.file.open("rb") as handle:
        assert b"".join(handle.chunks(chunk_size=64 * 1024)) == photo
    assert stored.sha256 == hashlib.sha256(photo).hexdigest()


def test_removing_a_file_only_the_draft_had_deletes_it_from_storage(apprenticeship, django_capture_on_commit_callbacks):
    item = evidence(apprenticeship, files=("chart.png",))
    chart = item.versions.get().files.get()
    name = chart.file.name
    with django_capture_on_commit_callbacks(execute=True):
        evidence_services.update_draft(
            item=item,
            by=apprenticeship.apprentice,
            title="No chart",
            activity_date=datetime.date(2025, 10, 6),
            evidence_type="observation",
            remove_files=[chart],
        )
    assert not default_storage.exists(name)


def test_a_print_copy_is_stored_and_drawn_and_other_files_travel_inside_the_pdf(apprenticeship):
    signed_off(apprenticeship, "K1", files=("sop.pdf",))
    item_with(apprenticeship, upload("venepuncture.jpg", content=phone_photo(4000, 3000)), codes=("S1",), submit=True)
    photo = EvidenceFile.objects.get(original_name="venepuncture.jpg")
    make_print_copy(photo)
    photo.refresh_from_db()
    assert default_storage.exists(photo.print_copy.name)

    reader = PdfReader(io.BytesIO(render_portfolio(apprenticeship)))
    sizes = [image.image.size for page in reader.pages for image in page.images]
    assert (PRINT_MAX_SIDE, 1500) in sizes and (4000, 3000) not in sizes
    [attached] = reader.attachments["sop.pdf"]
    assert hashlib.sha256(attached).hexdigest() == EvidenceFile.objects.get(original_name="sop.pdf").sha256


def test_sign_off_re_reads_each_file_and_refuses_one_changed_in_storage(apprenticeship, assessor):
    item = accepted(apprenticeship, files=("chart.png",))
    replace(item.versions.get().files.get().file.name, b"tampered")
    with pytest.raises(ValidationError, match="chart.png no longer matches the file that was uploaded"):
        services.sign_off_ksb(
            apprenticeship=apprenticeship,
            ksb=ksb(apprenticeship, "K1"),
            versions=[item.versions.get()],
            by=assessor,
            comment="x",
        )


def test_verify_audit_re_hashes_the_signed_files_in_storage(apprenticeship):
    signed_off(apprenticeship, "K1", files=("chart.png",))
    sop = signed_off(apprenticeship, "S18", files=("sop.pdf",)).signed_files.get().file
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert "all match their hashes" in out.getvalue()

    replace(sop.file.name, b"%PDF-1.4 a different document")
    chart = apprenticeship.sign_offs.get(ksb__number=1).signed_files.get().file
    default_storage.delete(chart.file.name)
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit", stdout=StringIO())
    assert "sop.pdf (sign-off of S18" in str(failure.value) and "has changed" in str(failure.value)
    assert "chart.png (sign-off of K1" in str(failure.value) and "is missing from storage" in str(failure.value)


def test_an_export_whose_file_went_missing_fails_in_words(apprenticeship, assessor, django_capture_on_commit_callbacks):
    stored = signed_off(apprenticeship, "K1", files=("sop.pdf",)).signed_files.get().file
    default_storage.delete(stored.file.name)
    export = export_now(django_capture_on_commit_callbacks, apprenticeship=apprenticeship, by=assessor)
    assert export.state == Export.State.FAILED
    assert "missing from storage" in export.error and "sop.pdf" in export.error


def test_a_re_run_overwrites_its_own_export_and_expiry_deletes_it(
    apprenticeship, assessor, django_capture_on_commit_callbacks
):
    signed_off(apprenticeship, "K1", files=("sop.pdf",))
    export = export_now(django_capture_on_commit_callbacks, apprenticeship=apprenticeship, by=assessor)
    Export.objects.filter(pk=export.pk).update(state=Export.State.RUNNING)
    again = exports.run_export(export.pk)
    assert again.file.name == export.file.name
    assert default_storage.listdir(f"exports/{export.pk}") == ([], [export.file_name])

    assert exports.delete_expired_exports(now=again.expires_at + datetime.timedelta(seconds=1)) == 1
    assert not default_storage.exists(export.file.name)
