"""`seed_demo` gives every demo apprentice a believable portfolio, once, through the services."""

import hashlib
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from evidence.demo import DEMO_FILES, PORTFOLIOS
from evidence.models import EvidenceFile, EvidenceItem, EvidenceVersion, KSBMapping
from evidence.uploads import check_upload

DEMO_APPRENTICES = ["amira.hussain@demo.test", "ben.carter@demo.test", "chloe.evans@demo.test"]


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(db, settings) -> str:
    settings.DEBUG = True
    # Only this app's demo data: later layers add reviews on top, tested with them.
    settings.DEMO_SEEDERS = ["evidence.demo.seed_demo_evidence"]
    return seed()


def counts() -> tuple[int, int, int, int]:
    return (
        EvidenceItem.objects.count(),
        EvidenceVersion.objects.count(),
        EvidenceFile.objects.count(),
        KSBMapping.objects.count(),
    )


def test_every_demo_apprentice_has_evidence(seeded):
    for email in DEMO_APPRENTICES:
        assert EvidenceItem.objects.filter(apprenticeship__apprentice__email=email).exists(), email


def test_the_demo_portfolios_hold_drafts_and_submitted_items_but_no_review_outcomes(seeded):
    statuses = set(EvidenceItem.objects.values_list("status", flat=True))
    assert statuses == {EvidenceItem.Status.DRAFT, EvidenceItem.Status.SUBMITTED}
    for item in EvidenceItem.objects.filter(status=EvidenceItem.Status.SUBMITTED).with_versions():
        assert item.current_version.is_frozen
    for item in EvidenceItem.objects.filter(status=EvidenceItem.Status.DRAFT).with_versions():
        assert not item.current_version.is_frozen


def test_a_withdrawn_and_resubmitted_item_keeps_every_submitted_version(seeded):
    item = next(i for i in EvidenceItem.objects.with_versions() if len(i.versions.all()) == 2)
    assert item.status == EvidenceItem.Status.SUBMITTED
    assert [v.number for v in item.submitted_versions] == [1, 2]


def test_the_seeder_reports_what_it_created(seeded):
    total = sum(len(portfolio) for portfolio in PORTFOLIOS.values())
    assert f"Demo evidence: {total} items for 3 apprentices." in seeded
    assert EvidenceItem.objects.count() == total


def test_demo_evidence_is_mapped_to_the_apprenticeships_standard_and_dated_within_it(seeded):
    today = timezone.localdate()
    for version in EvidenceVersion.objects.select_related("item__apprenticeship"):
        apprenticeship = version.item.apprenticeship
        assert apprenticeship.start_date <= version.activity_date < today
        mappings = list(version.mappings.select_related("ksb"))
        assert mappings, version
        assert all(m.ksb.standard_id == apprenticeship.standard_id and m.note for m in mappings)


@pytest.mark.parametrize(("content_type", "magic_bytes"), [("image/png", b"\x89PNG"), ("application/pdf", b"%PDF")])
def test_the_apprentice_can_download_a_demo_image_and_pdf(seeded, client, content_type, magic_bytes):
    stored = EvidenceFile.objects.filter(content_type=content_type).select_related("apprenticeship__apprentice")
    assert stored.exists()
    demo_file = stored.first()
    client.force_login(demo_file.apprenticeship.apprentice)
    response = client.get(f"/evidence/files/{demo_file.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    body = b"".join(response.streaming_content)
    assert body.startswith(magic_bytes)
    assert hashlib.sha256(body).hexdigest() == demo_file.sha256


def test_seeding_twice_adds_no_evidence(seeded):
    before = counts()
    assert seed().count("Demo evidence already present.") == 1
    assert counts() == before


@pytest.mark.parametrize("path", sorted(DEMO_FILES.iterdir()), ids=lambda p: p.name)
def test_every_demo_file_passes_the_upload_check(path):
    content = path.read_bytes()
    assert len(content) < 50 * 1024
    assert check_upload(SimpleUploadedFile(path.name, content)) in {
        "image/png",
        "application/pdf",
        "text/csv",
        "text/plain",
    }
