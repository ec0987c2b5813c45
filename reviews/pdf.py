"""The portfolio PDF: rendered by WeasyPrint from a Django template, as PDF/A-3b.

PDF/A-3 is the archival form of PDF that may carry other files inside it, so the originals of
the evidence (PDFs, spreadsheets, documents) travel with the portfolio as embedded files, each
listed on its page with its SHA-256. Images are drawn from their print copies (see
`evidence.images`), never from the multi-megabyte originals.

WeasyPrint fetches what the HTML refers to through `PortfolioURLFetcher`, which knows one private
scheme and serves only our static files and the print copies of this portfolio's images: no
`file://`, no network, no device files, whatever ends up in the HTML.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import io
import logging
import mimetypes
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath, PurePosixPath
from urllib.parse import unquote

from django.contrib.staticfiles import finders
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from evidence.images import PrintCopy, print_copy_of
from evidence.models import EvidenceFile
from evidence.uploads import ALLOWED_TYPES
from portal.models import Apprenticeship

from .charts import activity_over_time
from .duties import duties_of, duty_coverage
from .portfolio import EvidenceEntry, Portfolio, portfolio_of

# WeasyPrint logs each step, and each page laid out, at INFO: hundreds of lines per export in a
# worker's log. Set before the import, which already logs a few.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

import weasyprint  # noqa: E402
from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: E402

SCHEME = "portfolio"
STATIC_PREFIX = f"{SCHEME}:static/"
IMAGE_PREFIX = f"{SCHEME}:image/"

# Percentages reported to `on_progress`; laying the pages out is most of the work.
HTML_RENDERED, LAID_OUT, WRITTEN = 20, 85, 100


class RefusedURL(ValueError):
    """A URL the portfolio's fetcher will not serve."""


class PortfolioURLFetcher(URLFetcher):
    """Serves WeasyPrint `portfolio:static/<path>` and `portfolio:image/<file id>`, nothing else.

    Static files are found by Django's staticfiles finders, which refuse paths outside their
    folders. Images are served only for the files of this portfolio that are drawn, from their
    stored print copies or from copies made in memory when the task has not run yet; any other
    id is refused, so the HTML cannot pull in another apprentice's file, nor an original.
    """

    def __init__(self, images: Mapping[int, EvidenceFile | PrintCopy] | None = None) -> None:
        super().__init__(allowed_protocols=(SCHEME,), allow_redirects=False, fail_on_errors=False)
        self.images = dict(images or {})
        self.failures: list[str] = []
        self.missing: list[str] = []  # original names of images that could not be read at all

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        try:
            if url.startswith(STATIC_PREFIX):
                return self._static(url, _safe_path(url.removeprefix(STATIC_PREFIX)))
            if url.startswith(IMAGE_PREFIX):
                return self._image(url, url.removeprefix(IMAGE_PREFIX))
        except Exception:
            self.failures.append(url)
            raise
        self.failures.append(url)
        raise RefusedURL(f"The portfolio PDF fetches only {SCHEME}: URLs of its own, not {url[:100]!r}.")

    def _static(self, url: str, path: str) -> URLFetcherResponse:
        found = finders.find(path)
        if not found:
            raise RefusedURL(f"No static file {path!r}.")
        with open(found, "rb") as handle:
            body = handle.read()
        return URLFetcherResponse(url, body, {"Content-Type": _content_type(path)})

    def _image(self, url: str, file_id: str) -> URLFetcherResponse:
        if not file_id.isdigit() or int(file_id) not in self.images:
            raise RefusedURL(f"No image {file_id[:20]!r} in this portfolio.")
        source = self.images[int(file_id)]
        if isinstance(source, PrintCopy):
            return URLFetcherResponse(url, source.data, {"Content-Type": source.content_type})
        name = source.print_copy.name
        try:
            with default_storage.open(name, "rb") as handle:
                return URLFetcherResponse(url, handle.read(), {"Content-Type": _content_type(name)})
        except FileNotFoundError:
            pass  # the copy went missing: make it again from the original rather than lose the image
        try:
            copy = print_copy_of(source)
        except FileNotFoundError:
            self.missing.append(source.original_name)
            raise
        if copy is None:
            raise RefusedURL(f"{source.original_name} cannot be drawn.")
        return URLFetcherResponse(url, copy.data, {"Content-Type": copy.content_type})


