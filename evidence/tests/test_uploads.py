"""Uploads are judged by their content: an allow-list of types, a size limit, never empty."""

import pytest
from django.core.exceptions import ValidationError

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
