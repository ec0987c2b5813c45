"""Back-up and restore of the whole portal: the database and the uploaded files, checked by a manifest.

A back-up is a folder holding:

- `database.dump` (PostgreSQL, `pg_dump --format=custom`) or `database.sqlite3` (SQLite, a copy
  made with SQLite's backup API);
- `media.tar`, every file under MEDIA_ROOT;
- `manifest.json`, written last: the row count of every table, the SHA-256 of the two files above
  and of every file in `media.tar`. A folder without it is an unfinished back-up.

Restoring verifies the back-up against its manifest before it touches anything, replaces the
database in one transaction, then the files, and ends by checking the row counts and every file's
hash against the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.core.files.storage import FileSystemStorage, storages
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

FORMAT = 1
MANIFEST = "manifest.json"
MEDIA_ARCHIVE = "media.tar"
DATABASE_FILES = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
# Tables that `migrate` fills by itself: a freshly migrated database is still an empty target.
FILLED_BY_MIGRATE = frozenset({"django_migrations", "django_content_type", "auth_permission"})

Say = Callable[[str], None]


class BackupError(Exception):
    """A back-up or restore that cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Summary:
    tables: int
    rows: int
    files: int
    media_bytes: int
    created_at: str = ""
    notes: tuple[str, ...] = ()


# --- What there is ------------------------------------------------------------------------------


def _vendor() -> str:
    if connection.vendor not in DATABASE_FILES:
        raise BackupError(f"Back-up and restore handle PostgreSQL and SQLite, not {connection.vendor}.")
    return connection.vendor


def _media_root() -> Path:
    """Where the uploaded files are, once it is clear that they are in a local folder."""
    storage = storages["default"]
    if not isinstance(storage, FileSystemStorage):
        raise BackupError(
            "The uploaded files are in object storage (MEDIA_STORAGE=s3), which these commands do not copy. "
            "Back up the bucket with its own tools instead (turn on versioning, or copy it with "
            "`aws s3 sync s3://BUCKET FOLDER`), and the database with `pg_dump --format=custom`."
        )
    return Path(storage.location)


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _media_files(root: Path) -> list[Path]:
    if not root.exists():
        return []
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            raise BackupError(f"{path} is a symbolic link; MEDIA_ROOT should hold only files the portal wrote.")
        if path.is_file():
            files.append(path)
    return files


def media_hashes(root: Path) -> dict[str, str]:
    """The SHA-256 of every file under `root`, by its path relative to it."""
    return {path.relative_to(root).as_posix(): sha256_of_file(path) for path in _media_files(root)}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def row_counts(cursor, vendor: str) -> dict[str, int]:
    """Rows in every table of the database (of the current schema, on PostgreSQL)."""
    if vendor == "postgresql":
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
    else:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    counts = {}
    for (table,) in cursor.fetchall():
        cursor.execute(f"SELECT count(*) FROM {_quote(table)}")  # noqa: S608 (names come from the catalogue)
        counts[table] = cursor.fetchone()[0]
    return counts


def _libpq_environment() -> dict[str, str]:
    """How pg_dump, pg_restore and psql reach the portal's database: the password never on a command line."""
    db = connection.settings_dict
    env = dict(os.environ)
    values = {
        "PGDATABASE": db["NAME"],
        "PGUSER": db.get("USER"),
        "PGPASSWORD": db.get("PASSWORD"),
        "PGHOST": db.get("HOST"),
        "PGPORT": str(db["PORT"]) if db.get("PORT") else "",
        "PGSSLMODE": db.get("OPTIONS", {}).get("sslmode"),
    }
    env.update({name: value for name, value in values.items() if value})
    return env


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed: it comes with Debian's postgresql-client.")
    return path


def _run(name: str, *args: str) -> None:
    # No shell, and every argument is ours: the database settings go through the environment.
    done = subprocess.run([_program(name), *args], capture_output=True, env=_libpq_environment())  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{name} failed: {done.stderr.decode(errors='replace').strip()}")


# --- Backing up ---------------------------------------------------------------------------------


def _dump_postgresql(target: Path) -> dict[str, int]:
    """Counts the rows and dumps the database from one snapshot, so the counts describe the dump exactly."""
    raw = connection.get_new_connection(connection.get_connection_params())
    try:
        with raw.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            counts = row_counts(cursor, "postgresql")
            # The snapshot lives as long as this transaction: pg_dump must run inside it.
            _run("pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={target}")
        raw.rollback()
    finally:
        raw.close()
    return counts


