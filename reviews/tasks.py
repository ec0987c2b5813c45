"""Workers' jobs for the reviews layer. Each takes ids (or a name) and calls one function of `exports`
or `reminders`."""

import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from . import exports, reminders

log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    # The Export row is the result; storing another in Redis would only be one more thing to reach.
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.EXPORT_SOFT_TIME_LIMIT,
    time_limit=settings.EXPORT_TIME_LIMIT,
    max_retries=3,
)
def render_export(self, export_id: int) -> None:
    """Renders one export. Acknowledged only when done, so a worker that dies leaves it queued."""
    try:
        exports.run_export(export_id)
    except (OperationalError, ConnectionError, TimeoutError) as error:
        # Transient: the database or storage was briefly unreachable.
        if self.request.retries >= self.max_retries:
            exports.fail_export(export_id, "The export could not reach the database or file storage. Try again later.")
            raise
        raise self.retry(exc=error, countdown=2 ** (self.request.retries + 2)) from error
    except Exception as error:
        log.exception("export %s failed", export_id)
        exports.fail_export(export_id, f"The export failed unexpectedly: {error}. The team has been told.")
        raise


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    # Per portfolio: a cohort of hundreds is as many tasks, each within the limit.
    soft_time_limit=settings.EXPORT_SOFT_TIME_LIMIT,
    time_limit=settings.EXPORT_TIME_LIMIT,
    max_retries=3,
)
def render_export_part(self, part_id: int) -> None:
    """Renders one portfolio of a cohort export; the last one to finish queues the zip."""
    try:
        exports.run_export_part(part_id)
    except (OperationalError, ConnectionError, TimeoutError) as error:
        if self.request.retries >= self.max_retries:
            exports.fail_export_part(part_id, "the database or file storage did not answer. Try again later.")
            raise
        raise self.retry(exc=error, countdown=2 ** (self.request.retries + 2)) from error
    except Exception as error:
        log.exception("export part %s failed", part_id)
        exports.fail_export_part(part_id, f"it failed unexpectedly: {error}. The team has been told.")
        raise


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.EXPORT_SOFT_TIME_LIMIT,
    time_limit=settings.EXPORT_TIME_LIMIT,
    max_retries=3,
)
def assemble_cohort_export(self, export_id: int) -> None:
    """Streams a cohort's finished portfolios into its zip. No route: it copies files, so the default queue."""
    try:
        exports.assemble_cohort(export_id)
    except (OperationalError, ConnectionError, TimeoutError) as error:
        if self.request.retries >= self.max_retries:
            exports.fail_export(export_id, "The export could not reach the database or file storage. Try again later.")
            raise
        raise self.retry(exc=error, countdown=2 ** (self.request.retries + 2)) from error
    except Exception as error:
        log.exception("export %s failed", export_id)
        exports.fail_export(export_id, f"The export failed unexpectedly: {error}. The team has been told.")
        raise


@shared_task
def delete_expired_exports() -> int:
    return exports.delete_expired_exports()


@shared_task
def requeue_stalled_exports() -> int:
    """Puts back on the queue exports whose worker vanished without a word, exports whose task never
    reached the broker (Redis was down when they were asked for), and the portfolios and zips of
    cohorts that stalled. Says how many went back."""
    whole = sum(exports.requeue(export) for export in exports.stalled_exports())
    return whole + exports.requeue_stalled_cohort_work()


@shared_task
def send_reminders(kind: str) -> int:
    """Sends one kind of reminder (see `reminders.KINDS`); run daily by beat, safe to run again."""
    return reminders.send_reminders(kind)