def _safe_path(raw: str) -> str:
    """A relative path with no way out of where it is looked up: no '..', no root, no drive."""
    path = unquote(raw.split("?", 1)[0].split("#", 1)[0])
    parts = PurePosixPath(path).parts
    if not parts or "\\" in path or "\x00" in path or path.startswith("/") or any(p in ("..", ".") for p in parts):
        raise RefusedURL(f"Not a static file path: {raw[:100]!r}.")
    return path


def _content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


@dataclass
class PrintedFile:
    """A file of an evidence item as the document handles it: drawn, or listed and attached."""

    stored: EvidenceFile
    src: str = ""  # the fetcher URL of its print copy, when drawn
    attachment: str = ""  # its name inside the PDF, when attached
    withheld: str = ""  # why it is listed but neither drawn nor attached

    @property
    def drawn(self) -> bool:
        return bool(self.src)

    @property
    def type_label(self) -> str:
        label = ALLOWED_TYPES.get(self.stored.content_type, (self.stored.content_type, ()))[0]
        return f"{label}. {self.withheld}" if self.withheld else label


def _withheld(stored: EvidenceFile) -> str:
    """Why a file held or removed by the virus scan goes into no PDF: only its name, size and hash are listed."""
    if stored.is_scan_pending:
        return "Not attached: it was still being checked for viruses when exported; export again to include it."
    if stored.is_infected:
        return "Not attached: it was removed because it contained a virus."
    return ""


@dataclass
class PrintedEntry:
    entry: EvidenceEntry
    images: list[PrintedFile] = field(default_factory=list)
    files: list[PrintedFile] = field(default_factory=list)


def _print_sources(portfolio: Portfolio) -> dict[int, EvidenceFile | PrintCopy]:
    """What each drawable image is drawn from: its stored print copy, or one made now in memory.

    An image Pillow cannot read (HEIC) has neither and is attached like any other file.
    """
    sources: dict[int, EvidenceFile | PrintCopy] = {}
    for _, stored in portfolio.files:
        if not stored.is_image or not stored.is_available:
            continue
        if stored.print_copy:
            sources[stored.pk] = stored
            continue
        with _missing_named(stored):
            copy = print_copy_of(stored)
        if copy is not None:
            sources[stored.pk] = copy
    return sources


@contextlib.contextmanager
def _missing_named(stored: EvidenceFile) -> Iterator[None]:
    """A file missing from storage is reported by its original name, which people know it by."""
    try:
        yield
    except FileNotFoundError as error:
        raise FileNotFoundError(errno.ENOENT, "missing from storage", stored.original_name) from error


def _unique_name(name: str, reference: str, taken: set[str]) -> str:
    """Attachment names are keys inside the PDF, so two files called scan.pdf must differ."""
    candidate = name
    path = PurePath(name)
    number = 1
    while candidate.lower() in taken:
        candidate = f"{path.stem} ({reference}{'' if number == 1 else f'-{number}'}){path.suffix}"
        number += 1
    taken.add(candidate.lower())
    return candidate


def _printed_entries(portfolio: Portfolio, sources: Mapping[int, EvidenceFile | PrintCopy]) -> list[PrintedEntry]:
    taken: set[str] = set()
    printed: dict[int, PrintedFile] = {}
    entries = []
    for entry in portfolio.evidence:
        row = PrintedEntry(entry)
        for stored in entry.files:
            if stored.pk not in printed:
                if stored.pk in sources:
                    printed[stored.pk] = PrintedFile(stored, src=f"{IMAGE_PREFIX}{stored.pk}")
                else:
                    name = _unique_name(stored.original_name, entry.reference, taken)
                    printed[stored.pk] = PrintedFile(stored, attachment=name, withheld=_withheld(stored))
            (row.images if printed[stored.pk].drawn else row.files).append(printed[stored.pk])
        entries.append(row)
    return entries


def _attachments(entries: list[PrintedEntry], stack: contextlib.ExitStack) -> list[weasyprint.Attachment]:
    """Every file not drawn, as an embedded file of the PDF, opened for as long as the PDF is written."""
    attachments: dict[str, weasyprint.Attachment] = {}
    for row in entries:
        for printed in row.files:
            if printed.attachment in attachments or printed.withheld:
                continue
            stored = printed.stored
            with _missing_named(stored):
                handle = stack.enter_context(default_storage.open(stored.file.name, "rb"))
            uploaded = stored.uploaded_at.astimezone(datetime.UTC).replace(tzinfo=None)
            attachments[printed.attachment] = weasyprint.Attachment(
                file_obj=handle,
                name=printed.attachment,
                description=f"{row.entry.reference} {row.entry.version.title}: {stored.original_name} "
                f"({printed.type_label}, SHA-256 {stored.sha256})",
                created=uploaded,
                modified=uploaded,
                relationship="Source",
            )
    # The PDF's name tree of embedded files is meant to be in name order.
    return [attachments[name] for name in sorted(attachments)]


