"""Workers' jobs for the reviews layer. Each takes ids (or a name) and calls one function of `exports`
or `reminders`."""

import logging
from collections.abc import Callable
from functools import partial

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from . import exports, reminders

log = logging.getLogger(__name__)


# Every export task is acknowledged only when done, so a worker that dies leaves it queued; the
# Export row is the result, so nothing is stored in Redis. The limits apply to each task: one
# portfolio, or one cohort's zip.
EXPORT_TASK = {
    "bind": True,
    "ignore_result": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": settings.EXPORT_SOFT_TIME_LIMIT,
    "time_limit": settings.EXPORT_TIME_LIMIT,
    "max_retries": 3,
}

UNREACHABLE = "The export could not reach the database or file storage. Try again later."
UNEXPECTED = "The export failed unexpectedly: {error}. The team has been told."


def _run(task, work: Callable[[], object], *, fail: Callable[[str], object], unreachable: str, unexpected: str) -> None:
    """Does `work`, retried while the database or storage is briefly unreachable; when it cannot be
    done, `fail` records why in words."""
    try:
        work()
    except (OperationalError, ConnectionError, TimeoutError) as error:
        if task.request.retries >= task.max_retries:
            fail(unreachable)
            raise
        raise task.retry(exc=error, countdown=2 ** (task.request.retries + 2)) from error
    except Exception as error:
        log.exception("%s %s failed", task.name, task.request.args)
        fail(unexpected.format(error=error))
        raise


@shared_task(**EXPORT_TASK)
def render_export(self, export_id: int) -> None:
    """Renders one export (for a cohort: hands its portfolios out as parts)."""
    _run(
        self,
        partial(exports.run_export, export_id),
        fail=partial(exports.fail_export, export_id),
        unreachable=UNREACHABLE,
        unexpected=UNEXPECTED,
    )


@shared_task(**EXPORT_TASK)
def render_export_part(self, part_id: int) -> None:
    """Renders one portfolio of a cohort export; the last one to finish queues the zip."""
    _run(
        self,
        partial(exports.run_export_part, part_id),
        fail=partial(exports.fail_export_part, part_id),
        unreachable="the database or file storage did not answer. Try again later.",
        unexpected="it failed unexpectedly: {error}. The team has been told.",
    )


@shared_task(**EXPORT_TASK)
def assemble_cohort_export(self, export_id: int) -> None:
    """Streams a cohort's finished portfolios into its zip. No route: it copies files, so the default queue."""
    _run(
        self,
        partial(exports.assemble_cohort, export_id),
        fail=partial(exports.fail_export, export_id),
        unreachable=UNREACHABLE,
        unexpected=UNEXPECTED,
    )


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
