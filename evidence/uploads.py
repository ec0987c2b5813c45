"""Which uploads the portfolio accepts, decided by what the bytes are rather than the name."""

from __future__ import annotations

import hashlib
import struct
import zipfile
import zlib
from pathlib import PurePath

import magic
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

# Detected type -> (what people call it, the extensions such a file may carry).
ALLOWED_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "application/pdf": ("PDF", (".pdf",)),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("Word document", (".docx",)),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("Excel workbook", (".xlsx",)),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ("PowerPoint", (".pptx",)),
    "application/vnd.oasis.opendocument.text": ("OpenDocument text", (".odt",)),
    "application/vnd.oasis.opendocument.spreadsheet": ("OpenDocument spreadsheet", (".ods",)),
    "application/vnd.oasis.opendocument.presentation": ("OpenDocument presentation", (".odp",)),
    "text/plain": ("plain text", (".txt", ".csv", ".text", ".md")),
    "text/csv": ("CSV", (".csv", ".txt")),
    "image/jpeg": ("JPEG image", (".jpg", ".jpeg", ".jfif")),
    "image/png": ("PNG image", (".png",)),
    "image/gif": ("GIF image", (".gif",)),
    "image/webp": ("WebP image", (".webp",)),
    "image/heic": ("HEIC photo", (".heic", ".heif")),
    "image/heif": ("HEIF photo", (".heic", ".heif")),
}
KNOWN_EXTENSIONS = {ext for _, exts in ALLOWED_TYPES.values() for ext in exts}

ACCEPTED_SUMMARY = "PDF, Word, Excel, PowerPoint, OpenDocument, text, CSV, JPEG, PNG, GIF, WebP or HEIC"

# Office and OpenDocument files are zip archives; some writers order their entries so that
# libmagic only sees "a zip". Their own manifest says which kind they are.
_OOXML_PARTS = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


# Reading a zip's directory costs memory in proportion to its entries (a few hundred bytes each):
# a 25 MB zip of 200,000 empty entries took over 100 MB to list. Real documents hold dozens to a
# few thousand parts, so a directory bigger than this is not looked into (and the file, seen only
# as a zip, is refused).
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_DIRECTORY = 2 * 1024 * 1024
# An OpenDocument `mimetype` entry is one short line; a longer one is not read (it could inflate
# from a few kilobytes to gigabytes).
MAX_MIMETYPE_LENGTH = 100

_END_OF_DIRECTORY = struct.Struct("<4s4H2LH")
_END_SIGNATURE = b"PK\x05\x06"


def _zip_directory_is_small(upload: UploadedFile) -> bool:
    """Whether the zip's central directory, as its end record declares it, is of a document's size.

    Reads only the end of the file (the record and the comment that may follow it, at most 64 KB).
    A zip64 archive, whose counts are in another record, is not looked into either.
    """
    size = upload.size or 0
    tail_length = min(size, _END_OF_DIRECTORY.size + 0xFFFF)
    upload.seek(size - tail_length)
    tail = upload.read(tail_length)
    at = tail.rfind(_END_SIGNATURE)
    if at < 0 or len(tail) - at < _END_OF_DIRECTORY.size:
        return False
    _, _, _, _, entries, directory_size, _, _ = _END_OF_DIRECTORY.unpack_from(tail, at)
    if entries == 0xFFFF or directory_size == 0xFFFFFFFF:
        return False
    return entries <= MAX_ZIP_ENTRIES and directory_size <= MAX_ZIP_DIRECTORY


def _detect_zip_document(upload: UploadedFile) -> str | None:
    try:
        if not _zip_directory_is_small(upload):
            return None
        upload.seek(0)
        with zipfile.ZipFile(upload) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                with archive.open("mimetype") as entry:
                    declared = entry.read(MAX_MIMETYPE_LENGTH + 1)
                if len(declared) > MAX_MIMETYPE_LENGTH:
                    return None
                declared = declared.decode("ascii", "replace").strip()
                return declared if declared in ALLOWED_TYPES else None
            if "[Content_Types].xml" in names:
                for prefix, content_type in _OOXML_PARTS.items():
                    if any(name.startswith(prefix) for name in names):
                        return content_type
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError, zlib.error):
        return None
    return None


def detect_content_type(upload: UploadedFile) -> str:
    upload.seek(0)
    head = upload.read(8192)
    content_type = magic.from_buffer(head, mime=True)
    if content_type in {"application/zip", "application/octet-stream"} and head.startswith(b"PK"):
        content_type = _detect_zip_document(upload) or content_type
    upload.seek(0)
    return content_type


def check_upload(upload: UploadedFile) -> str:
    """The detected type of an allowed, non-empty file within the size limit; otherwise says why not."""
    name = upload.name or "The file"
    if upload.size == 0:
        raise ValidationError(f"{name} is empty.", code="empty")
    if upload.size > settings.MAX_UPLOAD_SIZE:
        raise ValidationError(
            f"{name} is {filesizeformat(upload.size)}; files can be at most {settings.MAX_UPLOAD_SIZE_MB} MB.",
            code="too_large",
        )
    content_type = detect_content_type(upload)
    if content_type not in ALLOWED_TYPES:
        raise ValidationError(
            f"{name} is not a file type the portfolio accepts ({ACCEPTED_SUMMARY}).", code="type_not_allowed"
        )
    label, extensions = ALLOWED_TYPES[content_type]
    extension = PurePath(name).suffix.lower()
    if extension in KNOWN_EXTENSIONS and extension not in extensions:
        raise ValidationError(
            f"{name} is named as a {extension} file but its content is a {label}. "
            "Choose the right file, or rename it to match what it is.",
            code="content_mismatch",
        )
    return content_type


def sha256_of(file) -> str:
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()
