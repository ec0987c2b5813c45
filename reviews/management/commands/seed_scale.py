"""A national provider's data for measuring: `seed_scale --apprentices 2000 --evidence-per-apprentice 50`."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from portal.models import User
from reviews.scale import EMAIL_DOMAIN, PREFIXES, SCALE_PASSWORD, build_scale, scale_set_exists
from standards.models import Standard


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = (
        "Fills the database with providers, staff and N apprentices on ST0220 with M evidence items each, in bulk, "
        "for measuring the portal at scale. Refuses to run when the scale set is already there."
    )

    def add_arguments(self, parser):
        parser.add_argument("--apprentices", type=positive, default=2000, metavar="N", help="default 2000")
        parser.add_argument(
            "--evidence-per-apprentice", type=positive, default=50, metavar="M", help="evidence items each; default 50"
        )
        parser.add_argument(
            "--allow-without-debug",
            action="store_true",
            help="Seed even though DEBUG is off (the password is public: never on a live site).",
        )

    def handle(self, *args, apprentices: int, evidence_per_apprentice: int, allow_without_debug: bool, **options):
        if not settings.DEBUG and not allow_without_debug:
            raise CommandError("Refusing to create accounts with a public password while DEBUG is off.")
        if scale_set_exists():
            # Not idempotent on purpose: adding a second set would change every figure measured on it.
            raise CommandError(f"This database already holds the scale set (@{EMAIL_DOMAIN} accounts); use a new one.")
        if not Standard.objects.filter(reference="ST0220", version="1.0").exists():
            call_command("loaddata", "st0220", verbosity=0)
        standard = Standard.objects.get(reference="ST0220", version="1.0")
        verbose = options["verbosity"] >= 1
        step = max(1, apprentices // 10)

        def progress(done: int, total: int, rows: int) -> None:
            if verbose and (done % step < 100 or done == total):
                self.stdout.write(f"  {done:>6} of {total} apprentices, {rows:,} rows")

        if verbose:
            self.stdout.write(
                f"Seeding {apprentices:,} apprentices with {evidence_per_apprentice} evidence items each "
                f"({apprentices * evidence_per_apprentice:,} items) on {standard.reference} v{standard.version}…"
            )
        result = build_scale(
            apprentices=apprentices,
            evidence_per_apprentice=evidence_per_apprentice,
            standard=standard,
            on_progress=progress,
        )
        if not verbose:
            return
        self.stdout.write("Rows written:")
        for table, count in sorted(result.rows.items(), key=lambda pair: -pair[1]):
            self.stdout.write(f"  {table:<36} {count:>10,}")
        self.stdout.write(f"  {'total':<36} {result.total_rows:>10,}")
        self.stdout.write(f"Files in storage: {result.files_stored} (shared by the file rows)")
        self.stdout.write(
            f"Done in {result.seconds:.1f} s: {result.rate:,.0f} rows/s, "
            f"{apprentices * evidence_per_apprentice / result.seconds:,.0f} evidence items/s."
        )
        counts = dict(
            User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").values_list("role").annotate(n=Count("pk"))
        )
        self.stdout.write(f"Every account's password is {SCALE_PASSWORD}. Sign in as:")
        for role, prefix in PREFIXES.items():
            label = User.Role(role).label
            self.stdout.write(f"  {label:<26} {prefix}1@{EMAIL_DOMAIN} … {prefix}{counts.get(role, 0)}@{EMAIL_DOMAIN}")
