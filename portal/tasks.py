from celery import shared_task
from django.core.mail import send_mail
from django.core.management import call_command


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_email(*, subject: str, body: str, to: list[str]) -> None:
    """Sends one already-rendered email; retried when the mail server is unreachable."""
    send_mail(subject, body, None, to)


@shared_task
def clear_expired_sessions() -> None:
    """Deletes sessions past their expiry date: Django never does by itself, and a busy provider
    leaves thousands a day behind in the session table, which every request reads."""
    call_command("clearsessions")
