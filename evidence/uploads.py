"""Which uploads the portfolio accepts, decided by what the bytes are rather than the name."""

from __future__ import annotations

import hashlib
import zipfile
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


def _detect_zip_document(upload: UploadedFile) -> str | None:
    upload.seek(0)
    try:
        with zipfile.ZipFile(upload) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                declared = archive.read("mimetype").decode("ascii", "replace").strip()
                return declared if declared in ALLOWED_TYPES else None
            if "[Content_Types].xml" in names:
                for prefix, content_type in _OOXML_PARTS.items():
                    if any(name.startswith(prefix) for name in names):
                        return content_type
    except (zipfile.BadZipFile, OSError, ValueError):
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
