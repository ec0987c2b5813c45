from celery import shared_task
from django.core.mail import send_mail


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_email(*, subject: str, body: str, to: list[str]) -> None:
    """Sends one already-rendered email; retried when the mail server is unreachable."""
    send_mail(subject, body, None, to)
