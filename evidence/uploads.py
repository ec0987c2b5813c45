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

# What a zip's directory says its entries unpack to, checked before any entry is opened. Office and
# OpenDocument files unpack to a few times their size, rarely more than 20 times (XML compresses
# well); a zip bomb declares gigabytes. So at most 100 times the upload's size, yet never less than
# 100 MB (a small file cannot do harm by unpacking to that) and never more than 1 GB in all.
MAX_ZIP_EXPANSION = 100
MIN_ZIP_UNPACKED_LIMIT = 100 * 1024 * 1024
MAX_ZIP_UNPACKED = 1024 * 1024 * 1024
# Deflate cannot do better than about 1032:1, which only long runs of one byte reach; real parts of a
# document stay far below. Above this ratio an entry is refused once it is large enough to matter
# (smaller ones unpack to no more than the 100 MB that any zip may).
MAX_ENTRY_RATIO = 1000
MIN_ENTRY_SIZE_FOR_RATIO = MIN_ZIP_UNPACKED_LIMIT

UNPACKS_TOO_LARGE = (
    "{name} expands to {unpacked} when unpacked, which no real document does: "
    "save it again from your office program and upload that."
)
PART_UNPACKS_TOO_FAR = (
    "{name} holds a part that expands over {ratio:,}-fold when unpacked (to {unpacked}), which no real "
    "document does: save it again from your office program and upload that."
)

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


class ZipBomb(Exception):
    """A zip whose directory declares far more unpacked data than any document holds."""

    def __init__(self, unpacked: int, *, one_part: bool = False) -> None:
        super().__init__(unpacked)
        self.unpacked = unpacked
        self.one_part = one_part  # one entry's ratio, rather than the total, is what gave it away

    def message(self, name: str) -> str:
        template = PART_UNPACKS_TOO_FAR if self.one_part else UNPACKS_TOO_LARGE
        return template.format(name=name, unpacked=filesizeformat(self.unpacked), ratio=MAX_ENTRY_RATIO)


def _check_declared_sizes(archive: zipfile.ZipFile, size: int) -> None:
    """Refuses a zip bomb from what its directory declares, without decompressing a byte.

    A zip can also lie (declare little, inflate to much); nothing of ours inflates more than the
    `mimetype` entry's first 100 bytes, so such a lie unpacks nowhere.
    """
    entries = archive.infolist()
    unpacked = sum(info.file_size for info in entries)
    if unpacked > min(max(MAX_ZIP_EXPANSION * size, MIN_ZIP_UNPACKED_LIMIT), MAX_ZIP_UNPACKED):
        raise ZipBomb(unpacked)
    for info in entries:
        if info.file_size > MIN_ENTRY_SIZE_FOR_RATIO and info.file_size > MAX_ENTRY_RATIO * max(info.compress_size, 1):
            raise ZipBomb(info.file_size, one_part=True)


def _detect_zip_document(upload: UploadedFile) -> str | None:
    try:
        if not _zip_directory_is_small(upload):
            return None
        upload.seek(0)
        with zipfile.ZipFile(upload) as archive:
            _check_declared_sizes(archive, upload.size or 0)
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


# Zip containers: whatever libmagic makes of the first bytes, the directory is checked (for a zip
# bomb) and the type taken from the manifest inside.
_ZIP_CONTAINERS = {
    "application/zip",
    "application/octet-stream",
    *(kind for kind in ALLOWED_TYPES if "openxmlformats" in kind or "opendocument" in kind),
}


def detect_content_type(upload: UploadedFile) -> str:
    """The type of the upload by its content. Raises ZipBomb for a zip that declares absurd sizes."""
    upload.seek(0)
    head = upload.read(8192)
    content_type = magic.from_buffer(head, mime=True)
    if content_type in _ZIP_CONTAINERS and head.startswith(b"PK"):
        # A document whose directory cannot be read, or is too large to read, is only a zip.
        content_type = _detect_zip_document(upload) or "application/zip"
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
    try:
        content_type = detect_content_type(upload)
    except ZipBomb as bomb:
        upload.seek(0)
        raise ValidationError(bomb.message(name), code="zip_bomb") from None
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
