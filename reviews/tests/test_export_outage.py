"""Redis down when an export is asked for: the person is told, and the export runs once Redis is back.

The outage is real: each test starts a Redis server of its own, kills it and starts it again on
the same port. The machine's Redis is never stopped, since CI's worker and other tests use it. The
portal is pointed at the test's Redis for the duration, and a Celery worker running in this
process (a real consumer, `celery.contrib.testing`) takes the export from it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from celery.signals import setup_logging, task_postrun
from django.conf import settings
from django.db import connections

from reviews import exports
from reviews.models import Export
from reviews.tasks import requeue_stalled_exports
from reviews.tests.helpers import signed_off

pytestmark = [
    pytest.mark.skipif(
        shutil.which("redis-server") is None, reason="needs Debian's redis-server to run a Redis of its own"
    ),
    # The worker thread reads what the test wrote, so the test's writes must be committed.
    pytest.mark.django_db(transaction=True),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ThrowawayRedis:
    """A Redis server of the test's own, without persistence: killed, it comes back empty."""

    def __init__(self, folder: Path):
        self.port = _free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def start(self) -> None:
        command = [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.client().ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        pytest.fail(f"the test's Redis did not start on port {self.port}")

    def kill(self) -> None:
        """As a crash would: no shutdown, no save."""
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def throwaway_redis(tmp_path):
    server = ThrowawayRedis(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait(timeout=10)


def _forget_broker_connections(app) -> None:
    # The app keeps the pools of the URL it first used; kombu keeps one pool per URL for the whole
    # process (so closing one would break every later test that uses that broker).
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def portal_broker(url: str):
    """Points the portal's Celery app at another broker, and queues tasks there instead of running them."""
    from portal.celery import app

    saved = app.conf.broker_url, app.conf.task_always_eager
    app.conf.broker_url = url
    app.conf.task_always_eager = False
    _forget_broker_connections(app)
    try:
        yield app
    finally:
        app.conf.broker_url, app.conf.task_always_eager = saved
        _forget_broker_connections(app)


@contextmanager
def celery_worker(app, queue: str):
    """A real Celery worker in a thread of this process, reading one queue of the current broker."""
    from celery.contrib.testing.worker import start_worker

    def leave_logging_alone(**kwargs) -> None:
        """A receiver here stops the worker from reconfiguring the logging of the whole test session."""

    def close_connections(**kwargs) -> None:
        # The worker thread's own database connections: one left open would keep the test
        # database from being dropped at the end of the session.
        connections.close_all()

    # Starting a worker also writes these into the environment, which later subprocesses would inherit.
    environment = {name: os.environ.get(name) for name in ("CELERY_LOG_LEVEL", "CELERY_LOG_FILE")}
    setup_logging.connect(leave_logging_alone, weak=False)
    task_postrun.connect(close_connections, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=30):
            yield
    finally:
        setup_logging.disconnect(leave_logging_alone)
        task_postrun.disconnect(close_connections)
        for name, value in environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def wait_for(export: Export, states: set[str], seconds: float = 90) -> Export:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        export.refresh_from_db()
        if export.state in states:
            return export
        time.sleep(0.2)
    pytest.fail(f"export {export.pk} still {export.state} ({export.progress}%) after {seconds} s")


def test_an_export_asked_for_while_redis_is_down_is_explained_then_made_once_redis_is_back(
    client, apprenticeship, assessor, throwaway_redis
):
    signed_off(apprenticeship, "K1", files=("chart.png", "sop.pdf"))
    client.force_login(assessor)
    throwaway_redis.kill()
    with portal_broker(throwaway_redis.url) as app:
        response = client.post(f"/apprenticeships/{apprenticeship.pk}/export/")
        export = Export.objects.get()
        assert response.status_code == 302
        assert response.url == f"/exports/{export.pk}/"
        assert (export.state, export.error) == (Export.State.QUEUED, exports.QUEUE_PAUSED)
        page = client.get(f"/exports/{export.pk}/").content.decode()
        assert "Exports are paused because the task queue is not answering" in page
        assert "will start by itself" in page

        # While Redis stays down the periodic task leaves it waiting, still saying why.
        assert requeue_stalled_exports() == 0
        export.refresh_from_db()
        assert (export.state, export.error) == (Export.State.QUEUED, exports.QUEUE_PAUSED)

        throwaway_redis.start()  # same port, and empty: the task never reached it
        assert throwaway_redis.client().llen(settings.PDF_QUEUE) == 0
        assert requeue_stalled_exports() == 1
        export.refresh_from_db()
        assert (export.state, export.error) == (Export.State.QUEUED, "")
        assert "Exports are paused" not in client.get(f"/exports/{export.pk}/").content.decode()
        assert throwaway_redis.client().llen(settings.PDF_QUEUE) == 1

        with celery_worker(app, settings.PDF_QUEUE):
            export = wait_for(export, {Export.State.DONE, Export.State.FAILED})
    assert export.state == Export.State.DONE, export.error
    assert export.file.open("rb").read(5) == b"%PDF-"
    assert Export.objects.count() == 1


def test_asking_again_once_redis_is_back_queues_the_waiting_export(client, apprenticeship, assessor, throwaway_redis):
    client.force_login(assessor)
    throwaway_redis.kill()
    with portal_broker(throwaway_redis.url):
        client.post(f"/apprenticeships/{apprenticeship.pk}/export/")
        export = Export.objects.get()
        assert exports.waiting_for_queue(export)
        throwaway_redis.start()
        response = client.post(f"/apprenticeships/{apprenticeship.pk}/export/")
    assert response.url == f"/exports/{export.pk}/"  # the same export, not a second one
    export.refresh_from_db()
    assert (export.state, export.error) == (Export.State.QUEUED, "")
    assert throwaway_redis.client().llen(settings.PDF_QUEUE) == 1


def test_a_cohort_export_asked_for_while_redis_is_down_is_kept_and_explained(
    client, apprenticeship, provider_admin, throwaway_redis
):
    client.force_login(provider_admin)
    throwaway_redis.kill()
    with portal_broker(throwaway_redis.url):
        response = client.post("/provider/export/", follow=True)
    export = Export.objects.get()
    assert response.status_code == 200
    assert (export.kind, export.state) == (Export.Kind.COHORT, Export.State.QUEUED)
    assert exports.QUEUE_PAUSED in response.content.decode()
    assert export in exports.stalled_exports()
