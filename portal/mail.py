"""Email goes out through a task, after the transaction that caused it commits."""

from functools import partial

from django.db import transaction
from django.template.loader import render_to_string

from .tasks import send_email


def queue_email(*, to: list[str], subject_template: str, body_template: str, context: dict) -> None:
    # Subjects must be one line: a template's trailing newline would break the header.
    subject = "".join(render_to_string(subject_template, context).splitlines())
    body = render_to_string(body_template, context)
    transaction.on_commit(partial(send_email.delay, subject=subject, body=body, to=to))
