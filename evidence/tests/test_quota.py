"""A per-apprentice storage quota (STORAGE_QUOTA_MB): an upload that would pass it is refused, whole."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from evidence import services
from evidence.models import EvidenceFile, EvidenceItem
from evidence.tests.factories import evidence
from evidence.tests.samples import upload

TEXT = b"What I did on the ward today, and what I learned from it.\n"


@pytest.fixture
def quota(settings):
    """Sets the quota in bytes (the setting is in MB; tests need finer steps)."""

    def set_to(limit: int) -> None:
        settings.STORAGE_QUOTA = limit

    return set_to


def _note(name: str, size: int):
    return upload(name, content=(TEXT * (size // len(TEXT) + 1))[:size])


def _new_evidence_form(**overrides):
    return {"title": "Ward round", "activity_date": "2025-10-06", "evidence_type": "work_product"} | overrides


def test_an_upload_past_the_quota_is_refused_on_the_files_field_and_nothing_is_saved(
    client, apprentice, apprenticeship, quota, settings
):
    evidence(apprenticeship, files=(), evidence_type=EvidenceItem.Type.REFLECTIVE_ACCOUNT)
    services.update_draft(
        item=EvidenceItem.objects.get(),
        by=apprentice,
        title="Notes",
        activity_date=datetime.date(2025, 10, 6),
        evidence_type=EvidenceItem.Type.REFLECTIVE_ACCOUNT,
        uploads=[_note("first.txt", 1500)],
    )
    quota(2000)
    client.force_login(apprentice)
    response = client.post("/evidence/new/", _new_evidence_form(files=[_note("second.txt", 600)]))

    assert response.status_code == 200
    assert response.context["form"].errors["files"] == [
        "This file (600\xa0bytes) would take your portfolio past its storage limit: 1.5\xa0KB of 2.0\xa0KB is "
        "used. Nothing was saved. Remove files you no longer need from your drafts, or make large files smaller "
        "(photos at a lower resolution, documents saved as PDF), then add them again."
    ]
    assert EvidenceItem.objects.count() == 1
    assert list(EvidenceFile.objects.values_list("original_name", flat=True)) == ["first.txt"]
    stored = [p.name for p in (settings.MEDIA_ROOT / "evidence").iterdir()]
    assert len(stored) == 1


def test_uploads_that_fill_the_quota_exactly_are_saved(apprentice, apprenticeship, quota):
    quota(1000)
    item = evidence(apprenticeship, files=(), evidence_type=EvidenceItem.Type.REFLECTIVE_ACCOUNT)
    services.update_draft(
        item=item,
        by=apprentice,
        title="Notes",
        activity_date=datetime.date(2025, 10, 6),
        evidence_type=EvidenceItem.Type.REFLECTIVE_ACCOUNT,
        uploads=[_note("a.txt", 400), _note("b.txt", 600)],
    )
    assert services.storage_used(apprentice) == 1000


def test_several_files_are_judged_together_so_none_of_them_is_saved(apprentice, apprenticeship, quota):
    quota(1000)
    item = evidence(apprenticeship, files=(), evidence_type=EvidenceItem.Type.REFLECTIVE_ACCOUNT)
    with pytest.raises(ValidationError) as error:
        services.update_draft(
            item=item,
            by=apprentice,
            title="Notes",
            activity_date=datetime.date(2025, 10, 6),
            evidence_type=EvidenceItem.Type.REFLECTIVE_ACCOUNT,
            uploads=[_note("a.txt", 600), _note("b.txt", 600)],
        )
    assert "These files (1.2\xa0KB) would take your portfolio past its storage limit" in error.value.messages[0]
    assert not EvidenceFile.objects.exists()


def test_a_file_shared_by_several_versions_counts_once(client, apprentice, apprenticeship, assessor):
    from reviews.services import return_evidence

    item = evidence(apprenticeship, files=("notes.txt",), submit=True)
    return_evidence(item=item, by=assessor, feedback="Say what you would do differently.")
    services.revise_evidence(item=item, by=apprentice)
    assert item.versions.count() == 2
    assert services.storage_used(apprentice) == EvidenceFile.objects.get().size


def test_removing_a_file_from_a_draft_frees_its_room(apprentice, apprenticeship):
    item = evidence(apprenticeship, files=("notes.txt", "sop.pdf"))
    notes = EvidenceFile.objects.get(original_name="notes.txt")
    before = services.storage_used(apprentice)
    services.update_draft(
        item=item,
        by=apprentice,
        title="QC",
        activity_date=datetime.date(2025, 10, 6),
        evidence_type=EvidenceItem.Type.OBSERVATION,
        remove_files=[notes],
    )
    assert services.storage_used(apprentice) == before - notes.size


def test_another_apprentices_files_do_not_count(apprentice, apprenticeship, other_apprenticeship):
    evidence(other_apprenticeship, files=("sop.pdf",))
    assert services.storage_used(apprentice) == 0


def test_the_evidence_form_shows_the_storage_used(client, apprentice, apprenticeship, settings):
    evidence(apprenticeship, files=("sop.pdf",))
    used = EvidenceFile.objects.get().size
    client.force_login(apprentice)
    body = client.get("/evidence/new/").content.decode()
    assert f"Storage: {used}\xa0bytes of 2.0\xa0GB used." in body


def test_the_room_left_is_shown_when_it_gets_short(client, apprentice, apprenticeship, quota):
    quota(1000)
    item = evidence(apprenticeship, files=(), evidence_type=EvidenceItem.Type.REFLECTIVE_ACCOUNT)
    services.update_draft(
        item=item,
        by=apprentice,
        title="Notes",
        activity_date=datetime.date(2025, 10, 6),
        evidence_type=EvidenceItem.Type.REFLECTIVE_ACCOUNT,
        uploads=[_note("a.txt", 950)],
    )
    client.force_login(apprentice)
    body = client.get(f"/evidence/{item.pk}/edit/").content.decode()
    assert "Storage: 950\xa0bytes of 1000\xa0bytes used (50\xa0bytes left)." in body