def portfolio_filename(apprenticeship: Apprenticeship) -> str:
    """e.g. portfolio-ST0220-amira-hussain.pdf: ASCII only, safe in any file system or header."""
    reference = re.sub(r"[^A-Za-z0-9]+", "", apprenticeship.standard.reference) or "standard"
    person = slugify(apprenticeship.apprentice.get_full_name())[:60].strip("-") or f"apprenticeship-{apprenticeship.pk}"
    return f"portfolio-{reference}-{person}.pdf"


def document_title(apprenticeship: Apprenticeship) -> str:
    standard = apprenticeship.standard
    return f"Portfolio of evidence: {apprenticeship.apprentice}, {standard.reference} {standard.title}"


class PortfolioRenderError(Exception):
    """The document could not be made; the message says why, for the person waiting for it."""


@dataclass
class DocumentInput:
    """Everything WeasyPrint is given: the HTML, and the files it may fetch or embed."""

    html: str
    sources: Mapping[int, EvidenceFile | PrintCopy]
    entries: list[PrintedEntry]


def portfolio_document_input(
    apprenticeship: Apprenticeship, *, exported_at: datetime.datetime | None = None
) -> DocumentInput:
    """Gathers the portfolio and renders its HTML: all the work before WeasyPrint's."""
    portfolio = portfolio_of(apprenticeship, exported_at=exported_at or timezone.now())
    sources = _print_sources(portfolio)
    entries = _printed_entries(portfolio, sources)
    html = render_to_string(
        "reviews/pdf/portfolio.html",
        {
            "portfolio": portfolio,
            "apprenticeship": portfolio.apprenticeship,
            "coverage": portfolio.coverage,
            "activity": activity_over_time(portfolio.apprenticeship, today=timezone.localdate(portfolio.exported_at)),
            "duties": duty_coverage(portfolio.coverage, duties_of(portfolio.apprenticeship.standard)),
            "entries": entries,
            "title": document_title(portfolio.apprenticeship),
            "attached_count": sum(len(row.files) for row in entries),
            "drawn_count": sum(len(row.images) for row in entries),
        },
    )
    return DocumentInput(html=html, sources=sources, entries=entries)


def write_document(document_input: DocumentInput, *, on_laid_out: Callable[[], None] | None = None) -> bytes:
    """WeasyPrint's part: lays the HTML out and writes the PDF/A-3b with the files embedded."""
    fetcher = PortfolioURLFetcher(document_input.sources)
    document = weasyprint.HTML(string=document_input.html, base_url=f"{SCHEME}:", url_fetcher=fetcher).render()
    # WeasyPrint leaves out what it cannot load and carries on; evidence must not vanish silently.
    if fetcher.missing:
        raise FileNotFoundError(errno.ENOENT, "missing from storage", ", ".join(fetcher.missing))
    if fetcher.failures:
        raise PortfolioRenderError(f"The portfolio PDF could not load {', '.join(fetcher.failures[:5])}.")
    if on_laid_out:
        on_laid_out()
    with contextlib.ExitStack() as stack:
        output = io.BytesIO()
        document.write_pdf(
            output,
            pdf_variant="pdf/a-3b",
            pdf_tags=True,
            attachments=_attachments(document_input.entries, stack),
        )
    return output.getvalue()


def render_portfolio(
    apprenticeship: Apprenticeship,
    *,
    exported_at: datetime.datetime | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> bytes:
    """The apprenticeship's portfolio as a PDF/A-3b document, with its evidence files embedded.

    `on_progress` is told the percentage done after the HTML is rendered, the pages laid out and
    the PDF written.
    """
    report = on_progress or (lambda percent: None)
    document_input = portfolio_document_input(apprenticeship, exported_at=exported_at)
    report(HTML_RENDERED)
    pdf = write_document(document_input, on_laid_out=lambda: report(LAID_OUT))
    report(WRITTEN)
    return pdf
