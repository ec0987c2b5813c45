"""A maximum-size upload streams to disk and is checked and hashed in chunks, never held whole in memory.

Also: checking a zip-based document reads neither a huge directory nor an entry that inflates.

The request body is written to a file first and handed to the test client as the WSGI input
stream, as a server hands over its socket, so the only allocations traced are the portal's
own: parsing the multipart body, checking the type, hashing and storing the file. Memory is
traced with `tracemalloc` (its peak is deterministic, unlike time); the growth of the
process's peak resident size is printed beside it for the record (`pytest -s` shows both).
"""

from __future__ import annotations

import hashlib
import os
import resource
import struct
import tracemalloc
import uuid
import zipfile
import zlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import TemporaryUploadedFile

from evidence import uploads
from evidence.models import EvidenceFile

MB = 1024 * 1024
# The bound on what one maximum-size upload may add to the process.
MEMORY_BOUND = 50 * MB
CHUNK = MB


def _write_pdf(path: Path, size: int) -> None:
    """A valid PDF of exactly `size` bytes: one page whose content stream is long (and uncompressed)."""
    head = (
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
        b"1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n"
        b"2 0 obj\n<</Type/Pages/Kids[3 0 R]/Count 1>>\nendobj\n"
        b"3 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>\nendobj\n"
    )
    offsets = [head.index(f"{n} 0 obj".encode()) for n in (1, 2, 3)] + [len(head)]

    def tail(length: int) -> tuple[bytes, bytes]:
        opening = f"4 0 obj\n<</Length {length}>>\nstream\n".encode()
        xref_at = len(head) + len(opening) + length + len(b"\nendstream\nendobj\n")
        closing = (
            b"\nendstream\nendobj\n"
            + b"xref\n0 5\n0000000000 65535 f \n"
            + b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
            + f"trailer\n<</Size 5/Root 1 0 R>>\nstartxref\n{xref_at}\n%%EOF\n".encode()
        )
        return opening, closing

    # The stream's length changes the digits written around it; two rounds settle it.
    length = size
    for _ in range(3):
        opening, closing = tail(length)
        length = size - len(head) - len(opening) - len(closing)
    opening, closing = tail(length)
    line = b"72 72 m 523 770 l S\n"
    block = line * (CHUNK // len(line))
    with path.open("wb") as out:
        out.write(head + opening)
        left = length
        while left:
            piece = block[: min(left, len(block))]
            out.write(piece)
            left -= len(piece)
        out.write(closing)
    assert path.stat().st_size == size


def _write_png(path: Path, size: int) -> None:
    """A PNG of random noise (which does not compress) of close to `size` bytes, written row block by block."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # Noise barely compresses: pick a square whose raw pixels fill most of the limit.
    side = int(((size - 64 * 1024) / 3.01) ** 0.5)
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)))
        compressor = zlib.compressobj(1)
        rows_each = max(1, CHUNK // (side * 3 + 1))
        for first in range(0, side, rows_each):
            raw = b"".join(b"\x00" + os.urandom(side * 3) for _ in range(min(rows_each, side - first)))
            out.write(chunk(b"IDAT", compressor.compress(raw)))
        out.write(chunk(b"IDAT", compressor.flush()) + chunk(b"IEND", b""))
    assert path.stat().st_size <= size


def _write_multipart(path: Path, fields: dict[str, str], upload: Path, content_type: str) -> str:
    """Writes a multipart/form-data body with `upload` as the one file; returns its boundary."""
    boundary = f"----upload-memory-{uuid.uuid4().hex}"
    with path.open("wb") as out:
        for name, value in fields.items():
            out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{upload.name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode()
        )
        with upload.open("rb") as source:
            while piece := source.read(CHUNK):
                out.write(piece)
        out.write(f"\r\n--{boundary}--\r\n".encode())
    return boundary


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while piece := source.read(CHUNK):
            digest.update(piece)
    return digest.hexdigest()


def _peak_rss() -> int:
    """The process's peak resident size in bytes (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@pytest.fixture
def fields(st0220):
    k1 = st0220.ksbs.get(kind="K", number=1)
    return {
        "title": "Analyser validation report",
        "activity_date": "2025-11-10",
        "evidence_type": "work_product",
        "reflection": "I ran the validation and wrote it up.",
        f"ksb_{k1.pk}": "on",
        f"note_{k1.pk}": "Quality control of the analyser",
        "save": "",
    }


@pytest.mark.parametrize(
    ("name", "content_type", "write"),
    [("validation.pdf", "application/pdf", _write_pdf), ("bench.png", "image/png", _write_png)],
)
def test_a_maximum_size_upload_adds_less_than_50_mb_to_the_process(
    client, apprenticeship, apprentice, fields, tmp_path, name, content_type, write, capsys
):
    upload = tmp_path / name
    write(upload, settings.MAX_UPLOAD_SIZE)
    body = tmp_path / "body"
    boundary = _write_multipart(body, fields, upload, content_type)
    client.force_login(apprentice)
    # The first request of a process imports the views' modules (WeasyPrint and fontTools among
    # them, some 20 MB of code objects): a cost of starting up, not of the upload.
    assert client.get("/evidence/new/").status_code == 200

    rss_before = _peak_rss()
    tracemalloc.start()
    try:
        with body.open("rb") as stream:
            response = client.generic(
                "POST",
                "/evidence/new/",
                CONTENT_TYPE=f"multipart/form-data; boundary={boundary}",
                CONTENT_LENGTH=str(body.stat().st_size),
                **{"wsgi.input": stream},
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = _peak_rss() - rss_before

    assert response.status_code == 302, response.content.decode()[:2000]
    stored = EvidenceFile.objects.get()
    assert (stored.size, stored.content_type, stored.sha256) == (upload.stat().st_size, content_type, _sha256(upload))
    with capsys.disabled():
        print(
            f"\n{name}: {stored.size / MB:.1f} MB upload; traced peak {peak / MB:.2f} MB, "
            f"peak RSS growth {rss_growth / MB:.2f} MB"
        )
    assert peak < MEMORY_BOUND
    # Tighter than the bound, and the point of it: no copy of the whole file is ever held.
    assert peak < settings.MAX_UPLOAD_SIZE / 4


def test_uploads_over_the_memory_threshold_go_to_a_temporary_file(settings):
    """Django keeps an upload in memory only up to FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), then streams it to disk."""
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE <= 5 * MB
    assert "django.core.files.uploadhandler.TemporaryFileUploadHandler" in settings.FILE_UPLOAD_HANDLERS


def test_type_check_and_hash_read_a_large_file_in_chunks(tmp_path):
    """A 25 MB file on disk is typed from its first bytes and hashed piece by piece."""
    path = tmp_path / "big.pdf"
    _write_pdf(path, settings.MAX_UPLOAD_SIZE)
    upload = TemporaryUploadedFile("big.pdf", "application/pdf", path.stat().st_size, None)
    with path.open("rb") as source:
        while piece := source.read(CHUNK):
            upload.write(piece)
    expected = _sha256(path)
    tracemalloc.start()
    try:
        content_type = uploads.check_upload(upload)
        digest = uploads.sha256_of(upload)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        upload.close()
    assert (content_type, digest) == ("application/pdf", expected)
    assert peak < CHUNK


def _uploaded(path: Path, name: str) -> TemporaryUploadedFile:
    upload = TemporaryUploadedFile(name, "application/octet-stream", path.stat().st_size, None)
    with path.open("rb") as source:
        while piece := source.read(CHUNK):
            upload.write(piece)
    return upload


def _traced(check, upload) -> tuple[object, int]:
    """What `check(upload)` returns (or the error it raises) and the peak memory it took."""
    tracemalloc.start()
    try:
        try:
            outcome = check(upload)
        except ValidationError as error:
            outcome = error
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        upload.close()
    return outcome, peak


def test_a_zip_of_tens_of_thousands_of_parts_is_refused_without_listing_them(tmp_path):
    """Listing a zip's directory costs a few hundred bytes an entry: 200,000 took over 100 MB."""
    path = tmp_path / "parts.docx"
    with zipfile.ZipFile(path, "w") as archive:
        # Parts named so that libmagic sees only "a zip" and the manifest has to be read.
        for n in range(uploads.MAX_ZIP_ENTRIES + 10):
            archive.writestr(zipfile.ZipInfo(f"docProps/custom{n:06d}.xml"), b"")
        archive.writestr("word/document.xml", "<w/>")
        archive.writestr("[Content_Types].xml", "<Types/>")
    outcome, peak = _traced(uploads.check_upload, _uploaded(path, "parts.docx"))
    assert isinstance(outcome, ValidationError) and outcome.code == "type_not_allowed"
    assert peak < CHUNK


def test_an_opendocument_whose_mimetype_inflates_to_megabytes_is_refused_without_inflating_it(tmp_path):
    path = tmp_path / "bomb.odt"
    declared = b"application/vnd.oasis.opendocument.text"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), declared + b" " * (60 * MB), compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("content.xml", "<x/>")
    assert path.stat().st_size < MB
    outcome, peak = _traced(uploads.check_upload, _uploaded(path, "bomb.odt"))
    assert isinstance(outcome, ValidationError) and outcome.code == "type_not_allowed"
    assert peak < CHUNK


def test_an_opendocument_is_still_told_by_its_mimetype(tmp_path):
    path = tmp_path / "notes.odt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), b"application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", "<x/>")
    outcome, _ = _traced(uploads.check_upload, _uploaded(path, "notes.odt"))
    assert outcome == "application/vnd.oasis.opendocument.text"
