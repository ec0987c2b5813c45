"""Portfolio exports: asking for one, and the work a worker does to make it.

The work is idempotent: a re-run (a worker died, the task came back) overwrites the same file
of the same Export row, so a portfolio is never exported twice over.
"""

from __future__ import annotations

import datetime
import io
import json
import logging
import zipfile
from functools import partial

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from kombu.exceptions import OperationalError as BrokerUnreachable

from portal.models import Apprenticeship, Organisation, User

from .cohort import is_inactive
from .erasure import ERASED_ACTION
from .models import Export, SignOff
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
    if export.kind == Export.Kind.PORTFOLIO:
        apprenticeship = Apprenticeship.objects.with_people().get(pk=export.apprenticeship_id)
        if apprenticeship.audit_entries.filter(action=ERASED_ACTION).exists():
            raise ExportFailed("This apprentice's personal data has been erased, so there is no portfolio to export.")
        pdf = render_portfolio(apprenticeship, exported_at=exported_at, on_progress=partial(_set_progress, export.pk))
        return portfolio_filename(apprenticeship), pdf
    cohort = _cohort(export.requested_by, export.filters)
    if not cohort:
        raise ExportFailed("No apprentice matches the filters any more, so there was nothing to export.")
    buffer = io.BytesIO()
    names: dict[int, str] = {}
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for done, apprenticeship in enumerate(cohort):
            names[apprenticeship.pk] = f"{apprenticeship.pk}-{portfolio_filename(apprenticeship)}"
            base = 100 * done // len(cohort)

            def report(percent: int, base: int = base) -> None:
                _set_progress(export.pk, base + percent // len(cohort))

            pdf = render_portfolio(apprenticeship, exported_at=exported_at, on_progress=report)
            archive.writestr(names[apprenticeship.pk], pdf)
        archive.writestr("manifest.json", _manifest(cohort, names, exported_at))
    provider = slugify(export.provider.name)[:40] or "provider"
    return f"cohort-{provider}-{exported_at:%Y%m%d-%H%M}.zip", buffer.getvalue()


def run_export(export_id: int) -> Export | None:
    """Makes the export's file. Safe to run again: it overwrites its own file and row."""
    export = _start(export_id)
    if export is None:
        return None
    exported_at = timezone.now()
    try:
        file_name, content = _render(export, exported_at)
    except SoftTimeLimitExceeded:
        return _fail(export, f"It took longer than {settings.EXPORT_SOFT_TIME_LIMIT // 60} minutes and was stopped.")
    except FileNotFoundError as error:
        missing = error.filename or str(error)
        return _fail(export, f"A file of the portfolio is missing from storage ({missing}), so it could not be made.")
    except (ExportFailed, PortfolioRenderError) as error:
        return _fail(export, str(error))
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
    export.refresh_from_db()
    return export


def fail_export(export_id: int, reason: str) -> None:
    """Records a failure the task could not handle itself, in words for the person waiting."""
    Export.objects.filter(pk=export_id).exclude(state=Export.State.DONE).update(
        state=Export.State.FAILED, error=reason, finished_at=timezone.now()
    )


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


def stalled_exports(now: datetime.datetime | None = None) -> list[Export]:
    """Exports whose worker vanished (running past the hard limit, or queued and never started),
    and exports whose task never reached the broker, however recent."""
    now = now or timezone.now()
    limit = datetime.timedelta(seconds=settings.EXPORT_TIME_LIMIT + 60)
    running = Export.objects.filter(state=Export.State.RUNNING, started_at__lt=now - limit)
    queued = Export.objects.filter(state=Export.State.QUEUED).filter(Q(created_at__lt=now - limit) | ~Q(error=""))
    return list(running) + list(queued)
