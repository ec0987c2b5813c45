"""Exports through real Celery workers and Redis (CI starts them; skipped without REDIS_URL)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from evidence.tests.factories import evidence
from reviews import exports
from reviews.models import Export, ExportPart
from reviews.pdf import portfolio_filename
from reviews.tests.helpers import signed_off

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL and a running Celery worker"),
    pytest.mark.django_db(transaction=True),
]

PROJECT = Path(__file__).resolve().parents[2]


def wait_for(export: Export, states: set[str], seconds: float = 120) -> Export:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        export.refresh_from_db()
        if export.state in states:
            return export
        time.sleep(0.25)
    pytest.fail(f"export {export.pk} still {export.state} ({export.progress}%) after {seconds} s")


def test_an_export_completes_end_to_end_on_the_worker(apprenticeship, assessor):
    signed_off(apprenticeship, "K1", files=("chart.png", "sop.pdf"))
    export = exports.request_portfolio_export(apprenticeship=apprenticeship, by=assessor)
    export = wait_for(export, {Export.State.DONE, Export.State.FAILED})
    assert export.state == Export.State.DONE, export.error
    assert export.file.open("rb").read(5) == b"%PDF-"


def test_a_failed_render_is_reported_in_words(apprenticeship, assessor):
    item = signed_off(apprenticeship, "K1", files=("sop.pdf",)).versions.get()
    Path(item.files.get().file.path).unlink()
    export = exports.request_portfolio_export(apprenticeship=apprenticeship, by=assessor)
    export = wait_for(export, {Export.State.DONE, Export.State.FAILED})
    assert export.state == Export.State.FAILED
    assert "missing from storage" in export.error


def _database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _start_worker(
    queue: str, log: Path, *, default_queue: str = "", processes: int = 1, visibility: int = 20
) -> subprocess.Popen:
    """A worker of our own on a queue of its own, quick to take back unacknowledged work.

    With `default_queue`, it also reads that one, and the tasks it queues itself go to its two queues."""
    env = os.environ | {
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_PDF_QUEUE": queue,
        **({"CELERY_QUEUE": default_queue} if default_queue else {}),
        # Short enough for a test, but longer than the render, so it is not taken back twice.
        "CELERY_VISIBILITY_TIMEOUT": str(visibility),
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
        "CELERY_UNACKED_RESTORE_THROTTLE": "1",
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "worker",
        "-Q",
        ",".join(filter(None, (queue, default_queue))),
        "-c",
        str(processes),
        "--loglevel=INFO",
        f"--hostname={queue}-{uuid.uuid4().hex[:6]}@%h",
    ]
    return subprocess.Popen(
        command, cwd=PROJECT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker shares the test database on PostgreSQL")
def test_killing_the_worker_mid_export_still_ends_with_one_finished_pdf(apprenticeship, assessor, tmp_path):
    from reviews.tasks import render_export

    # Enough pages that the render is still running when the worker is killed.
    long_reflection = "I observed, recorded and reflected on the procedure in detail. " * 60
    for n in range(40):
        evidence(
            apprenticeship,
            title=f"Evidence {n}",
            codes=("K1", "S18"),
            files=(),
            submit=True,
            evidence_type="reflective_account",
            reflection=long_reflection,
        )
    signed_off(apprenticeship, "K2", files=("sop.pdf",))
    queue = f"kill-test-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "workers.log"
    export = exports.request_portfolio_export(apprenticeship=apprenticeship, by=assessor)
    # The CI worker does not read this queue: only the workers started here do.
    first = _start_worker(queue, log)
    try:
        render_export.apply_async(args=[export.pk], queue=queue)
        wait_for(export, {Export.State.RUNNING}, seconds=60)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        export.refresh_from_db()
        assert export.state == Export.State.RUNNING  # it died mid-render, unacknowledged
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)

    second = _start_worker(queue, log)
    try:
        export = wait_for(export, {Export.State.DONE, Export.State.FAILED}, seconds=150)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=30)
    assert export.state == Export.State.DONE, f"{export.error}\n{log.read_text()[-3000:]}"
    assert export.attempts >= 2
    assert Export.objects.count() == 1
    folder = Path(settings.MEDIA_ROOT) / "exports" / str(export.pk)
    assert [p.name for p in folder.iterdir()] == [export.file_name]
    assert (folder / export.file_name).read_bytes().startswith(b"%PDF-")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker shares the test database on PostgreSQL")
def test_a_cohort_is_shared_by_two_worker_processes_and_zipped_once(
    apprenticeship, other_apprenticeship, provider, employer, st0220, provider_admin, tmp_path, monkeypatch
):
    from portal.tests.factories import ApprenticeshipFactory
    from reviews.tasks import render_export

    cohort = [apprenticeship, other_apprenticeship]
    cohort += [
        ApprenticeshipFactory(apprentice__organisation=provider, provider=provider, employer=employer, standard=st0220)
        for _ in range(4)
    ]
    for member in cohort:
        signed_off(member, "K1", files=("sop.pdf",))
    queue, zips = f"cohort-test-{uuid.uuid4().hex[:8]}", f"cohort-zip-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "workers.log"
    # Only the worker started here takes it: not published to the CI worker's queue on commit.
    monkeypatch.setattr(exports, "publish", lambda *args, **kwargs: True)
    export = exports.request_cohort_export(by=provider_admin)
    # Unacknowledged work is taken back only after renders far slower than these, so each part runs once.
    worker = _start_worker(queue, log, default_queue=zips, processes=2, visibility=600)
    try:
        render_export.apply_async(args=[export.pk], queue=queue)
        export = wait_for(export, {Export.State.DONE, Export.State.FAILED}, seconds=300)
    finally:
        # A warm shutdown: the worker finishes what it has started (tidying the parts away) first.
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=60)
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
    lines = log.read_text().splitlines()
    assert export.state == Export.State.DONE, f"{export.error}\n{chr(10).join(lines[-40:])}"
    with zipfile.ZipFile(export.file.open("rb")) as archive:
        names = archive.namelist()
    assert sorted(names) == sorted([f"{a.pk}-{portfolio_filename(a)}" for a in cohort] + ["manifest.json"])
    rendered = [line for line in lines if "reviews.tasks.render_export_part[" in line and "succeeded" in line]
    assert len(rendered) == len(cohort)
    # Both processes rendered portfolios of the cohort.
    assert len({re.search(r"/(ForkPoolWorker-\d+)\]", line)[1] for line in rendered}) == 2
    assert len([line for line in lines if "reviews.tasks.assemble_cohort_export[" in line and "received" in line]) == 1
    assert not ExportPart.objects.exists()
    assert sorted(p.name for p in (Path(settings.MEDIA_ROOT) / "exports" / str(export.pk)).iterdir()) == [
        Path(export.file.name).name
    ]
