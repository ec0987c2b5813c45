"""Benchmark of the portfolio export: `make bench-pdf` runs it on a throwaway database.

Builds a portfolio of every KSB of ST0220, 200 evidence items and 40 phone-sized photos, then
measures, in the same run: the export through the Celery task, WeasyPrint alone on the same
HTML, their ratio, pages per second, peak memory of the export and the size of the PDF.
"""

from __future__ import annotations

import datetime
import io
import multiprocessing
import resource
import time

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from PIL import Image, ImageDraw

from evidence import services as evidence_services
from evidence.models import EvidenceItem
from portal.models import Apprenticeship, Organisation, User
from portal.services import enrol_apprentice
from reviews import services as review_services
from standards.models import Standard

ITEMS = 200
IMAGES = 40
TARGET_RATIO = 1.2
TARGET_SECONDS_FOR_300_PAGES = 60
TARGET_PEAK_MB = 1024
TARGET_PDF_MB = 50

REFLECTION = (
    "I prepared the analyser, checked the reagent lot numbers and ran the three levels of quality control "
    "before loading patient samples. The high control was outside two standard deviations, so I stopped, "
    "repeated it with fresh material and recorded both results. With my supervisor I traced the shift to a "
    "reagent pack opened the day before, documented the corrective action and released the run. Next time "
    "I will check the on-board stability dates during start-up rather than waiting for a failed control. "
)


def _photo(n: int) -> bytes:
    """A 12-megapixel JPEG like a phone photo, different each time so nothing is shared."""
    image = Image.new("RGB", (4000, 3000), (200 - n, 210, 220 + n % 30))
    draw = ImageDraw.Draw(image)
    for k in range(60):
        x, y = (k * 211 + n * 37) % 3800, (k * 137 + n * 53) % 2800
        draw.rectangle([x, y, x + 180 + k, y + 120 + n], fill=((k * 40) % 255, (n * 30) % 255, (k * n) % 255))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def build_portfolio() -> Apprenticeship:
    call_command("loaddata", "st0220", verbosity=0)
    standard = Standard.objects.get(reference="ST0220", version="1.0")
    provider = Organisation.objects.create(kind="provider", name="Benchmark College")
    employer = Organisation.objects.create(kind="employer", name="Benchmark Hospital")
    assessor = User.objects.create_user(
        "assessor@bench.test", None, role="assessor", organisation=provider, first_name="Asha", last_name="Assessor"
    )
    apprentice = User.objects.create_user(
        "apprentice@bench.test", None, role="apprentice", organisation=provider, first_name="Bea", last_name="Benchmark"
    )
    apprenticeship = enrol_apprentice(
        apprentice=apprentice,
        standard=standard,
        employer=employer,
        assessor=assessor,
        start_date=datetime.date(2024, 9, 2),
        planned_end_date=datetime.date(2026, 9, 2),
    )
    ksbs = list(standard.ksbs.all())
    types = [t for t in EvidenceItem.Type.values]
    for n in range(ITEMS):
        mapped = {ksbs[(n * 3 + k) % len(ksbs)]: f"Shown in step {k + 1} of the activity." for k in range(3)}
        uploads = [SimpleUploadedFile(f"photo-{n}.jpg", _photo(n))] if n < IMAGES else []
        if n % 5 == 0 or not uploads:
            uploads.append(SimpleUploadedFile(f"record-{n}.csv", b"date,result\n2025-10-01,4.1\n2025-10-02,4.0\n"))
        item = evidence_services.create_evidence(
            apprenticeship=apprenticeship,
            by=apprentice,
            title=f"Evidence {n + 1}: quality control, run {n + 1}",
            activity_date=datetime.date(2025, 1, 1) + datetime.timedelta(days=n),
            evidence_type=types[n % len(types)],
            reflection=REFLECTION * 2,
            mappings=mapped,
            uploads=uploads,
        )
        evidence_services.submit_evidence(item=item, by=apprentice)
        review_services.accept_evidence(item=item, by=assessor, feedback="Clear and well reflected.")
    for ksb in ksbs:
        versions = list(review_services.eligible_versions(apprenticeship, ksb)[:3])
        review_services.sign_off_ksb(
            apprenticeship=apprenticeship,
            ksb=ksb,
            versions=versions,
            by=assessor,
            comment=f"{ksb.code} is met across the evidence relied on.",
        )
    return apprenticeship


