"""Persona fixtures shared by every app's tests: one provider's people, and an outsider."""

import os
import uuid
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


def _s3_backend_for_test(settings, prefix: str) -> dict:
    """The deployment's own object storage settings (MEDIA_STORAGE=s3), with the test's key prefix."""
    if settings.MEDIA_STORAGE != "s3":
        pytest.exit("TEST_MEDIA_STORAGE=s3 needs MEDIA_STORAGE=s3 and the S3_* settings (see .ci/run).", returncode=4)
    configured = settings.STORAGES["default"]
    return {**configured, "OPTIONS": {**configured["OPTIONS"], "location": prefix}}


@pytest.fixture(autouse=True)
def _media_in_tmp(request, settings, tmp_path: Path):
    """Uploads made by a test land in its own temporary folder, never in the project.

    Tests with a real worker share the folder the worker was started with (WORKER_MEDIA_ROOT).

    With TEST_MEDIA_STORAGE=s3 (CI sets it, with MEDIA_STORAGE=s3, for the tests marked `storage`
    against a local moto server), files go to the bucket the S3_* settings name, through the same
    backend and options as a deployment, under a key prefix of the test's own that is emptied
    afterwards. MEDIA_ROOT still points at an empty temporary folder then, and must stay empty: a
    file written there means some code went past the storage API to the file system, which would
    lose files on a deployment with several hosts.
    """
    media = tmp_path / "media"
    worker = request.node.get_closest_marker("worker") is not None
    if worker and os.environ.get("WORKER_MEDIA_ROOT"):
        media = Path(os.environ["WORKER_MEDIA_ROOT"])
    settings.MEDIA_ROOT = media
    if os.environ.get("TEST_MEDIA_STORAGE", "local") == "s3" and not worker:
        prefix = f"tests/{uuid.uuid4().hex}"
        settings.STORAGES = {**settings.STORAGES, "default": _s3_backend_for_test(settings, prefix)}
        yield
        from django.core.files.storage import storages

        storages["default"].bucket.objects.filter(Prefix=f"{prefix}/").delete()
        written = [str(p.relative_to(media)) for p in media.rglob("*") if p.is_file()] if media.exists() else []
        assert not written, f"written to MEDIA_ROOT instead of object storage: {written}"
        return
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": media},
        },
    }
    yield


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
