"""Uploads are judged by their content: an allow-list of types, a size limit, never empty."""

import os
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from evidence import uploads
from evidence.tests.samples import upload
from evidence.uploads import check_upload, sha256_of


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("sop-draft.pdf", "pdf", "application/pdf"),
        ("reflection.docx", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (
            "reflection.docx",
            "docx_manifest_first",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("qc-results.xlsx", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("teaching.pptx", "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        ("notes.odt", "odt", "application/vnd.oasis.opendocument.text"),
        ("hours.ods", "ods", "application/vnd.oasis.opendocument.spreadsheet"),
        ("notes.txt", "txt", "text/plain"),
        ("qc.csv", "csv", "text/csv"),
        ("bench.jpg", "jpg", "image/jpeg"),
        ("chart.png", "png", "image/png"),
        ("anim.gif", "gif", "image/gif"),
        ("photo.webp", "webp", "image/webp"),
        ("IMG_0001.HEIC", "heic", "image/heic"),
        ("no-extension", "pdf", "application/pdf"),
    ],
)
def test_allowed_types_are_accepted_by_content(name, kind, expected):
    assert check_upload(upload(name, kind)) == expected


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("report.pdf", "exe"),  # a program behind a good extension
        ("notes.txt", "html"),
        ("diagram.png", "svg"),
        ("portfolio.docx", "zip"),  # a plain zip is not a Word document
        ("setup.exe", "exe"),
    ],
)
def test_disallowed_content_is_refused_whatever_the_name(name, kind):
    with pytest.raises(ValidationError) as error:
        check_upload(upload(name, kind))
    assert error.value.code == "type_not_allowed"
    assert f"{name} is not a file type the portfolio accepts" in error.value.messages[0]


def test_content_that_contradicts_the_extension_is_refused():
    with pytest.raises(ValidationError) as error:
        check_upload(upload("certificate.pdf", "png"))
    assert error.value.code == "content_mismatch"
    assert error.value.messages[0].startswith("certificate.pdf is named as a .pdf file but its content is a PNG image.")


def test_empty_file_is_refused():
    with pytest.raises(ValidationError, match="empty.txt is empty."):
        check_upload(upload("empty.txt", content=b""))


def test_file_over_the_limit_is_refused(settings):
    settings.MAX_UPLOAD_SIZE_MB = 1
    settings.MAX_UPLOAD_SIZE = 1024 * 1024
    big = b"x" * (1024 * 1024 + 1)
    with pytest.raises(ValidationError) as error:
        check_upload(upload("big.txt", content=big))
    assert error.value.code == "too_large"
    assert "files can be at most 1 MB" in error.value.messages[0]


def test_file_at_the_limit_is_accepted(settings):
    settings.MAX_UPLOAD_SIZE = 2048
    assert check_upload(upload("fits.txt", content=b"a" * 2048)) == "text/plain"


def test_sha256_is_of_the_whole_file():
    assert sha256_of(upload("notes.txt", content=b"abc")) == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


# --- Zip bombs: refused from what the zip's directory declares, before any entry is opened -------

MB = 1024 * 1024


def _docx_bomb(path, *, zero_parts: list[int], random_bytes: int = 0):
    """A real, valid Word-shaped zip: its manifest, a document, and parts of zeros written with deflate
    (about 1,000:1, so megabytes of zeros take kilobytes), plus incompressible bytes for bulk."""
    with zipfile.ZipFile(path, "w", compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>", compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("word/document.xml", "<w/>", compress_type=zipfile.ZIP_DEFLATED)
        for number, megabytes in enumerate(zero_parts):
            info = zipfile.ZipInfo(f"word/media/filler{number}.bin")
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as entry:
                for _ in range(megabytes):
                    entry.write(bytes(MB))
        if random_bytes:
            archive.writestr("word/media/photo.bin", os.urandom(random_bytes), compress_type=zipfile.ZIP_STORED)
    return SimpleUploadedFile(path.name, path.read_bytes())


@pytest.fixture
def no_entry_opened(monkeypatch):
    """Fails the test if anything opens an entry of a zip for reading (the test's own writing goes on)."""
    write = zipfile.ZipFile.open

    def only_write(archive, name, mode="r", *args, **kwargs):
        if mode != "w":
            raise AssertionError(f"{name} was opened for reading")
        return write(archive, name, mode, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", only_write)


def _refusal(uploaded) -> ValidationError:
    with pytest.raises(ValidationError) as error:
        check_upload(uploaded)
    assert error.value.code == "zip_bomb"
    return error.value


def test_a_word_document_that_unpacks_to_over_100_times_its_size_is_refused_unopened(tmp_path, no_entry_opened):
    # 160 MB of zeros in two parts, each under the size at which one part's ratio is judged: the
    # total (160 MB, over the 100 MB that a 160 KB file may unpack to) is what gives it away.
    uploaded = _docx_bomb(tmp_path / "reflection.docx", zero_parts=[80, 80])
    assert uploaded.size < 200 * 1024
    message = _refusal(uploaded).messages[0].replace("\xa0", " ")
    assert message == (
        "reflection.docx expands to 160.0 MB when unpacked, which no real document does: "
        "save it again from your office program and upload that."
    )


def test_no_zip_may_unpack_to_more_than_the_overall_limit_whatever_its_size(tmp_path, monkeypatch):
    # The limit is 1 GB; lowered for the test, so that a 3 MB file unpacking to 133 MB (under 100
    # times its size) meets it without writing gigabytes.
    monkeypatch.setattr(uploads, "MAX_ZIP_UNPACKED", 120 * MB)
    uploaded = _docx_bomb(tmp_path / "report.docx", zero_parts=[60, 70], random_bytes=3 * MB)
    assert "report.docx expands to 133.0" in _refusal(uploaded).messages[0]


def test_a_part_that_unpacks_over_1000_fold_is_refused_even_within_the_total(tmp_path, no_entry_opened):
    # 3 MB of photo-like bytes allow 300 MB unpacked in all; the one part of 150 MB of zeros (packed
    # about 1,028:1) is what no document holds.
    uploaded = _docx_bomb(tmp_path / "slides.docx", zero_parts=[150], random_bytes=3 * MB)
    message = _refusal(uploaded).messages[0].replace("\xa0", " ")
    assert message == (
        "slides.docx holds a part that expands over 1,000-fold when unpacked (to 150.0 MB), which no real "
        "document does: save it again from your office program and upload that."
    )


def test_a_document_that_compresses_very_well_but_unpacks_to_little_is_accepted(tmp_path):
    # 20 MB of zeros: over 1,000:1, and far over 100 times the file's size, but harmless to unpack.
    uploaded = _docx_bomb(tmp_path / "table.docx", zero_parts=[20])
    assert uploaded.size < 100 * 1024
    assert check_upload(uploaded) == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_a_zip_bomb_is_refused_through_the_evidence_form_and_nothing_is_saved(
    client, apprentice, apprenticeship, tmp_path
):
    from evidence.models import EvidenceFile, EvidenceItem

    bomb = _docx_bomb(tmp_path / "bomb.docx", zero_parts=[80, 80])
    client.force_login(apprentice)
    response = client.post(
        "/evidence/new/",
        {"title": "QC", "activity_date": "2025-10-06", "evidence_type": "work_product", "files": [bomb]},
    )
    assert response.status_code == 200
    assert "bomb.docx expands to 160.0" in response.content.decode().replace("\xa0", " ")
    assert not EvidenceItem.objects.exists() and not EvidenceFile.objects.exists()