def _export_through_task(apprenticeship_id: int, out) -> None:
    from reviews import exports
    from reviews.models import Export

    apprenticeship = Apprenticeship.objects.get(pk=apprenticeship_id)
    # Without a broker the request runs the task as soon as its transaction commits, through
    # Celery's own machinery: this times what a user waits for, request to finished file.
    started = time.perf_counter()
    export = exports.request_portfolio_export(apprenticeship=apprenticeship, by=apprenticeship.assessor)
    seconds = time.perf_counter() - started
    export = Export.objects.get(pk=export.pk)
    if export.state != Export.State.DONE:
        out.put({"error": export.error})
        return
    out.put({"seconds": seconds, "path": export.file.path, "size": export.size})


def _weasyprint_alone(apprenticeship_id: int, out) -> None:
    from reviews.pdf import portfolio_document_input, write_document

    apprenticeship = Apprenticeship.objects.with_people().get(pk=apprenticeship_id)
    document_input = portfolio_document_input(apprenticeship)
    started = time.perf_counter()
    pdf = write_document(document_input)
    out.put({"seconds": time.perf_counter() - started, "size": len(pdf)})


def _in_child(target, apprenticeship_id: int) -> tuple[dict, int]:
    """Runs one phase in a fresh process: its peak memory is its own."""
    connections.close_all()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=target, args=(apprenticeship_id, queue))
    process.start()
    result = queue.get()
    process.join()
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return result, peak_kb


class Command(BaseCommand):
    help = "Builds a 65-KSB, 200-item, 40-photo portfolio and measures its export. Run it with `make bench-pdf`."

    def handle(self, *args, **options):
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            raise CommandError("Run the benchmark without REDIS_URL: it times the task in this process.")
        if Apprenticeship.objects.exists():
            raise CommandError("The benchmark builds its own data: run it on an empty database (make bench-pdf).")
        self.stdout.write(f"Building the portfolio: {ITEMS} items, {IMAGES} photos of 4000x3000, 65 KSBs…")
        started = time.perf_counter()
        apprenticeship = build_portfolio()
        self.stdout.write(f"  built in {time.perf_counter() - started:.1f} s")

        task, peak_kb = _in_child(_export_through_task, apprenticeship.pk)
        if "error" in task:
            raise CommandError(f"The export failed: {task['error']}")
        alone, _ = _in_child(_weasyprint_alone, apprenticeship.pk)

        from pypdf import PdfReader

        pages = len(PdfReader(task["path"]).pages)
        ratio = task["seconds"] / alone["seconds"]
        per_page = task["seconds"] / pages
        peak_mb = peak_kb / 1024
        size_mb = task["size"] / (1024 * 1024)
        rows = [
            ("pages", f"{pages}", ""),
            ("export through the task", f"{task['seconds']:.1f} s", ""),
            ("WeasyPrint alone, same HTML", f"{alone['seconds']:.1f} s", ""),
            ("ratio task / WeasyPrint", f"{ratio:.2f}", f"target <= {TARGET_RATIO}"),
            ("pages per second", f"{pages / task['seconds']:.1f}", ""),
            ("300 pages at this rate", f"{per_page * 300:.0f} s", f"target <= {TARGET_SECONDS_FOR_300_PAGES} s"),
            ("peak memory of the export", f"{peak_mb:.0f} MB", f"target < {TARGET_PEAK_MB} MB"),
            ("PDF size", f"{size_mb:.1f} MB", f"target < {TARGET_PDF_MB} MB"),
        ]
        self.stdout.write("")
        for name, value, target in rows:
            self.stdout.write(f"  {name:<30} {value:>10}   {target}")
        missed = [
            name
            for name, ok in [
                ("ratio", ratio <= TARGET_RATIO),
                ("300 pages", per_page * 300 <= TARGET_SECONDS_FOR_300_PAGES),
                ("memory", peak_mb < TARGET_PEAK_MB),
                ("size", size_mb < TARGET_PDF_MB),
            ]
            if not ok
        ]
        self.stdout.write("")
        self.stdout.write("All targets met." if not missed else f"Targets missed: {', '.join(missed)}.")