def _copy_sqlite(target: Path) -> dict[str, int]:
    connection.ensure_connection()
    copy = sqlite3.connect(target)
    try:
        connection.connection.backup(copy)
        # Counted in the copy itself, so the counts describe it exactly.
        return row_counts(copy.cursor(), "sqlite")
    finally:
        copy.close()


def _archive_media(root: Path, archive: Path) -> dict[str, str]:
    hashes = {}
    with tarfile.open(archive, "w") as tar:
        for path in _media_files(root):
            name = path.relative_to(root).as_posix()
            try:
                hashes[name] = sha256_of_file(path)
                tar.add(path, arcname=name, recursive=False)
            except FileNotFoundError:
                # Deleted while the back-up ran (an expired export, a removed draft file).
                hashes.pop(name, None)
    return hashes


def make_backup(dest: Path, *, say: Say = lambda line: None) -> Summary:
    """Writes a back-up of the database and MEDIA_ROOT into `dest`, a new or empty folder."""
    vendor = _vendor()
    root = _media_root()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} already exists and is not an empty folder; back up into a new one.")
    # Back-ups hold everyone's personal data: readable by their owner only.
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    old_umask = os.umask(0o077)
    try:
        database = dest / DATABASE_FILES[vendor]
        # The database first: every file its rows refer to was written before the row was committed,
        # so it is on disk when the files are archived.
        say(f"Dumping the {vendor} database…")
        counts = _dump_postgresql(database) if vendor == "postgresql" else _copy_sqlite(database)
        say(f"Archiving the files under {root}…")
        files = _archive_media(root, dest / MEDIA_ARCHIVE)
    finally:
        os.umask(old_umask)
    manifest = {
        "format": FORMAT,
        "created_at": timezone.now().isoformat(),
        "database": {"vendor": vendor, "file": database.name, "sha256": sha256_of_file(database), "tables": counts},
        "media": {"file": MEDIA_ARCHIVE, "sha256": sha256_of_file(dest / MEDIA_ARCHIVE), "files": files},
    }
    # Written last and renamed into place: a folder with a manifest is a finished back-up.
    partial = dest / f"{MANIFEST}.partial"
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    partial.chmod(0o600)
    partial.replace(dest / MANIFEST)
    size = sum((root / name).stat().st_size for name in files if (root / name).exists())
    return Summary(
        tables=len(counts),
        rows=sum(counts.values()),
        files=len(files),
        media_bytes=size,
        created_at=manifest["created_at"],
    )


# --- Restoring ----------------------------------------------------------------------------------


def read_manifest(src: Path) -> dict:
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{src} has no {MANIFEST}: it is not a back-up, or its back-up never finished.") from None
    except json.JSONDecodeError as error:
        raise BackupError(f"{src / MANIFEST} is not valid JSON ({error}).") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{src / MANIFEST} is of format {manifest.get('format')!r}; this portal reads {FORMAT}.")
    return manifest


def verify_backup(src: Path, manifest: dict) -> None:
    """Every file of the back-up is whole and the archive holds exactly the files the manifest lists."""
    for part in (manifest["database"], manifest["media"]):
        path = src / part["file"]
        if not path.is_file():
            raise BackupError(f"{path} is missing from the back-up.")
        if sha256_of_file(path) != part["sha256"]:
            raise BackupError(f"{path} does not match its SHA-256 in the manifest: the back-up is damaged.")
    with tarfile.open(src / MEDIA_ARCHIVE) as tar:
        names = {member.name for member in tar.getmembers() if member.isfile()}
    listed = set(manifest["media"]["files"])
    if names != listed:
        odd = sorted(names ^ listed)[:5]
        raise BackupError(f"{MEDIA_ARCHIVE} and the manifest list different files (e.g. {', '.join(odd)}).")


def _what_is_there(root: Path, vendor: str) -> list[str]:
    with connection.cursor() as cursor:
        counts = row_counts(cursor, vendor)
    rows = {table: n for table, n in counts.items() if n and table not in FILLED_BY_MIGRATE}
    found = []
    if rows:
        example = ", ".join(f"{table} ({n})" for table, n in sorted(rows.items())[:3])
        found.append(f"{sum(rows.values())} rows in {len(rows)} tables of the database (e.g. {example})")
    files = _media_files(root)
    if files:
        found.append(f"{len(files)} files under {root}")
    return found


