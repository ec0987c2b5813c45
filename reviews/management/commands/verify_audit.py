"""Proves the audit log is intact and every live sign-off still rests on the same files."""

from django.core.management.base import BaseCommand, CommandError

from portal.audit import verify_chain
from reviews.integrity import changed_signed_files


class Command(BaseCommand):
    help = "Checks the audit hash chain and re-hashes the files behind every live sign-off."

    def handle(self, *args, **options):
        report = verify_chain()
        problems = []
        if report.intact:
            self.stdout.write(f"Audit log intact: {report.checked} entries.")
        else:
            problems.append(f"Audit log broken at entry {report.first_bad}: {report.problem}.")
        changed = changed_signed_files()
        for change in changed:
            problems.append(change)
        if not changed:
            self.stdout.write("Files behind live sign-offs: all match their hashes at sign-off.")
        if problems:
            raise CommandError("\n".join(problems))
