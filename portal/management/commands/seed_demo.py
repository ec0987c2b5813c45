"""Demo people and apprenticeships on ST0220, so every page has something real to show."""

import datetime

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.module_loading import import_string
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from portal.models import Apprenticeship, Organisation, User
from portal.services import enrol_apprentice
from standards.models import Standard

DEMO_PASSWORD = "portfolio-demo-2026"  # noqa: S105 (public on purpose: demo accounts only)

PROVIDER = "Northfield College of Health Sciences"
EMPLOYER = "Riverside University Hospitals NHS Foundation Trust"

# (email, first name, last name, role, organisation)
PEOPLE = [
    ("priya.shah@demo.test", "Priya", "Shah", User.Role.PROVIDER_ADMIN, PROVIDER),
    ("daniel.okafor@demo.test", "Daniel", "Okafor", User.Role.ASSESSOR, PROVIDER),
    ("helen.marsh@demo.test", "Helen", "Marsh", User.Role.ASSESSOR, PROVIDER),
    ("gareth.lloyd@demo.test", "Gareth", "Lloyd", User.Role.MENTOR, EMPLOYER),
    ("fiona.grant@demo.test", "Fiona", "Grant", User.Role.IQA, PROVIDER),
    ("amira.hussain@demo.test", "Amira", "Hussain", User.Role.APPRENTICE, PROVIDER),
    ("ben.carter@demo.test", "Ben", "Carter", User.Role.APPRENTICE, PROVIDER),
    ("chloe.evans@demo.test", "Chloe", "Evans", User.Role.APPRENTICE, PROVIDER),
]

# (apprentice, assessor, mentor or None, start date)
ENROLMENTS = [
    ("amira.hussain@demo.test", "daniel.okafor@demo.test", "gareth.lloyd@demo.test", datetime.date(2025, 9, 1)),
    ("ben.carter@demo.test", "daniel.okafor@demo.test", None, datetime.date(2025, 1, 6)),
    ("chloe.evans@demo.test", "helen.marsh@demo.test", "gareth.lloyd@demo.test", datetime.date(2024, 9, 2)),
]

SUPERUSER = "admin@demo.test"
# The admin site asks for a second factor. The demo superuser gets this many one-time codes, new
# ones on every run (never fixed in the code, unlike the demo password).
DEMO_ADMIN_CODES = 5


class Command(BaseCommand):
    help = "Creates (or brings back) the demo provider, employer, people and ST0220 apprenticeships."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-without-debug",
            action="store_true",
            help="Seed even though DEBUG is off (the demo passwords are public: never on a live site).",
        )

    def handle(self, *args, allow_without_debug: bool = False, **options):
        if not settings.DEBUG and not allow_without_debug:
            raise CommandError("Refusing to create demo accounts with public passwords while DEBUG is off.")
        if not Standard.objects.filter(reference="ST0220", version="1.0").exists():
            call_command("loaddata", "st0220", verbosity=0)
        with transaction.atomic():
            logins = self.seed()
            codes = self.admin_codes(User.objects.get(email=SUPERUSER))
            for path in settings.DEMO_SEEDERS:
                import_string(path)(stdout=self.stdout)
        self.print_logins(logins)
        self.stdout.write(
            f"The Django admin (/admin/) also asks {SUPERUSER} for a one-time code; each of these works once "
            f"(running seed_demo again makes new ones): {' '.join(codes)}"
        )

    def seed(self) -> list[tuple[str, str]]:
        standard = Standard.objects.get(reference="ST0220", version="1.0")
        organisations = {
            PROVIDER: Organisation.objects.get_or_create(kind=Organisation.Kind.PROVIDER, name=PROVIDER)[0],
            EMPLOYER: Organisation.objects.get_or_create(kind=Organisation.Kind.EMPLOYER, name=EMPLOYER)[0],
        }
        people: dict[str, User] = {}
        logins = []
        for email, first, last, role, organisation in PEOPLE:
            people[email] = self.upsert_person(
                email, first_name=first, last_name=last, role=role, organisation=organisations[organisation]
            )
            logins.append((role.label, email))
        self.upsert_person(SUPERUSER, first_name="Site", last_name="Administrator", is_staff=True, is_superuser=True)
        logins.append(("Site administrator (Django admin)", SUPERUSER))

        for apprentice, assessor, mentor, start in ENROLMENTS:
            if Apprenticeship.objects.filter(apprentice=people[apprentice], standard=standard).exists():
                continue
            enrol_apprentice(
                apprentice=people[apprentice],
                standard=standard,
                employer=organisations[EMPLOYER],
                assessor=people[assessor],
                mentor=people[mentor] if mentor else None,
                start_date=start,
                planned_end_date=start.replace(year=start.year + 2),
            )
        return logins

    @staticmethod
    def admin_codes(superuser: User) -> list[str]:
        """Fresh one-time codes for the demo superuser's second factor, replacing any left over."""
        device, _ = StaticDevice.objects.get_or_create(user=superuser, name="Demo one-time codes")
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(DEMO_ADMIN_CODES)]
        StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
        return codes

    @staticmethod
    def upsert_person(email: str, **fields) -> User:
        user, _ = User.objects.update_or_create(email=email, defaults=fields)
        if not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user

    def print_logins(self, logins: list[tuple[str, str]]) -> None:
        width = max(len(role) for role, _ in logins)
        email_width = max(len(email) for _, email in logins)
        self.stdout.write("Demo logins (every account has the same password):")
        self.stdout.write(f"  {'Role':<{width}}  {'Email':<{email_width}}  Password")
        for role, email in logins:
            self.stdout.write(f"  {role:<{width}}  {email:<{email_width}}  {DEMO_PASSWORD}")
