"""Portfolio exports: asking for one, and the work a worker does to make it.

The work is idempotent: a re-run (a worker died, the task came back) overwrites the same file
of the same Export row, so a portfolio is never exported twice over.

A cohort export fans out: one task per portfolio renders it to a part file of its own, so every
worker process shares the cohort and the time limit applies to each portfolio; the part that
finishes last (decided under the export row's lock) queues the one task that streams the parts
into the zip.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import shutil
import tempfile
import zipfile
from functools import partial
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.text import slugify
from kombu.exceptions import OperationalError as BrokerUnreachable

from portal.models import Apprenticeship, Organisation, User

from .cohort import is_inactive
from .erasure import ERASED_ACTION
from .models import Export, ExportPart, SignOff
from .pdf import PortfolioRenderError, portfolio_filename, render_portfolio
from .progress import progress_for

log = logging.getLogger(__name__)

EXPORTING_ROLES = (User.Role.ASSESSOR, User.Role.PROVIDER_ADMIN)


# Kept on a queued export whose task could not be handed to the broker (Redis down): the export
# page shows it, and `requeue_stalled_exports` publishes the export again once Redis is back.
QUEUE_PAUSED = (
    "Exports are paused because the task queue is not answering. This export is saved and will start "
    "by itself within a few minutes of the queue coming back; you can leave this page."
)


def _queue(export: Export) -> None:
    # After commit: a worker must find the row. The callback never raises, so the request that
    # asked for the export still answers when Redis is down.
    transaction.on_commit(partial(publish, export.pk, queue=_queue_of(export)))


def _queue_of(export: Export) -> str | None:
    """None: the task's route (the PDF queue). Personal data zips copy files and need no PDF worker."""
    return settings.CELERY_TASK_DEFAULT_QUEUE if export.kind == Export.Kind.PERSONAL_DATA else None


def publish(export_id: int, *, queue: str | None = None) -> bool:
    """Hands the export's task to the broker; if it cannot, notes it on the export and says False.

    The export stays queued either way, so it is never lost: a publish that failed is retried by
    `requeue_stalled_exports` (beat, every few minutes) until the broker takes it. Never raises for
    an unreachable broker, so it is safe in an on_commit callback of a request.
    """
    from .tasks import render_export

    try:
        # queue=None keeps the route of CELERY_TASK_ROUTES.
        render_export.apply_async(args=(export_id,), queue=queue)
    except (BrokerUnreachable, ConnectionError, TimeoutError) as error:
        log.error("export %s could not be put on the task queue: %s", export_id, error)
        Export.objects.filter(pk=export_id, state=Export.State.QUEUED).update(error=QUEUE_PAUSED)
        return False
    # A worker may already have started it (and cleared the note itself): only a waiting export changes.
    Export.objects.filter(pk=export_id, state=Export.State.QUEUED).exclude(error="").update(error="")
    return True


def waiting_for_queue(export: Export) -> bool:
    """The export is saved but its task has not reached the broker yet (see QUEUE_PAUSED)."""
    return export.state == Export.State.QUEUED and bool(export.error)


def may_export(user: User, apprenticeship: Apprenticeship) -> bool:
    """The apprentice's assessor and their provider's admins export a portfolio."""
    return (
        user.role in EXPORTING_ROLES and Apprenticeship.objects.visible_to(user).filter(pk=apprenticeship.pk).exists()
    )


@transaction.atomic
def request_portfolio_export(*, apprenticeship: Apprenticeship, by: User) -> Export:
    """Queues the PDF of one portfolio, or returns the same export already on its way."""
    if not may_export(by, apprenticeship):
        raise PermissionDenied("Only the apprentice's assessor or a provider admin exports a portfolio.")
    pending = Export.objects.filter(
        kind=Export.Kind.PORTFOLIO,
        apprenticeship=apprenticeship,
        requested_by=by,
        state__in=[Export.State.QUEUED, Export.State.RUNNING],
    ).first()
    if pending:
        if waiting_for_queue(pending):
            # Asking again is a good moment to try the task queue again.
            _queue(pending)
        return pending
    export = Export.objects.create(
        kind=Export.Kind.PORTFOLIO,
        requested_by=by,
        provider_id=apprenticeship.provider_id,
        apprenticeship=apprenticeship,
    )
    _queue(export)
    return export


