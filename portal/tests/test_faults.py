"""The database going away while the portal serves requests: a 503 page in words, then back to work.

The first tests break the database inside this process and run on any database. The last two
restart a real PostgreSQL: one of their own, made with initdb in a temporary folder and served to
a gunicorn of the portal, since the machine's PostgreSQL holds CI's own test database and must
never be restarted. They run where the suite runs on PostgreSQL (CI's second run).
"""

from __future__ import annotations

import glob
import http.client
import json
import os
import pwd
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
from django.db import InterfaceError, OperationalError, connection
from django.db.models.sql.compiler import SQLCompiler

from evidence.tests.samples import CONTENT
from portal.faults import is_database_outage

PROJECT = Path(__file__).resolve().parents[2]
RESTARTING = "The portal's database is restarting"


def _outage(message: str = "server closed the connection unexpectedly") -> OperationalError:
    """An OperationalError as Django raises it for a lost PostgreSQL connection (no SQLSTATE)."""
    error = OperationalError(message)
    error.__cause__ = psycopg2.OperationalError(message)
    return error


@pytest.fixture
def take_the_database_away(monkeypatch):
    """Called, it makes every query fail as it does while PostgreSQL is restarting."""

    def fail(*args, **kwargs):
        raise _outage()

    return lambda: monkeypatch.setattr(SQLCompiler, "execute_sql", fail)


def _assert_the_503_page(response) -> None:
    assert response.status_code == 503
    body = response.content.decode()
    assert RESTARTING in body
    assert "again by itself every 30 seconds" in body
    assert "either saved whole or not at all" in body
    assert "Traceback" not in body
    assert response["Retry-After"] == "30"
    assert response["Cache-Control"] == "no-store"
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_a_signed_in_page_while_the_database_is_away_answers_503_in_words(
    client, apprenticeship, take_the_database_away
):
    """The session is the first thing read from the database, by the session middleware."""
    client.raise_request_exception = False
    client.force_login(apprenticeship.apprentice)
    take_the_database_away()
    _assert_the_503_page(client.get("/portfolio/"))


def test_a_sign_in_while_the_database_is_away_answers_503_in_words(client, apprentice, take_the_database_away):
    """Here the view is the first to read the database."""
    client.raise_request_exception = False
    take_the_database_away()
    _assert_the_503_page(client.post("/accounts/sign-in/", {"username": apprentice.email, "password": "whatever"}))


def test_a_fault_of_the_code_is_still_a_500(client, apprenticeship, monkeypatch):
    def fail(*args, **kwargs):
        error = OperationalError("no such table: reviews_export")
        error.__cause__ = sqlite3.OperationalError("no such table: reviews_export")
        raise error

    client.force_login(apprenticeship.apprentice)
    monkeypatch.setattr(SQLCompiler, "execute_sql", fail)
    client.raise_request_exception = False
    assert client.get("/portfolio/").status_code == 500


class _DriverError(Exception):
    def __init__(self, pgcode: str | None):
        super().__init__(pgcode)
        self.pgcode = pgcode


def _wrapped(cause: BaseException) -> OperationalError:
    error = OperationalError(str(cause))
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (_wrapped(_DriverError(None)), True),  # could not connect, or the connection was lost
        (_wrapped(_DriverError("57P01")), True),  # terminating connection due to administrator command
        (_wrapped(_DriverError("57P03")), True),  # the database system is starting up
        (_wrapped(_DriverError("08006")), True),  # connection failure
        (_wrapped(_DriverError("53100")), True),  # disk full
        (_wrapped(_DriverError("40P01")), True),  # deadlock: running again works
        (_wrapped(_DriverError("42P01")), False),  # undefined table
        (_wrapped(sqlite3.OperationalError("database is locked")), True),
        (_wrapped(sqlite3.OperationalError("no such table: evidence_evidenceitem")), False),
        (InterfaceError("connection already closed"), True),
        (ValueError("not a database error"), False),
    ],
)
def test_which_database_errors_count_as_an_outage(error, outage):
    assert is_database_outage(error) is outage


# --- A real PostgreSQL, restarted ----------------------------------------------------------------


