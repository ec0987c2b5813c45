"""Telling people something happened: a notice on their home page and an email."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .mail import queue_email
from .models import Notice, User


def notify(*, recipient: User, message: str, url: str = "", email_template: str | None = None, context=None) -> Notice:
    """Leaves a notice; with an email template, also emails it once the transaction commits."""
    notice = Notice.objects.create(recipient=recipient, message=message, url=url)
    if email_template:
        queue_email(
            to=[recipient.email],
            subject_template=f"{email_template}_subject.txt",
            body_template=f"{email_template}_body.txt",
            context={
                "recipient": recipient,
                "message": message,
                "url": f"{settings.SITE_URL}{url}" if url.startswith("/") else url,
                **(context or {}),
            },
        )
    return notice


@transaction.atomic
def dismiss_notice(*, notice: Notice, by: User) -> None:
    if notice.recipient_id != by.pk:
        raise PermissionError("Only the recipient dismisses a notice.")
    Notice.objects.filter(pk=notice.pk, read_at__isnull=True).update(read_at=timezone.now())


@transaction.atomic
def dismiss_all_notices(*, by: User) -> int:
    return Notice.objects.filter(recipient=by, read_at__isnull=True).update(read_at=timezone.now())


# Home pages show the newest few; the rest are counted, so a page never opens on a wall of notices.
NOTICES_SHOWN = 3


def unread_notices(user: User) -> dict:
    """The template context of `portal/_partials/notices.html` for a person's home page, in one query."""
    unread = list(Notice.objects.filter(recipient=user, read_at__isnull=True)[:50])
    return {"notices": unread[:NOTICES_SHOWN], "more_notices": max(0, len(unread) - NOTICES_SHOWN)}
