"""Writes one portfolio PDF synchronously, with the same code the export workers run."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from portal.models import Apprenticeship
from reviews.pdf import render_portfolio


class Command(BaseCommand):
    help = "Renders the portfolio PDF of an apprenticeship (by id, or the apprentice's email) to a file."

    def add_arguments(self, parser):
        parser.add_argument("apprenticeship", help="apprenticeship id, or the apprentice's email address")
        parser.add_argument("--out", required=True, help="where to write the PDF")

    def handle(self, *args, apprenticeship: str, out: str, **options):
        found = Apprenticeship.objects.with_people()
        if apprenticeship.isdigit():
            found = found.filter(pk=int(apprenticeship))
        else:
            found = found.filter(apprentice__email__iexact=apprenticeship).order_by("-start_date")
        chosen = found.first()
        if chosen is None:
            raise CommandError(f"No apprenticeship matches {apprenticeship!r}.")
        target = Path(out)
        if not target.parent.exists():
            raise CommandError(f"The folder {target.parent} does not exist.")
        pdf = render_portfolio(chosen)
        target.write_bytes(pdf)
        self.stdout.write(f"Wrote {target} ({len(pdf):,} bytes) for {chosen.apprentice}.")