@transaction.atomic
def request_cohort_export(
    *,
    by: User,
    assessor: User | None = None,
    employer: Organisation | None = None,
    status: str = "",
    inactive_only: bool = False,
) -> Export:
    """Queues one zip of every portfolio of the provider's cohort, optionally narrowed."""
    if by.role != User.Role.PROVIDER_ADMIN:
        raise PermissionDenied("Only a provider admin exports a cohort.")
    if status and status not in Apprenticeship.Status.values:
        raise ValidationError("Choose a status from the list.")
    filters = {"assessor": assessor.pk if assessor else None, "employer": employer.pk if employer else None}
    filters["status"] = status
    filters["inactive_only"] = inactive_only
    if not _cohort(by, filters):
        raise ValidationError("No apprentice matches these filters, so there is nothing to export.")
    export = Export.objects.create(
        kind=Export.Kind.COHORT, requested_by=by, provider_id=by.organisation_id, filters=filters
    )
    _queue(export)
    return export


def _cohort(user: User, filters: dict) -> list[Apprenticeship]:
    """The cohort as the requester may see it now: access is checked again when the work runs."""
    # An apprentice whose personal data was erased has no portfolio left to export.
    apprenticeships = Apprenticeship.objects.visible_to(user).with_people().exclude(audit_entries__action=ERASED_ACTION)
    if filters.get("assessor"):
        apprenticeships = apprenticeships.filter(assessor_id=filters["assessor"])
    if filters.get("employer"):
        apprenticeships = apprenticeships.filter(employer_id=filters["employer"])
    if filters.get("status"):
        apprenticeships = apprenticeships.filter(status=filters["status"])
    apprenticeships = list(apprenticeships)
    if filters.get("inactive_only"):
        coverage = progress_for(apprenticeships, drafts=False)
        now = timezone.now()
        apprenticeships = [a for a in apprenticeships if is_inactive(a, coverage[a.pk].last_activity, now=now)]
    return apprenticeships


class ExportFailed(Exception):
    """A render that cannot succeed by trying again; its message is shown to the person."""


def _set_progress(export_id: int, percent: int) -> None:
    Export.objects.filter(pk=export_id, state=Export.State.RUNNING).update(progress=max(0, min(99, percent)))


def _start(export_id: int) -> Export | None:
    """Marks the export running, or returns None when there is nothing (more) to do."""
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(pk=export_id).first()
        if export is None or export.state == Export.State.DONE:
            return None
        if export.kind == Export.Kind.COHORT and export.state == Export.State.RUNNING and export.parts.exists():
            # Its message came back after the parts were made: they carry on from where they are.
            return export
        export.state = Export.State.RUNNING
        export.started_at = timezone.now()
        export.progress = 0
        export.error = ""
        export.attempts += 1
        export.save(update_fields=["state", "started_at", "progress", "error", "attempts"])
    return export


def _manifest(apprenticeships: list[Apprenticeship], names: dict[int, str], exported_at) -> bytes:
    coverage = progress_for(apprenticeships, drafts=False)
    sign_offs = (
        SignOff.objects.filter(apprenticeship__in=apprenticeships)
        .select_related("ksb", "signed_by", "revoked_by")
        .prefetch_related("signed_files__file")
        .order_by("apprenticeship_id", "signed_at")
    )
    by_apprenticeship: dict[int, list[dict]] = {}
    for s in sign_offs:
        by_apprenticeship.setdefault(s.apprenticeship_id, []).append(
            {
                "ksb": s.ksb.code,
                "signed_by": str(s.signed_by),
                "signed_at": s.signed_at.isoformat(),
                "revoked_at": s.revoked_at.isoformat() if s.revoked_at else None,
                "revoke_reason": s.revoke_reason or None,
                "files": [
                    {"name": f.file.original_name, "sha256": f.sha256, "version": f.version_id}
                    for f in s.signed_files.all()
                ],
            }
        )
    entries = []
    for a in apprenticeships:
        entries.append(
            {
                "apprentice": str(a.apprentice),
                "email": a.apprentice.email,
                "standard": f"{a.standard.reference} v{a.standard.version}",
                "file": names[a.pk],
                "ksb_states": {cell.ksb.code: cell.state.css for cell in coverage[a.pk].cells},
                "signed_off": coverage[a.pk].signed_off,
                "ksb_total": coverage[a.pk].total,
                "sign_offs": by_apprenticeship.get(a.pk, []),
            }
        )
    return json.dumps({"exported_at": exported_at.isoformat(), "portfolios": entries}, indent=2).encode()


