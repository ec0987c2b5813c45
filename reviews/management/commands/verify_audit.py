"""Proves the audit log is intact and every live sign-off still rests on the same files."""

from django.core.management.base import BaseCommand, CommandError

from portal.audit import verify_chain
from reviews.integrity import check_signed_files


class Command(BaseCommand):
    help = (
        "Checks the audit hash chain and re-hashes the files behind every live sign-off "
        "(files erased with an apprentice's personal data are reported as erased)."
    )

    def handle(self, *args, **options):
        report = verify_chain()
        problems = []
        if report.intact:
            self.stdout.write(f"Audit log intact: {report.checked} entries.")
        else:
            problems.append(f"Audit log broken at entry {report.first_bad}: {report.problem}.")
        files = check_signed_files()
        problems += files.problems
        if not files.problems:
            kept = "all that are kept" if files.erased else "all"
            self.stdout.write(f"Files behind live sign-offs: {kept} match their hashes at sign-off.")
        for line in files.erased:
            self.stdout.write(f"Erased: {line}")
        if problems:
            raise CommandError("\n".join(problems))
