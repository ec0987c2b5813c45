"""Back-up and restore: a round trip keeps every row of every model and every file, byte for byte.

The round trip restores into a fresh database of the kind the tests run on (a new SQLite file, or
a new PostgreSQL database made for the test) through `manage.py` in a process of its own, as an
administrator would, and compares everything Django's serialisers see (`dumpdata --all`).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from evidence.models import EvidenceFile, EvidenceVersion
from evidence.tests.factories import evidence, otj_activity
from portal.backup import media_hashes
from reviews.models import Party
from reviews.tests.helpers import signed_off
from reviews.tests.programme import progress_review

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def portfolios(apprenticeship, other_apprenticeship, outsider_apprenticeship):
    """Evidence with files (and an image's print copy), a sign-off, hours, a signed review, audit entries."""
    signed_off(apprenticeship, "K1", files=("chart.png", "sop.pdf"))
    evidence(apprenticeship, title="Half-written reflection", files=("notes.txt",))
    otj_activity(apprenticeship)
    progress_review(apprenticeship, signed_by=(Party.APPRENTICE, Party.ASSESSOR))
    evidence(other_apprenticeship, title="QC results", files=("qc.csv", "ward.jpg"), submit=True)
    evidence(outsider_apprenticeship, title="Elsewhere", files=("referral.pdf",))
    return apprenticeship


def _every_row() -> list[dict]:
    """Every row of every model, as Django's serialisers write them (ordered by primary key)."""
    out = io.StringIO()
    call_command("dumpdata", "--all", stdout=out)
    return json.loads(out.getvalue())


def _media(settings) -> Path:
    return Path(settings.MEDIA_ROOT)


def _manage(*args: str, database_url: str, media_root: Path) -> subprocess.CompletedProcess:
    env = os.environ | {
        "DATABASE_URL": database_url,
        "MEDIA_STORAGE": "local",
        "MEDIA_ROOT": str(media_root),
        "REDIS_URL": "",
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def fresh_database(tmp_path):
    """The URL of an empty database of the kind the tests run on, for a restore to fill."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    db = connection.settings_dict
    name = f"{db['NAME']}_restored_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    user = quote(db.get("USER") or "postgres", safe="")
    if db.get("PASSWORD"):
        user += f":{quote(db['PASSWORD'], safe='')}"
    yield f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db(transaction=True)
def test_a_backup_restored_into_a_fresh_database_has_every_row_and_every_file(
    portfolios, settings, tmp_path, fresh_database
):
    rows, files = _every_row(), media_hashes(_media(settings))
    assert len(rows) > 200 and len(files) == 7  # six uploads and the image's print copy
    backup = tmp_path / "backup"
    out = io.StringIO()
    call_command("backup", str(backup), stdout=out)
    assert "and 7 files" in out.getvalue()
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["database"]["vendor"] == connection.vendor
    assert manifest["database"]["tables"]["evidence_evidencefile"] == EvidenceFile.objects.count() == 6
    assert manifest["media"]["files"] == files

    restored_media = tmp_path / "restored-media"
    restore = _manage("restore", str(backup), database_url=fresh_database, media_root=restored_media)
    assert restore.returncode == 0, restore.stderr
    assert "every count and SHA-256 as in its manifest" in restore.stdout
    dump = _manage("dumpdata", "--all", database_url=fresh_database, media_root=restored_media)
    assert dump.returncode == 0, dump.stderr
    assert json.loads(dump.stdout) == rows
    assert media_hashes(restored_media) == files


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_target_that_holds_anything_unless_forced_and_then_puts_it_back(
    portfolios, settings, tmp_path
):
    backup = tmp_path / "backup"
    call_command("backup", str(backup), stdout=io.StringIO())
    rows, files = _every_row(), media_hashes(_media(settings))
    # Work done after the back-up: a new item with its file, and a file lost from the disk.
    evidence(portfolios, title="Written after the back-up", files=("late.pdf",))
    next(_media(settings).rglob("*.png")).unlink()

    with pytest.raises(CommandError, match=r"The target is not empty: \d+ rows in \d+ tables .* add --force"):
        call_command("restore", str(backup), stdout=io.StringIO())
    assert EvidenceVersion.objects.filter(title="Written after the back-up").exists()  # nothing touched

    out = io.StringIO()
    call_command("restore", str(backup), "--force", stdout=out)
    assert "every count and SHA-256 as in its manifest" in out.getvalue()
    assert _every_row() == rows
    assert media_hashes(_media(settings)) == files


@pytest.mark.django_db(transaction=True)
def test_a_damaged_backup_is_refused_before_anything_changes(portfolios, settings, tmp_path):
    backup = tmp_path / "backup"
    call_command("backup", str(backup), stdout=io.StringIO())
    evidence(portfolios, title="Written after the back-up", files=())
    files = media_hashes(_media(settings))
    archive = backup / "media.tar"
    damaged = bytearray(archive.read_bytes())
    damaged[700] ^= 0xFF
    archive.write_bytes(damaged)
    with pytest.raises(
        CommandError, match="media.tar does not match its SHA-256 in the manifest: the back-up is damaged"
    ):
        call_command("restore", str(backup), "--force", stdout=io.StringIO())
    assert EvidenceVersion.objects.filter(title="Written after the back-up").exists()
    assert media_hashes(_media(settings)) == files


def test_a_folder_that_is_not_a_finished_backup_is_refused(db, tmp_path):
    (tmp_path / "media.tar").write_bytes(b"")
    with pytest.raises(CommandError, match="has no manifest.json: it is not a back-up, or its back-up never finished"):
        call_command("restore", str(tmp_path), stdout=io.StringIO())


def test_backup_refuses_to_write_into_a_folder_that_holds_something(db, tmp_path):
    (tmp_path / "earlier.txt").write_text("keep me")
    with pytest.raises(CommandError, match="already exists and is not an empty folder"):
        call_command("backup", str(tmp_path), stdout=io.StringIO())
    assert [p.name for p in tmp_path.iterdir()] == ["earlier.txt"]


def test_files_in_object_storage_are_refused_with_what_to_do_instead(db, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"bucket_name": "portal-evidence"}},
    }
    with pytest.raises(CommandError, match="object storage") as error:
        call_command("backup", str(tmp_path / "backup"), stdout=io.StringIO())
    assert "aws s3 sync" in str(error.value)
    assert not (tmp_path / "backup").exists()