def _postgres_program(name: str) -> str:
    """Debian keeps the server's programs out of PATH, one folder per major version."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parent.parent.name))
    program = found[-1] if found else shutil.which(name)
    if program is None:
        pytest.fail(f"{name} not found: install Debian's postgresql package")
    return program


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, in a temporary folder, on a free port."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.data = folder / "data"
        self.port = _free_port()

    def _run(self, *command: str) -> None:
        # initdb and the server refuse to run as root: as root, they run as the postgres user.
        as_postgres = (
            [shutil.which("runuser") or "/usr/sbin/runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        )
        done = subprocess.run([*as_postgres, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.folder / "server.log"
            pytest.fail(f"{' '.join(command)} failed: {done.stderr}\n{log.read_text() if log.exists() else ''}")

    def create(self) -> None:
        self._run(_postgres_program("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()
        self.connect("postgres", autocommit=True).cursor().execute("CREATE DATABASE portal")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            _postgres_program("pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """A fast shutdown: every session is cut off, its open transaction rolled back."""
        self._run(_postgres_program("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self._run(
            _postgres_program("pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "server.log"),
            "-m", "fast", "-w", "-t", "60", "restart",
        )  # fmt: skip

    def connect(self, database: str = "portal", autocommit: bool = False):
        db = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database)
        db.autocommit = autocommit
        return db

    def count(self, table: str) -> int:
        with self.connect(autocommit=True) as db, db.cursor() as cursor:
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 (our own table names)
            return cursor.fetchone()[0]

    def url(self) -> str:
        # Persistent connections, so that the test also proves a dead one is replaced after a restart.
        return f"postgres://postgres@127.0.0.1:{self.port}/portal?conn_max_age=60"


class PortalServer:
    """The portal under gunicorn, on the private PostgreSQL, seen through plain HTTP."""

    def __init__(self, database_url: str, folder: Path):
        self.port = _free_port()
        self.media = folder / "media"
        self.log = folder / "gunicorn.log"
        self.cookies: dict[str, str] = {}
        self.k24: int | None = None  # the KSB the test upload is mapped to
        self.env = os.environ | {
            "DATABASE_URL": database_url,
            "MEDIA_STORAGE": "local",
            "MEDIA_ROOT": str(self.media),
            "REDIS_URL": "",
            "EMAIL_URL": "dummymail://",
            "DEBUG": "true",
            "LOG_LEVEL": "WARNING",
        }
        self.process: subprocess.Popen | None = None

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=PROJECT, env=self.env, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            pytest.fail(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> None:
        command = [sys.executable, "-m", "gunicorn", "portal.wsgi", "--bind", f"127.0.0.1:{self.port}"]
        command += ["--workers", "1", "--threads", "4", "--timeout", "120", "--graceful-timeout", "5"]
        command += ["--no-control-socket"]
        self.process = subprocess.Popen(
            command, cwd=PROJECT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.request("GET", "/accounts/sign-in/")
                return
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"gunicorn did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def request(self, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None):
        """Returns (status, text, headers), keeping the cookies the portal sets as a browser would."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
            conn.request(method, path, body=body, headers={"Cookie": cookie, **(headers or {})})
            response = conn.getresponse()
            text = response.read().decode(errors="replace")
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, value = header.split(";", 1)[0].partition("=")
                self.cookies[name.strip()] = value.strip()
            return response.status, text, response.headers
        finally:
            conn.close()

    def upload(self, fields: dict[str, str], files: dict[str, tuple[str, bytes]]):
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, (file_name, content) in files.items():
            head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{file_name}"\r\n'
            parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        content_type = f"multipart/form-data; boundary={boundary}"
        return self.request("POST", "/evidence/new/", body=body, headers={"Content-Type": content_type})


# Builds the people and signs the apprentice in, printing what the tests need as JSON.
_SETUP = """
import json
from django.conf import settings
from django.test import Client
from portal.tests.factories import ApprenticeshipFactory
from standards.models import Standard

standard = Standard.objects.get(reference="ST0220", version="1.0")
apprenticeship = ApprenticeshipFactory(standard=standard, apprentice__email="restart@example.org")
browser = Client()
browser.force_login(apprenticeship.apprentice)
print(json.dumps({
    "session": [settings.SESSION_COOKIE_NAME, browser.cookies[settings.SESSION_COOKIE_NAME].value],
    "k24": standard.ksbs.get(kind="K", number=24).pk,
}))
"""