def _render(export: Export, exported_at: datetime.datetime) -> tuple[str, bytes | File]:
    if export.kind == Export.Kind.PERSONAL_DATA:
        # Imported here: personal_data builds on this module's queueing and progress.
        from .personal_data import build_personal_data_archive

        return build_personal_data_archive(
            export, exported_at=exported_at, on_progress=partial(_set_progress, export.pk)
        )
    apprenticeship = Apprenticeship.objects.with_people().get(pk=export.apprenticeship_id)
    if apprenticeship.audit_entries.filter(action=ERASED_ACTION).exists():
        raise ExportFailed("This apprentice's personal data has been erased, so there is no portfolio to export.")
    pdf = render_portfolio(apprenticeship, exported_at=exported_at, on_progress=partial(_set_progress, export.pk))
    return portfolio_filename(apprenticeship), pdf


def run_export(export_id: int) -> Export | None:
    """Makes the export's file, or for a cohort queues its parts. Safe to run again: it overwrites its
    own file and row, and a cohort whose parts exist carries on with them."""
    export = _start(export_id)
    if export is None:
        return None
    if export.kind == Export.Kind.COHORT:
        return _fan_out(export)
    exported_at = timezone.now()
    try:
        file_name, content = _render(export, exported_at)
    except SoftTimeLimitExceeded:
        return _fail(export, f"It took longer than {settings.EXPORT_SOFT_TIME_LIMIT // 60} minutes and was stopped.")
    except FileNotFoundError as error:
        return _fail(export, f"A file of the portfolio is {_missing(error)}, so it could not be made.")
    except (ExportFailed, PortfolioRenderError) as error:
        return _fail(export, str(error))
    return _store(export, file_name, content)


def _missing(error: FileNotFoundError) -> str:
    return f"missing from storage ({error.filename or error})"


def _store(export: Export, file_name: str, content: bytes | File) -> Export:
    stored_name = f"exports/{export.pk}/{file_name}"
    # A zip of an apprentice's files can run to hundreds of megabytes: it comes as a temporary file.
    body = content if isinstance(content, File) else ContentFile(content)
    try:
        # Overwrite, never a second file: a re-run after a lost worker replaces its own output.
        if default_storage.exists(stored_name):
            default_storage.delete(stored_name)
        saved = default_storage.save(stored_name, body)
        size = body.size
    finally:
        body.close()
    Export.objects.filter(pk=export.pk).update(
        state=Export.State.DONE,
        progress=100,
        file=saved,
        file_name=file_name,
        size=size,
        finished_at=timezone.now(),
        expires_at=timezone.now() + datetime.timedelta(days=settings.EXPORT_RETENTION_DAYS),
    )
    export.refresh_from_db()
    log.info("export %s done: %s, %d bytes", export.pk, file_name, size)
    return export


def _fail(export: Export, reason: str) -> Export:
    log.warning("export %s failed: %s", export.pk, reason)
    Export.objects.filter(pk=export.pk).update(state=Export.State.FAILED, error=reason, finished_at=timezone.now())
    if export.kind == Export.Kind.COHORT:
        _discard_parts(export.pk)
    export.refresh_from_db()
    return export


def fail_export(export_id: int, reason: str) -> None:
    """Records a failure the task could not handle itself, in words for the person waiting."""
    Export.objects.filter(pk=export_id).exclude(state=Export.State.DONE).update(
        state=Export.State.FAILED, error=reason, finished_at=timezone.now()
    )
    if ExportPart.objects.filter(export_id=export_id).exists():
        _discard_parts(export_id)


# --- A cohort, one part per portfolio ---------------------------------------------------------


