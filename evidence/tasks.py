"""Background work on evidence: print copies of uploaded images."""

from celery import shared_task

from .images import make_print_copy
from .models import EvidenceFile


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def make_print_copy_task(file_id: int) -> None:
    """Makes the print copy of one uploaded image; running it again changes nothing.

    Retried when storage cannot be read; a file deleted meanwhile (a draft's) is simply skipped.
    """
    stored = EvidenceFile.objects.filter(pk=file_id).first()
    if stored is not None:
        make_print_copy(stored)
