"""Small real files of each kind, built in memory: the upload checks read content, not names."""

import io
import struct
import zipfile
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile


def _zip(entries: list[tuple[str, str]], mimetype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if mimetype:  # OpenDocument: an uncompressed `mimetype` entry first
            archive.writestr(zipfile.ZipInfo("mimetype"), mimetype, compress_type=zipfile.ZIP_STORED)
        for name, content in entries:
            archive.writestr(name, content, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


_TYPES_XML = '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'


def _png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x20\x80\xc0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

CONTENT = {
    "pdf": PDF,
    "docx": _zip([("[Content_Types].xml", _TYPES_XML), ("_rels/.rels", "<x/>"), ("word/document.xml", "<w/>")]),
    "xlsx": _zip([("[Content_Types].xml", _TYPES_XML), ("_rels/.rels", "<x/>"), ("xl/workbook.xml", "<w/>")]),
    "pptx": _zip([("[Content_Types].xml", _TYPES_XML), ("_rels/.rels", "<x/>"), ("ppt/presentation.xml", "<p/>")]),
    # Written with its manifest first, as some writers do: libmagic then sees only a zip.
    "docx_manifest_first": _zip(
        [
            ("_rels/.rels", "<x/>"),
            ("docProps/app.xml", "<a/>"),
            ("word/document.xml", "<w/>"),
            ("[Content_Types].xml", _TYPES_XML),
        ]
    ),
    "odt": _zip([("content.xml", "<x/>")], mimetype="application/vnd.oasis.opendocument.text"),
    "ods": _zip([("content.xml", "<x/>")], mimetype="application/vnd.oasis.opendocument.spreadsheet"),
    "txt": b"What I did on the ward today, and what I learned from it.\n",
    "csv": b"date,analyser,level,result\n2025-10-01,A1,low,4.1\n2025-10-01,A1,high,12.9\n2025-10-02,A1,low,4.0\n",
    "jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9",
    "png": _png(),
    "gif": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    "webp": b"RIFF\x1a\x00\x00\x00WEBPVP8 \x0e\x00\x00\x00" + b"\x00" * 14,
    "heic": struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic",
    "zip": _zip([("notes.txt", "hello")]),
    "exe": b"MZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run in DOS mode.",
    "html": b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>",
    "svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
}


def upload(name: str, kind: str | None = None, content: bytes | None = None) -> SimpleUploadedFile:
    """An uploaded file called `name` holding a real file of `kind` (by default, its extension)."""
    kind = kind or name.rsplit(".", 1)[-1]
    return SimpleUploadedFile(name, CONTENT[kind] if content is None else content)