def _parts_folder(export_id: int) -> str:
    return f"exports/{export_id}/parts"


def _fan_out(export: Export) -> Export:
    """Queues one part per portfolio of the cohort, each after the commit so its worker finds the row.

    Run again (its message came back), it queues again the parts not yet made: a part that is
    made already skips its work."""
    cohort = None
    if not export.parts.exists():
        cohort = _cohort(export.requested_by, export.filters)
        if not cohort:
            return _fail(export, "No apprentice matches the filters any more, so there was nothing to export.")
    with transaction.atomic():
        # Locked: a second delivery of the same message waits here, then finds the parts made.
        Export.objects.select_for_update().filter(pk=export.pk).first()
        if cohort is not None and not export.parts.exists():
            now = timezone.now()
            ExportPart.objects.bulk_create(
                ExportPart(export=export, apprenticeship=a, position=n, queued_at=now) for n, a in enumerate(cohort)
            )
        pending = list(export.parts.filter(finished_at__isnull=True).values_list("pk", flat=True))
        for part_id in pending:
            transaction.on_commit(partial(publish_part, part_id))
    log.info("export %s: %d portfolios queued", export.pk, len(pending))
    export.refresh_from_db()
    return export


def publish_part(part_id: int) -> bool:
    """Hands one part's task to the broker; if it cannot, marks the part so `requeue_stalled_exports`
    publishes it at its next run. Never raises for an unreachable broker."""
    from .tasks import render_export_part

    ExportPart.objects.filter(pk=part_id).update(queued_at=timezone.now())
    try:
        render_export_part.apply_async(args=(part_id,))
    except (BrokerUnreachable, ConnectionError, TimeoutError) as error:
        log.error("export part %s could not be put on the task queue: %s", part_id, error)
        ExportPart.objects.filter(pk=part_id, finished_at__isnull=True).update(queued_at=None)
        return False
    return True


def publish_assembly(export_id: int) -> bool:
    """Hands the cohort's zip to the broker (the default queue: it copies files, it renders nothing)."""
    from .tasks import assemble_cohort_export

    try:
        assemble_cohort_export.apply_async(args=(export_id,))
    except (BrokerUnreachable, ConnectionError, TimeoutError) as error:
        log.error("export %s could not queue its zip: %s", export_id, error)
        Export.objects.filter(pk=export_id, state=Export.State.RUNNING).update(assembly_queued_at=None)
        return False
    return True


def _part_failed(part: ExportPart, apprenticeship: Apprenticeship, reason: str) -> None:
    _fail(part.export, f"The portfolio of {apprenticeship.apprentice} could not be made: {reason}")


def fail_export_part(part_id: int, reason: str) -> None:
    """Fails the part's cohort with a reason its task could not handle, naming the apprentice."""
    part = ExportPart.objects.select_related("apprenticeship__apprentice").filter(pk=part_id).first()
    if part is not None:
        fail_export(part.export_id, f"The portfolio of {part.apprenticeship.apprentice} could not be made: {reason}")


def run_export_part(part_id: int) -> ExportPart | None:
    """Renders one portfolio of a cohort to its part file; a re-run overwrites that file.

    Returns None when there is nothing to do: the part is finished, or the cohort failed or is gone.
    """
    part = ExportPart.objects.select_related("export__requested_by").filter(pk=part_id).first()
    if part is None or part.finished_at or part.export.state != Export.State.RUNNING:
        return None
    export = part.export
    apprenticeship = Apprenticeship.objects.with_people().get(pk=part.apprenticeship_id)
    # Access is checked again at the time of the work, as the whole cohort was when it fanned out.
    if not Apprenticeship.objects.visible_to(export.requested_by).filter(pk=apprenticeship.pk).exists():
        _part_failed(part, apprenticeship, "it is no longer among the portfolios you may export.")
        return None
    if apprenticeship.audit_entries.filter(action=ERASED_ACTION).exists():
        _part_failed(part, apprenticeship, "their personal data has been erased.")
        return None
    try:
        pdf = render_portfolio(apprenticeship, exported_at=export.started_at)
    except SoftTimeLimitExceeded:
        minutes = settings.EXPORT_SOFT_TIME_LIMIT // 60
        _part_failed(part, apprenticeship, f"it took longer than {minutes} minutes and was stopped.")
        return None
    except FileNotFoundError as error:
        _part_failed(part, apprenticeship, f"a file of it is {_missing(error)}.")
        return None
    except (ExportFailed, PortfolioRenderError) as error:
        _part_failed(part, apprenticeship, str(error))
        return None
    name = f"{_parts_folder(export.pk)}/{apprenticeship.pk}.pdf"
    if default_storage.exists(name):
        default_storage.delete(name)
    saved = default_storage.save(name, ContentFile(pdf))
    finish_part(part_id=part.pk, file=saved)
    part.refresh_from_db()
    return part


