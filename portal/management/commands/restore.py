"""`python manage.py restore SRC`: puts back a back-up made by `backup`, then checks every row count and file."""

import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from portal.backup import BackupError, restore_backup


class Command(BaseCommand):
    help = (
        "Restores a back-up made by `manage.py backup`: checks it against its manifest, replaces the database "
        "(in one transaction) and the files under MEDIA_ROOT, then checks every table's row count and every "
        "file's SHA-256. Refuses a database or MEDIA_ROOT that holds anything unless given --force."
    )

    def add_arguments(self, parser):
        parser.add_argument("src", type=Path, help="the folder `backup` wrote")
        parser.add_argument(
            "--force", action="store_true", help="replace whatever the database and MEDIA_ROOT hold now"
        )

    def handle(self, *args, src: Path, force: bool, **options):
        try:
            summary = restore_backup(src, force=force, say=self.stdout.write)
        except BackupError as error:
            raise CommandError(str(error)) from error
        made = timezone.localtime(datetime.datetime.fromisoformat(summary.created_at))
        for note in summary.notes:
            self.stdout.write(self.style.WARNING(note))
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored the back-up of {made:%d %b %Y, %H:%M}: {summary.rows} rows in {summary.tables} tables and "
                f"{summary.files} files ({filesizeformat(summary.media_bytes)}), every count and SHA-256 as in "
                "its manifest."
            )
        )
