"""Virus scanning of uploads with a real clamd, loaded with a signature database of our own.

Official signatures cannot be downloaded here (and freshclam is never run), so a session fixture
builds a one-line database from the EICAR test file with `sigtool --md5` and starts clamd in the
foreground with only that database, on a socket of its own; it answers a scan in milliseconds.
The tests skip without clamd and sigtool on SQLite only: CI's PostgreSQL run installs Debian's
clamav-daemon and clamav (debian-packages.txt) and refuses any skip.
"""

from __future__ import annotations

import datetime
import io
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection

from evidence import antivirus, services
from evidence.models import EvidenceFile, EvidenceItem
from evidence.tasks import scan_file_task
from evidence.tests.factories import evidence
from evidence.tests.samples import upload
from portal.models import AuditEntry, Notice

# The EICAR test file: every antivirus product detects it by agreement; it does nothing.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
# What clamd calls a match from an .hdb database of our own: the name in the database, marked unofficial.
EICAR_SIGNATURE = "eicar.com.UNOFFICIAL"
# A file of several of the client's chunks, also in the database, to show a stream arrives whole.
LARGE = bytes(range(256)) * 1000 + EICAR


def _tool(name: str) -> str | None:
    # clamd lives in /usr/sbin, which is not on every user's PATH.
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Clamd:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.unix = f"unix://{root / 'clamd.sock'}"
        self.port = _free_port()
        self.tcp = f"tcp://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def clamd():
    """A clamd of our own for the whole session, knowing only the EICAR signature."""
    clamd_path, sigtool = _tool("clamd"), _tool("sigtool")
    if not clamd_path or not sigtool:
        if connection.vendor == "postgresql":
            pytest.fail("clamd and sigtool are missing: install clamav-daemon and clamav (scripts/debian-packages)")
        pytest.skip("needs clamd and sigtool (Debian's clamav-daemon and clamav); CI's PostgreSQL run has them")
    # A short path: a Unix socket's path is limited to about 100 characters.
    root = Path(tempfile.mkdtemp(prefix="clamd-"))
    (root / "eicar.com").write_bytes(EICAR)
    (root / "large.bin").write_bytes(LARGE)
    database = root / "db"
    database.mkdir()
    signatures = [
        subprocess.run([sigtool, "--md5", name], cwd=root, capture_output=True, check=True).stdout
        for name in ("eicar.com", "large.bin")
    ]
    (database / "test.hdb").write_bytes(b"".join(signatures))
    server = Clamd(root)
    config = root / "clamd.conf"
    config.write_text(
        f"DatabaseDirectory {database}\n"
        f"LocalSocket {root / 'clamd.sock'}\n"
        f"TCPSocket {server.port}\n"
        "TCPAddr 127.0.0.1\n"
        "Foreground yes\n"
        f"LogFile {root / 'clamd.log'}\n"
        # Above the largest upload (MAX_UPLOAD_SIZE_MB, 25 by default), as a deployment must set it.
        "StreamMaxLength 100M\n"
    )
    process = subprocess.Popen([clamd_path, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                antivirus.scan(io.BytesIO(b"ready?"), address=server.unix, timeout=5)
                break
            except antivirus.ScannerUnavailable:
                log = root / "clamd.log"
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"clamd did not start: {log.read_text() if log.exists() else 'no log'}")
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def scanning(settings, clamd):
    settings.CLAMAV_ADDRESS = clamd.unix
    return clamd


def _draft_with(apprenticeship, *uploads):
    """A draft with these uploads, made through the service as the evidence form makes it."""
    return services.create_evidence(
        apprenticeship=apprenticeship,
        by=apprenticeship.apprentice,
        title="Ward round",
        activity_date=datetime.date(2025, 10, 6),
        evidence_type=EvidenceItem.Type.WORK_PRODUCT,
        uploads=list(uploads),
    )


# --- The client against the real clamd ---------------------------------------------------------


def test_clamd_finds_eicar_in_a_stream_and_passes_a_clean_one(clamd):
    for address in (clamd.unix, clamd.tcp):
        assert antivirus.scan(io.BytesIO(EICAR), address=address).signature == EICAR_SIGNATURE
        assert not antivirus.scan(io.BytesIO(b"Notes from the ward round.\n" * 10_000), address=address).infected


def test_a_stream_of_many_chunks_reaches_clamd_whole(clamd):
    # An .hdb signature is the MD5 of a whole file: clamd matches this one only if every chunk arrived.
    assert antivirus.scan(io.BytesIO(LARGE), address=clamd.unix).signature == "large.bin.UNOFFICIAL"
    assert not antivirus.scan(io.BytesIO(LARGE[:-1]), address=clamd.unix).infected


def test_an_unreachable_clamd_is_reported_as_unavailable(tmp_path):
    with pytest.raises(antivirus.ScannerUnavailable):
        antivirus.scan(io.BytesIO(b"x"), address=f"unix://{tmp_path / 'nobody.sock'}")
    with pytest.raises(antivirus.ScannerUnavailable):
        antivirus.scan(io.BytesIO(b"x"), address=f"tcp://127.0.0.1:{_free_port()}")


@pytest.mark.parametrize("address", ["clamd", "http://127.0.0.1:3310", "tcp://127.0.0.1", "unix://host/sock"])
def test_a_malformed_address_is_refused(address):
    with pytest.raises(ValueError):
        antivirus.parse_address(address)


# --- Uploads with scanning on --------------------------------------------------------------------


def test_a_clean_upload_is_held_until_scanned_then_downloadable(
    client, apprenticeship, apprentice, scanning, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        item = _draft_with(apprenticeship, upload("notes.txt"))
    stored = EvidenceFile.objects.get()
    assert stored.scan_status == "pending"
    client.force_login(apprentice)
    held = client.get(f"/evidence/files/{stored.pk}/")
    assert held.status_code == 409
    assert "still being checked for viruses" in held.content.decode()
    assert "Being checked for viruses" in client.get(f"/evidence/{item.pk}/").content.decode()

    for callback in queued:  # the transaction commits: the scan runs
        callback()
    stored.refresh_from_db()
    assert stored.scan_status == "clean" and stored.scanned_at is not None
    response = client.get(f"/evidence/files/{stored.pk}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == upload("notes.txt").read()


def test_an_infected_upload_is_quarantined_and_the_apprentice_told(
    client, apprenticeship, apprentice, assessor, scanning, settings, django_capture_on_commit_callbacks
):
    k1 = apprenticeship.standard.ksbs.get(kind="K", number=1)
    client.force_login(apprentice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/evidence/new/",
            {
                "title": "Ward round",
                "activity_date": "2025-10-06",
                "evidence_type": "work_product",
                "reflection": "What I did and learned.",
                f"ksb_{k1.pk}": "on",
                f"note_{k1.pk}": "Shows K1",
                "files": [upload("notes.txt"), upload("eicar.txt", content=EICAR)],
            },
        )
    assert response.status_code == 302
    item = EvidenceItem.objects.get()
    infected = EvidenceFile.objects.get(original_name="eicar.txt")
    clean = EvidenceFile.objects.get(original_name="notes.txt")

    assert infected.scan_status == "infected" and infected.scan_signature == EICAR_SIGNATURE
    assert clean.scan_status == "clean"
    # The bytes are gone from storage; the clean file is untouched.
    assert not (Path(settings.MEDIA_ROOT) / infected.file.name).exists()
    assert (Path(settings.MEDIA_ROOT) / clean.file.name).exists()
    # Out of the draft, so nobody (the assessor included, once it is submitted) ever meets it.
    assert [f.original_name for f in item.versions.get().files.all()] == ["notes.txt"]
    assert client.get(f"/evidence/files/{infected.pk}/").status_code == 404

    message = (
        f"“eicar.txt” was found to contain {EICAR_SIGNATURE} and has been removed; nothing else in your "
        "portfolio was affected. Check your computer with up-to-date antivirus software before uploading it again."
    )
    assert list(Notice.objects.filter(recipient=apprentice).values_list("message", flat=True)) == [message]
    [email] = mail.outbox
    assert email.to == [apprentice.email] and message in email.body
    entry = AuditEntry.objects.get(action="file.quarantined")
    assert entry.payload == {
        "apprenticeship": apprenticeship.pk,
        "file": infected.pk,
        "sha256": infected.sha256,
        "signature": EICAR_SIGNATURE,
        "removed_from": [[item.pk, 1]],
    }
    assert "eicar.txt" not in str(entry.payload)  # ids and the hash only

    services.submit_evidence(item=item, by=apprentice)  # nothing held back: it submits as usual
    client.force_login(assessor)
    assert "eicar.txt" not in client.get(f"/evidence/{item.pk}/").content.decode()
    assert client.get(f"/evidence/files/{infected.pk}/").status_code == 404


def test_scanning_a_file_again_changes_nothing(apprenticeship, scanning, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _draft_with(apprenticeship, upload("eicar.txt", content=EICAR))
    stored = EvidenceFile.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        scan_file_task.delay(stored.pk)
    assert AuditEntry.objects.filter(action="file.quarantined").count() == 1
    assert Notice.objects.count() == 1


def test_a_pending_file_cannot_be_submitted_previewed_or_downloaded(
    client, apprenticeship, apprentice, scanning, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        item = _draft_with(apprenticeship, upload("sop.pdf"))
    stored = EvidenceFile.objects.get()
    client.force_login(apprentice)
    assert client.get(f"/evidence/files/{stored.pk}/?preview=1").status_code == 409
    assert "?preview=1" not in client.get(f"/evidence/{item.pk}/").content.decode()
    with pytest.raises(ValidationError, match=r"sop.pdf is still being checked for viruses: submit again in a minute"):
        services.submit_evidence(item=item, by=apprentice)


def test_a_sign_off_is_refused_while_a_file_it_relies_on_is_pending(apprenticeship, assessor):
    from reviews import services as reviews_services
    from reviews.tests.helpers import accepted, ksb

    item = accepted(apprenticeship, files=("sop.pdf",))
    # As when a file is held for a scan again (say, after new signatures arrived).
    EvidenceFile.objects.update(scan_status=EvidenceFile.ScanStatus.PENDING)
    with pytest.raises(ValidationError, match="sop.pdf is still being checked for viruses, so it cannot be relied on"):
        reviews_services.sign_off_ksb(
            apprenticeship=apprenticeship,
            ksb=ksb(apprenticeship, "K1"),
            versions=[item.versions.get()],
            by=assessor,
            comment="Clear evidence of K1.",
        )
    assert not apprenticeship.sign_offs.exists()


def test_a_portfolio_pdf_lists_a_pending_file_without_embedding_it(apprenticeship):
    from reviews.pdf import portfolio_document_input
    from reviews.tests.helpers import accepted

    accepted(apprenticeship, files=("sop.pdf", "chart.png"))
    EvidenceFile.objects.update(scan_status=EvidenceFile.ScanStatus.PENDING)
    document = portfolio_document_input(apprenticeship)
    assert document.sources == {}  # no image drawn from a file not yet checked
    [row] = [row for row in document.entries if row.files]
    assert {f.stored.original_name for f in row.files} == {"sop.pdf", "chart.png"}
    assert all(f.withheld.startswith("Not attached: it was still being checked for viruses") for f in row.files)
    assert "still being checked for viruses when exported" in document.html


# --- clamd down, and scanning off ----------------------------------------------------------------


def test_with_clamd_down_the_file_stays_pending_and_the_scan_is_retried(
    client, apprenticeship, apprentice, settings, tmp_path, monkeypatch, clamd, django_capture_on_commit_callbacks
):
    settings.CLAMAV_ADDRESS = f"unix://{tmp_path / 'clamd-down.sock'}"
    with django_capture_on_commit_callbacks(execute=True):  # in-process: the failure is logged, not raised
        item = _draft_with(apprenticeship, upload("notes.txt"))
    stored = EvidenceFile.objects.get()
    assert stored.scan_status == "pending"
    client.force_login(apprentice)
    assert "Being checked for viruses" in client.get(f"/evidence/{item.pk}/").content.decode()
    assert client.get(f"/evidence/files/{stored.pk}/").status_code == 409

    # In a worker, the task asks Celery to run it again later, a minute first, then longer.
    retries = []

    def retry(*, exc, countdown):
        retries.append((type(exc), countdown))
        return Retry(exc=exc, when=countdown)

    monkeypatch.setattr(scan_file_task, "retry", retry)
    with pytest.raises(Retry):
        scan_file_task.run(stored.pk)
    assert retries == [(antivirus.ScannerUnavailable, 60)]

    settings.CLAMAV_ADDRESS = clamd.unix  # clamd is back: the retry finds the file clean
    with django_capture_on_commit_callbacks(execute=True):
        scan_file_task.run(stored.pk)
    stored.refresh_from_db()
    assert stored.scan_status == "clean"
    assert client.get(f"/evidence/files/{stored.pk}/").status_code == 200


def test_with_scanning_off_files_are_not_scanned_and_work_as_before(
    client, apprenticeship, apprentice, settings, django_capture_on_commit_callbacks
):
    settings.CLAMAV_ADDRESS = ""
    with django_capture_on_commit_callbacks(execute=True):
        item = evidence(apprenticeship, files=("notes.txt",), submit=True)
    stored = EvidenceFile.objects.get()
    assert stored.scan_status == "not_scanned" and stored.scanned_at is None
    assert not AuditEntry.objects.filter(action__startswith="file.scanned").exists()
    client.force_login(apprentice)
    assert client.get(f"/evidence/files/{stored.pk}/").status_code == 200
    assert item.status == "submitted"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "CLAMAV_ADDRESS",
            "localhost:3310",
            "CLAMAV_ADDRESS must be unix:///path/to/clamd.socket or tcp://host:port, not 'localhost:3310'.",
        ),
        ("STORAGE_QUOTA_MB", "0", "STORAGE_QUOTA_MB must be greater than zero, not 0."),
    ],
)
def test_a_bad_scanning_or_quota_setting_stops_start_up_naming_it(name, value, message):
    from portal.tests.test_settings import start

    result = start({name: value})
    assert result.returncode != 0
    assert message in result.stderr