def finish_part(*, part_id: int, file: str) -> bool:
    """Records a rendered part and the cohort's progress; True when it was the last and queued the zip.

    Under the export row's lock, so of parts finishing at the same moment exactly one sees the
    cohort complete, and the zip is queued once.
    """
    export_id = ExportPart.objects.filter(pk=part_id).values_list("export_id", flat=True).first()
    with transaction.atomic():
        export = Export.objects.select_for_update().filter(pk=export_id).first()
        part = ExportPart.objects.filter(pk=part_id).first()
        if export is None or part is None or export.state != Export.State.RUNNING:
            # The cohort failed (or went) while this part was rendered: its file has no zip to go to.
            transaction.on_commit(partial(_delete_quietly, file))
            return False
        if part.finished_at is None:
            ExportPart.objects.filter(pk=part.pk).update(finished_at=timezone.now(), file=file)
        elif part.file != file:
            # A second copy of the task rendered it too; the first one's file stands.
            transaction.on_commit(partial(_delete_quietly, file))
        counts = export.parts.aggregate(total=Count("pk"), done=Count("pk", filter=Q(finished_at__isnull=False)))
        last = counts["done"] == counts["total"] and export.assembly_queued_at is None
        changes = {"progress": min(99, 100 * counts["done"] // counts["total"])}
        if last:
            changes["assembly_queued_at"] = timezone.now()
            transaction.on_commit(partial(publish_assembly, export.pk))
        Export.objects.filter(pk=export.pk).update(**changes)
    return last


def _delete_quietly(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        default_storage.delete(name)


def _discard_parts(export_id: int) -> None:
    """Deletes a cohort's part files and rows, once the zip holds them or the cohort failed."""
    folder = _parts_folder(export_id)
    try:
        _, names = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        names = []
    for name in names:
        _delete_quietly(f"{folder}/{name}")
    ExportPart.objects.filter(export_id=export_id).delete()
    # A folder on disk outlives its files; object storage has none to remove.
    with contextlib.suppress(NotImplementedError, OSError):
        Path(default_storage.path(folder)).rmdir()


def assemble_cohort(export_id: int) -> Export | None:
    """Streams the finished parts into the cohort's zip (a temporary file), adds the manifest, stores
    the zip as the export's file and deletes the parts. Safe to run again until it is stored."""
    export = Export.objects.select_related("provider").filter(pk=export_id).first()
    if export is not None and export.state == Export.State.DONE and export.parts.exists():
        # Stored, but the worker stopped before it tidied up.
        _discard_parts(export.pk)
    if export is None or export.state != Export.State.RUNNING:
        return None
    parts = list(export.parts.all())
    if not parts or any(part.finished_at is None for part in parts):
        return None  # Not every portfolio is made yet: the last part queues the zip again.
    people = Apprenticeship.objects.with_people().in_bulk([part.apprenticeship_id for part in parts])
    cohort = [people[part.apprenticeship_id] for part in parts]
    exported_at = export.started_at
    try:
        content = _zip_parts(parts, cohort, exported_at)
    except SoftTimeLimitExceeded:
        minutes = settings.EXPORT_SOFT_TIME_LIMIT // 60
        return _fail(export, f"Putting the portfolios into one zip took longer than {minutes} minutes and was stopped.")
    except FileNotFoundError as error:
        return _fail(export, f"A portfolio made for the zip is {_missing(error)}. Export the cohort again.")
    provider = slugify(export.provider.name)[:40] or "provider"
    export = _store(export, f"cohort-{provider}-{exported_at:%Y%m%d-%H%M}.zip", content)
    _discard_parts(export.pk)
    return export


def _zip_parts(parts: list[ExportPart], cohort: list[Apprenticeship], exported_at: datetime.datetime) -> File:
    names = {a.pk: f"{a.pk}-{portfolio_filename(a)}" for a in cohort}
    # Handed to the caller, who closes it once stored, so not a `with` block here.
    output = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for part, apprenticeship in zip(parts, cohort, strict=True):
                # One PDF at a time, in chunks: a cohort of hundreds never sits in memory.
                with (
                    default_storage.open(part.file, "rb") as source,
                    archive.open(names[apprenticeship.pk], "w") as target,
                ):
                    shutil.copyfileobj(source, target, 1024 * 1024)
            archive.writestr("manifest.json", _manifest(cohort, names, exported_at))
        size = output.seek(0, 2)
        output.seek(0)
    except BaseException:
        output.close()
        raise
    content = File(output, name="cohort.zip")
    content.size = size
    return content


def delete_expired_exports(now: datetime.datetime | None = None) -> int:
    now = now or timezone.now()
    expired = list(Export.objects.filter(expires_at__lt=now))
    for export in expired:
        if export.file:
            default_storage.delete(export.file.name)
        export.delete()
    return len(expired)


def requeue(export: Export) -> bool:
    """Puts the export back on the queue; False when the broker is still unreachable."""
    Export.objects.filter(pk=export.pk).update(state=Export.State.QUEUED, progress=0)
    return publish(export.pk, queue=_queue_of(export))


def _stall_limit() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.EXPORT_TIME_LIMIT + 60)


def stalled_exports(now: datetime.datetime | None = None) -> list[Export]:
    """Exports whose worker vanished (running past the hard limit, or queued and never started),
    and exports whose task never reached the broker, however recent.

    A cohort whose parts are made runs as long as its portfolios take: its parts are watched
    instead (`stalled_parts`, `stalled_assemblies`)."""
    now = now or timezone.now()
    limit = _stall_limit()
    running = Export.objects.filter(state=Export.State.RUNNING, started_at__lt=now - limit).exclude(
        Exists(ExportPart.objects.filter(export=OuterRef("pk")))
    )
    queued = Export.objects.filter(state=Export.State.QUEUED).filter(Q(created_at__lt=now - limit) | ~Q(error=""))
    return list(running) + list(queued)


def stalled_parts(now: datetime.datetime | None = None) -> list[ExportPart]:
    """Unfinished parts of running cohorts whose task never reached the broker, or was lost: handed
    over longer ago than a render may take while no part of their cohort has finished since."""
    now = now or timezone.now()
    cutoff = now - _stall_limit()
    progressing = ExportPart.objects.filter(export=OuterRef("export"), finished_at__gte=cutoff)
    return list(
        ExportPart.objects.filter(export__state=Export.State.RUNNING, finished_at__isnull=True).filter(
            Q(queued_at__isnull=True) | (Q(queued_at__lt=cutoff) & ~Exists(progressing))
        )
    )


def stalled_assemblies(now: datetime.datetime | None = None) -> list[Export]:
    """Running cohorts whose every part is made but whose zip never reached the broker, or was lost."""
    now = now or timezone.now()
    unfinished = ExportPart.objects.filter(export=OuterRef("pk"), finished_at__isnull=True)
    return list(
        Export.objects.filter(kind=Export.Kind.COHORT, state=Export.State.RUNNING)
        .filter(Exists(ExportPart.objects.filter(export=OuterRef("pk"))))
        .exclude(Exists(unfinished))
        .filter(Q(assembly_queued_at__isnull=True) | Q(assembly_queued_at__lt=now - _stall_limit()))
    )


def requeue_stalled_cohort_work(now: datetime.datetime | None = None) -> int:
    """Publishes again the parts and zips of cohorts that stalled; says how many the broker took."""
    now = now or timezone.now()
    published = sum(publish_part(part.pk) for part in stalled_parts(now))
    for export in stalled_assemblies(now):
        Export.objects.filter(pk=export.pk).update(assembly_queued_at=now)
        published += publish_assembly(export.pk)
    return published
