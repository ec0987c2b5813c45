"""`python manage.py backup DEST`: the database and the uploaded files, with a manifest to check them by."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat

from portal.backup import BackupError, make_backup


class Command(BaseCommand):
    help = (
        "Backs up the database (pg_dump on PostgreSQL, SQLite's backup API on SQLite) and every file under "
        "MEDIA_ROOT into the new folder DEST, with manifest.json: the row count of every table and the "
        "SHA-256 of every file. Restore it with `manage.py restore DEST`."
    )

    def add_arguments(self, parser):
        parser.add_argument("dest", type=Path, help="a folder that does not exist yet, or an empty one")

    def handle(self, *args, dest: Path, **options):
        try:
            summary = make_backup(dest, say=self.stdout.write)
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up {summary.rows} rows in {summary.tables} tables and {summary.files} files "
                f"({filesizeformat(summary.media_bytes)}) to {dest}."
            )
        )
