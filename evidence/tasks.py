"""Background work on evidence: print copies of uploaded images, and virus scans of uploads."""

from celery import shared_task

from .antivirus import ScannerUnavailable
from .images import make_print_copy
from .models import EvidenceFile

# A scan waiting for clamd is tried again after 1, 2, 4 … minutes, then every 30 minutes: about a
# day in all, after which the file stays pending (shown as still being checked) for the operator.
SCAN_RETRIES = 50
SCAN_RETRY_CAP_SECONDS = 30 * 60


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def make_print_copy_task(file_id: int) -> None:
    """Makes the print copy of one uploaded image; running it again changes nothing.

    Retried when storage cannot be read; a file deleted meanwhile (a draft's) is simply skipped.
    """
    stored = EvidenceFile.objects.filter(pk=file_id).first()
    if stored is not None:
        make_print_copy(stored)


@shared_task(bind=True, acks_late=True, max_retries=SCAN_RETRIES)
def scan_file_task(self, file_id: int) -> None:
    """Scans one pending upload with clamd; retried while clamd or storage cannot be reached.

    Idempotent: a file already scanned, or deleted meanwhile, is left alone.
    """
    from .services import scan_file  # the services queue this task

    try:
        scan_file(file_id=file_id)
    except (ScannerUnavailable, OSError) as error:
        if self.request.is_eager:
            # In-process (the embedded mode, or tests): no worker to try again later, and trying again
            # at once would hold the request. The file stays pending; the caller logs this.
            raise
        countdown = min(60 * 2**self.request.retries, SCAN_RETRY_CAP_SECONDS)
        raise self.retry(exc=error, countdown=countdown) from error