def _postgresql_tables(cursor) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return [table for (table,) in cursor.fetchall()]


def _restore_postgresql(dump: Path) -> None:
    """Drops what is there and loads the dump in one transaction: it all happens, or none of it."""
    with connection.cursor() as cursor:
        tables = _postgresql_tables(cursor)
    # Its own connection would hold nothing, but it must not sit on a schema being replaced.
    connection.close()
    drop = f"DROP TABLE IF EXISTS {', '.join(_quote(t) for t in tables)} CASCADE;\n" if tables else ""
    pg_restore, psql = _program("pg_restore"), _program("psql")
    # pg_restore writes the dump as SQL, and psql runs it after the drop in a single transaction.
    script = subprocess.Popen(  # noqa: S603 (no shell; every argument is ours)
        [pg_restore, "--no-owner", "--no-privileges", "--file=-", str(dump)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_libpq_environment(),
    )
    try:
        loaded = subprocess.run(  # noqa: S603 (no shell; every argument is ours)
            [psql, "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction"]
            + ["--command", drop or "SELECT 1", "--file=-"],
            stdin=script.stdout,
            capture_output=True,
            env=_libpq_environment(),
        )
    finally:
        script.stdout.close()
        script_errors = script.stderr.read().decode(errors="replace").strip()
        script.wait()
    if script.returncode != 0:
        raise BackupError(f"pg_restore could not read {dump}: {script_errors}")
    if loaded.returncode != 0:
        raise BackupError(
            f"psql could not load the dump, so the database was left as it was: "
            f"{loaded.stderr.decode(errors='replace').strip()}"
        )


def _restore_sqlite(copy: Path) -> None:
    connection.ensure_connection()
    source = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        # Page by page under one lock, committed at the end: the database becomes the copy, whole.
        source.backup(connection.connection)
    finally:
        source.close()


def _replace_media(root: Path, archive: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    with tarfile.open(archive) as tar:
        # The "data" filter refuses absolute paths, "..", links out of the folder and device files.
        tar.extractall(root, filter="data")


def _pending_migrations() -> int:
    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def restore_backup(src: Path, *, force: bool = False, say: Say = lambda line: None) -> Summary:
    """Replaces the database and MEDIA_ROOT with the back-up in `src`, then checks the result."""
    manifest = read_manifest(src)
    vendor = _vendor()
    root = _media_root()
    if manifest["database"]["vendor"] != vendor:
        raise BackupError(
            f"This back-up is of a {manifest['database']['vendor']} database, and DATABASE_URL points at "
            f"{vendor}: restore it into the same kind of database."
        )
    say("Checking the back-up against its manifest…")
    verify_backup(src, manifest)
    if not force:
        found = _what_is_there(root, vendor)
        if found:
            raise BackupError(
                f"The target is not empty: {'; '.join(found)}. Restoring replaces all of it; add --force to do that."
            )
    say(f"Restoring the {vendor} database…")
    database = src / manifest["database"]["file"]
    _restore_postgresql(database) if vendor == "postgresql" else _restore_sqlite(database)
    say(f"Restoring the files into {root}…")
    _replace_media(root, src / MEDIA_ARCHIVE)

    say("Checking the restored rows and files…")
    with connection.cursor() as cursor:
        counts = row_counts(cursor, vendor)
    expected = manifest["database"]["tables"]
    wrong = [f"{t} has {counts.get(t)} rows, not {expected.get(t)}" for t in _differences(counts, expected)]
    if wrong:
        raise BackupError(f"The restored database does not match the manifest: {'; '.join(wrong[:5])}.")
    hashes = media_hashes(root)
    wrong = _differences(hashes, manifest["media"]["files"])
    if wrong:
        raise BackupError(f"The restored files do not match the manifest: {', '.join(wrong[:5])}.")
    notes = []
    pending = _pending_migrations()
    if pending:
        notes.append(f"The back-up predates {pending} migrations of this version: run `python manage.py migrate`.")
    size = sum((root / name).stat().st_size for name in hashes)
    return Summary(
        tables=len(counts),
        rows=sum(counts.values()),
        files=len(hashes),
        media_bytes=size,
        created_at=manifest["created_at"],
        notes=tuple(notes),
    )


def _differences(found: dict, expected: dict) -> list[str]:
    return sorted(key for key in set(found) | set(expected) if found.get(key) != expected.get(key))
