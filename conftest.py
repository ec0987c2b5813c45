"""Persona fixtures shared by every app's tests: one provider's people, and an outsider."""

import os
from pathlib import Path

import pytest
from django.core.management import call_command

from portal.tests.factories import (
    ApprenticeFactory,
    ApprenticeshipFactory,
    AssessorFactory,
    EmployerFactory,
    IQAFactory,
    MentorFactory,
    ProviderAdminFactory,
    ProviderFactory,
)

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Argon2 is slow on purpose; tests hash hundreds of passwords."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _tasks_in_process_unless_testing_the_worker(request, settings):
    """Tests run tasks in-process even when REDIS_URL is set; `worker` tests use the real worker."""
    from portal.celery import app

    eager = request.node.get_closest_marker("worker") is None
    before = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    if eager:
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    yield
    app.conf.task_always_eager = before


@pytest.fixture(autouse=True)
def _media_in_tmp(request, settings, tmp_path: Path):
    """Uploads made by a test land in its own temporary folder, never in the project.

    Tests with a real worker share the folder the worker was started with (WORKER_MEDIA_ROOT).
    """
    media = tmp_path / "media"
    if request.node.get_closest_marker("worker") and os.environ.get("WORKER_MEDIA_ROOT"):
        media = Path(os.environ["WORKER_MEDIA_ROOT"])
    settings.MEDIA_ROOT = media
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": media},
        },
    }


@pytest.fixture
def st0220(db):
    """The published ST0220 1.0 catalogue, loaded from the project's fixture."""
    from standards.models import Standard

    call_command("loaddata", "st0220", verbosity=0)
    return Standard.objects.get(reference="ST0220", version="1.0")


@pytest.fixture
def provider(db):
    return ProviderFactory(name="Northfield College")


@pytest.fixture
def employer(db):
    return EmployerFactory(name="Riverside Hospitals")


@pytest.fixture
def assessor(provider):
    return AssessorFactory(organisation=provider, email="assessor@example.org")


@pytest.fixture
def other_assessor(provider):
    return AssessorFactory(organisation=provider, email="other.assessor@example.org")


@pytest.fixture
def mentor(employer):
    return MentorFactory(organisation=employer, email="mentor@example.org")


@pytest.fixture
def provider_admin(provider):
    return ProviderAdminFactory(organisation=provider, email="admin@example.org")


@pytest.fixture
def iqa(provider):
    return IQAFactory(organisation=provider, email="iqa@example.org")


@pytest.fixture
def apprentice(provider):
    return ApprenticeFactory(organisation=provider, email="apprentice@example.org")


@pytest.fixture
def other_apprentice(provider):
    return ApprenticeFactory(organisation=provider, email="other.apprentice@example.org")


@pytest.fixture
def apprenticeship(apprentice, provider, employer, assessor, mentor, st0220):
    return ApprenticeshipFactory(
        apprentice=apprentice, provider=provider, employer=employer, assessor=assessor, mentor=mentor, standard=st0220
    )


@pytest.fixture
def other_apprenticeship(other_apprentice, provider, employer, other_assessor, st0220):
    """The other apprentice: same provider and employer, another assessor, no mentor."""
    return ApprenticeshipFactory(
        apprentice=other_apprentice,
        provider=provider,
        employer=employer,
        assessor=other_assessor,
        mentor=None,
        standard=st0220,
    )


@pytest.fixture
def outsider_provider(db):
    return ProviderFactory(name="Elsewhere Training Ltd")


@pytest.fixture
def outsider(outsider_provider):
    """A provider admin of another provider: must see nothing of ours."""
    return ProviderAdminFactory(organisation=outsider_provider, email="outsider@example.org")


@pytest.fixture
def outsider_apprenticeship(outsider_provider, st0220):
    return ApprenticeshipFactory(
        apprentice__organisation=outsider_provider, provider=outsider_provider, standard=st0220
    )