@pytest.fixture(scope="module")
def restartable_portal():
    """A private PostgreSQL with the portal migrated on it, served by gunicorn, an apprentice signed in."""
    folder = Path(tempfile.mkdtemp(prefix="portal-restart-"))
    if os.geteuid() == 0:
        # The server runs as the postgres user, so its folder must be postgres's.
        postgres = pwd.getpwnam("postgres")
        os.chown(folder, postgres.pw_uid, postgres.pw_gid)
    database = PrivatePostgres(folder)
    server = None
    try:
        database.create()
        server = PortalServer(database.url(), Path(tempfile.mkdtemp(prefix="portal-restart-web-")))
        server.manage("migrate", "--noinput", "-v0")
        server.manage("loaddata", "st0220", "-v0")
        setup = json.loads(server.manage("shell", "-c", _SETUP).strip().splitlines()[-1])
        server.cookies[setup["session"][0]] = setup["session"][1]
        server.k24 = setup["k24"]
        server.start()
        yield database, server
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(server.media.parent, ignore_errors=True)
        if (database.data / "postmaster.pid").exists():
            database.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="restarts a PostgreSQL of its own; CI runs it in the PostgreSQL run (on SQLite there is no server)",
)


@needs_postgresql
def test_requests_while_postgresql_restarts_fail_cleanly_then_work_again(restartable_portal):
    database, server = restartable_portal
    assert [server.request("GET", "/portfolio/")[0] for _ in range(8)] == [200] * 8

    # A restart between requests: the server's threads keep connections that died with it, and
    # each is replaced on its next request (CONN_HEALTH_CHECKS) instead of failing it.
    database.restart()
    assert [server.request("GET", "/portfolio/")[0] for _ in range(8)] == [200] * 8

    database.stop()
    for path in ("/portfolio/", "/evidence/", "/evidence/new/"):
        status, text, headers = server.request("GET", path)
        assert status == 503, path
        assert RESTARTING in text and "Traceback" not in text
        assert headers["Retry-After"] == "30"
    database.start()
    assert [server.request("GET", "/portfolio/")[0] for _ in range(8)] == [200] * 8

    # A restart while requests keep coming: each is answered with the page or the 503, never a 500.
    statuses: list[int] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            statuses.append(server.request("GET", "/portfolio/")[0])

    askers = [threading.Thread(target=keep_asking) for _ in range(2)]
    for asker in askers:
        asker.start()
    try:
        time.sleep(0.5)
        database.restart()
        time.sleep(0.5)
    finally:
        stop.set()
        for asker in askers:
            asker.join(timeout=60)
    assert statuses and set(statuses) <= {200, 503}, statuses
    assert server.request("GET", "/portfolio/")[0] == 200


@needs_postgresql
def test_an_upload_cut_off_by_a_postgresql_restart_leaves_no_evidence_and_no_file(restartable_portal):
    database, server = restartable_portal
    status, page, _ = server.request("GET", "/evidence/new/")
    assert status == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    fields = {
        "csrfmiddlewaretoken": token,
        "title": "Safeguarding referral",
        "activity_date": "2025-11-10",
        "evidence_type": "witness_testimony",
        "reflection": "I recognised the signs and followed the trust's procedure.",
        f"ksb_{server.k24}": "on",
        f"note_{server.k24}": "Made a referral with my supervisor",
        "save": "",
    }
    files = {"files": ("referral.pdf", CONTENT["pdf"])}
    tables = ("evidence_evidenceitem", "evidence_evidenceversion", "evidence_ksbmapping", "evidence_evidencefile")
    before = {table: database.count(table) for table in tables}

    # Hold the upload at its last step: the file is written and the item, version and mappings
    # are inserted (uncommitted) when the insert of the file's row waits for this lock.
    holder = database.connect()
    holder.cursor().execute("LOCK TABLE evidence_evidencefile IN SHARE MODE")
    answer: dict = {}
    upload = threading.Thread(target=lambda: answer.update(result=server.upload(fields, files)))
    upload.start()
    watcher = database.connect(autocommit=True)
    deadline = time.monotonic() + 60
    while True:
        with watcher.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE 'INSERT INTO \"evidence_evidencefile\"%%'"
            )
            if cursor.fetchone()[0]:
                break
        assert time.monotonic() < deadline, "the upload never reached the insert of its file's row"
        time.sleep(0.05)
    watcher.close()
    assert len(_files_under(server.media / "evidence")) == 1  # half-way: the file is on disk

    database.stop()
    upload.join(timeout=120)
    holder.close()
    status, text, _ = answer["result"]
    assert status == 503
    assert RESTARTING in text

    database.start()
    assert {table: database.count(table) for table in tables} == before
    assert _files_under(server.media / "evidence") == []

    # Back to work: the same upload now goes through.
    status, _, headers = server.upload(fields, files)
    assert status == 302, headers
    assert {table: database.count(table) - before[table] for table in tables} == dict.fromkeys(tables, 1)
    assert len(_files_under(server.media / "evidence")) == 1
