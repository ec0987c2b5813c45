from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from standards.importer import ImportRefused, import_standards


class Command(BaseCommand):
    help = (
        "Imports standard versions from the public apprenticeship standards API's JSON (one standard or a list). "
        "A version already loaded is left as it is; a bad file is refused whole."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE.json", help="JSON saved from the standards API")

    def handle(self, *args, files: list[str], **options):
        for name in files:
            path = Path(name)
            try:
                raw = path.read_bytes()
            except OSError as error:
                raise CommandError(f"{name}: cannot be read ({error.strerror}).") from None
            try:
                outcomes = import_standards(raw)
            except ImportRefused as refused:
                raise CommandError(f"{name} was not imported: {' '.join(refused.problems)}") from None
            for outcome in outcomes:
                self.stdout.write(outcome.summary)
