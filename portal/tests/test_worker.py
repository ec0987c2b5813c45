"""With REDIS_URL set, mail goes through a real Celery worker (CI starts one)."""

import os
import time
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL and a running Celery worker"),
]


def test_password_reset_mail_is_sent_by_the_worker(client, apprentice, django_capture_on_commit_callbacks):
    outbox = Path(os.environ["WORKER_MAIL_DIR"])
    before = set(outbox.iterdir())
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/password-reset/", {"email": "apprentice@example.org"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = set(outbox.iterdir()) - before
        sent = [p.read_text() for p in new]
        if any("apprentice@example.org" in text and "/accounts/password-reset/" in text for text in sent):
            return
        time.sleep(0.5)
    pytest.fail("The worker did not send the password reset email within 60 seconds.")
