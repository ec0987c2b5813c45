"""`python manage.py seed_demo`: demo people who can sign in, created once however often it runs."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from portal.management.commands.seed_demo import DEMO_PASSWORD
from portal.models import Apprenticeship, Organisation, User
from standards.models import KSB


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def debug_on(settings):
    settings.DEBUG = True


def test_seed_demo_creates_every_role_and_three_apprenticeships_with_different_assessors(db, debug_on):
    seed()
    roles = set(User.objects.exclude(role="").values_list("role", flat=True))
    assert roles == set(User.Role.values)
    assert Organisation.objects.filter(kind="provider").count() == 1
    assert Organisation.objects.filter(kind="employer").count() == 1
    apprenticeships = Apprenticeship.objects.all()
    assert apprenticeships.count() >= 3
    assert len({a.assessor_id for a in apprenticeships}) >= 2
    assert {a.standard.reference for a in apprenticeships} == {"ST0220"}
    assert KSB.objects.count() == 65  # the catalogue is loaded when missing


def test_seed_demo_is_idempotent(db, debug_on):
    seed()
    counts = (User.objects.count(), Organisation.objects.count(), Apprenticeship.objects.count())
    seed()
    assert (User.objects.count(), Organisation.objects.count(), Apprenticeship.objects.count()) == counts


def test_seed_demo_prints_every_login(db, debug_on):
    output = seed()
    for user in User.objects.all():
        line = next(line for line in output.splitlines() if user.email in line)
        assert DEMO_PASSWORD in line


def test_a_demo_apprentice_can_sign_in(client, db, debug_on):
    seed()
    response = client.post("/accounts/sign-in/", {"username": "amira.hussain@demo.test", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert "My apprenticeship" in client.get("/home/").content.decode()


def test_seed_demo_refuses_while_debug_is_off(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo")
    assert User.objects.count() == 0
