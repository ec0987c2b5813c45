"""Writing a portfolio: drafts, submission, versions, files on disk, and what is refused."""

import datetime
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from evidence import services
from evidence.models import EvidenceFile, EvidenceItem, EvidenceVersion, KSBMapping
from evidence.tests.factories import evidence
from evidence.tests.samples import upload
from standards.tests.factories import standard_with_ksbs


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def content(apprenticeship, **overrides):
    fields = {
        "apprenticeship": apprenticeship,
        "by": apprenticeship.apprentice,
        "title": "Calibrating the pipettes",
        "activity_date": datetime.date(2025, 11, 3),
        "evidence_type": "work_product",
        "reflection": "I calibrated six pipettes and recorded the results.",
    }
    return fields | overrides


def ksb(apprenticeship, code):
    return apprenticeship.standard.ksbs.get(kind=code[0], number=int(code[1:]))


def test_new_evidence_is_a_draft_version_1_with_files_and_mappings(apprenticeship, settings):
    item = evidence(apprenticeship, codes=("S13", "S14"), files=("chart.png", "sop.pdf"))
    assert item.status == EvidenceItem.Status.DRAFT
    version = item.versions.get()
    assert version.number == 1 and version.submitted_at is None
    assert sorted(m.ksb.code for m in version.mappings.all()) == ["S13", "S14"]
    files = {f.original_name: f for f in version.files.all()}
    assert files["chart.png"].content_type == "image/png"
    assert files["sop.pdf"].content_type == "application/pdf"
    assert len(files["sop.pdf"].sha256) == 64
    # Stored under random names: the original name never reaches the disk.
    on_disk = [p.name for p in stored_files(settings)]
    assert len(on_disk) == 2
    assert not any("chart" in name or "sop" in name for name in on_disk)


def test_submitting_freezes_the_version(apprenticeship):
    item = evidence(apprenticeship)
    version = services.submit_evidence(item=item, by=apprenticeship.apprentice)
    item.refresh_from_db()
    assert item.status == EvidenceItem.Status.SUBMITTED
    assert version.submitted_at is not None
    with pytest.raises(ValidationError, match="submitted, so it cannot be edited"):
        services.update_draft(item=item, **{k: v for k, v in content(apprenticeship).items() if k != "apprenticeship"})
    version.refresh_from_db()
    assert version.title == "Internal quality control on the haematology analyser"


def test_submission_lists_everything_missing_and_keeps_the_draft(apprenticeship):
    item = services.create_evidence(
        **content(apprenticeship, reflection="  ", mappings={ksb(apprenticeship, "K1"): ""})
    )
    with pytest.raises(ValidationError) as error:
        services.submit_evidence(item=item, by=apprenticeship.apprentice)
    assert error.value.messages == [
        "Write a reflection: what you did and what you learned.",
        "Add a note of how the evidence shows K1.",
        "Add at least one file.",
    ]
    item.refresh_from_db()
    assert item.status == EvidenceItem.Status.DRAFT
    assert item.versions.get().submitted_at is None


def test_submission_needs_at_least_one_ksb(apprenticeship):
    item = services.create_evidence(**content(apprenticeship, uploads=[upload("a.pdf")]))
    with pytest.raises(ValidationError, match="Map the evidence to at least one KSB."):
        services.submit_evidence(item=item, by=apprenticeship.apprentice)


def test_a_reflective_account_needs_no_file(apprenticeship):
    item = evidence(apprenticeship, files=(), evidence_type="reflective_account", submit=True)
    assert item.status == EvidenceItem.Status.SUBMITTED


def test_withdrawing_keeps_the_submitted_version_and_starts_a_new_draft(apprenticeship):
    item = evidence(apprenticeship, codes=("K1", "S18"), submit=True)
    draft = services.withdraw_evidence(item=item, by=apprenticeship.apprentice)
    item.refresh_from_db()
    assert item.status == EvidenceItem.Status.DRAFT
    assert draft.number == 2 and draft.submitted_at is None
    first = item.versions.get(number=1)
    assert first.submitted_at is not None
    assert sorted(m.ksb.code for m in draft.mappings.all()) == ["K1", "S18"]
    assert list(draft.files.all()) == list(first.files.all())


def test_revising_a_returned_item_leaves_the_earlier_version_intact(apprenticeship, settings):
    item = evidence(apprenticeship, codes=("K1",), files=("chart.png", "sop.pdf"), submit=True)
    item.return_for_revision()
    item.save()
    services.revise_evidence(item=item, by=apprenticeship.apprentice)
    first = item.versions.get(number=1)
    chart = first.files.get(original_name="chart.png")
    fields = content(apprenticeship, title="Revised", reflection="Now with the error analysis.")
    del fields["apprenticeship"]
    services.update_draft(
        item=item,
        **fields,
        mappings={ksb(apprenticeship, "S14"): "Fault-finding on pipette 4"},
        remove_files=[chart],
        uploads=[upload("results.csv")],
    )
    first.refresh_from_db()
    second = item.versions.get(number=2)
    assert first.title == "Internal quality control on the haematology analyser"
    assert first.reflection.startswith("I ran the morning QC")
    assert sorted(f.original_name for f in first.files.all()) == ["chart.png", "sop.pdf"]
    assert [m.ksb.code for m in first.mappings.all()] == ["K1"]
    assert second.title == "Revised"
    assert sorted(f.original_name for f in second.files.all()) == ["results.csv", "sop.pdf"]
    assert [m.ksb.code for m in second.mappings.all()] == ["S14"]
    # The chart is still in version 1, so it stays on disk.
    assert EvidenceFile.objects.filter(pk=chart.pk).exists()
    assert Path(chart.file.path).exists()


def test_removing_a_file_only_the_draft_had_deletes_it(apprenticeship, settings, django_capture_on_commit_callbacks):
    item = evidence(apprenticeship, files=("chart.png",))
    chart = item.versions.get().files.get()
    path = Path(chart.file.path)
    fields = content(apprenticeship)
    del fields["apprenticeship"]
    with django_capture_on_commit_callbacks(execute=True):
        services.update_draft(item=item, **fields, remove_files=[chart])
    assert not EvidenceFile.objects.filter(pk=chart.pk).exists()
    assert not path.exists()


def test_a_ksb_of_another_standard_cannot_be_mapped(apprenticeship, settings):
    foreign = standard_with_ksbs(reference="ST0248").ksbs.first()
    with pytest.raises(ValidationError, match="K1 is not part of this apprenticeship's standard."):
        services.create_evidence(**content(apprenticeship, mappings={foreign: "x"}, uploads=[upload("a.pdf")]))
    assert EvidenceItem.objects.count() == 0
    assert stored_files(settings) == []


def test_a_failed_save_leaves_no_orphan_file_and_no_row(apprenticeship, settings):
    uploads = [upload("good.pdf"), upload("bad.pdf", "exe")]
    with pytest.raises(ValidationError):
        services.create_evidence(**content(apprenticeship, uploads=uploads))
    assert EvidenceItem.objects.count() == 0
    assert EvidenceVersion.objects.count() == 0
    assert EvidenceFile.objects.count() == 0
    assert stored_files(settings) == []


def test_a_failed_edit_leaves_the_draft_as_it_was(apprenticeship, settings):
    item = evidence(apprenticeship, files=("chart.png",))
    before = stored_files(settings)
    fields = content(apprenticeship, title="Changed")
    del fields["apprenticeship"]
    with pytest.raises(ValidationError):
        services.update_draft(item=item, **fields, uploads=[upload("ok.pdf"), upload("bad.txt", "html")])
    assert item.versions.get().title == "Internal quality control on the haematology analyser"
    assert stored_files(settings) == before


def test_only_the_apprentice_writes_their_portfolio(apprenticeship, other_apprentice, assessor):
    for person in (other_apprentice, assessor):
        with pytest.raises(PermissionDenied):
            services.create_evidence(**content(apprenticeship, by=person))
    item = evidence(apprenticeship)
    for action in (services.submit_evidence, services.delete_draft):
        with pytest.raises(PermissionDenied):
            action(item=item, by=other_apprentice)


def test_a_withdrawn_apprenticeship_is_read_only(apprenticeship):
    item = evidence(apprenticeship)
    apprenticeship.status = "withdrawn"
    apprenticeship.save()
    with pytest.raises(ValidationError, match="withdrawn; its portfolio is read-only"):
        services.create_evidence(**content(apprenticeship))
    with pytest.raises(ValidationError, match="read-only"):
        services.submit_evidence(item=item, by=apprenticeship.apprentice)


def test_a_draft_never_submitted_can_be_deleted_with_its_files(
    apprenticeship, settings, django_capture_on_commit_callbacks
):
    item = evidence(apprenticeship, files=("chart.png", "sop.pdf"))
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_draft(item=item, by=apprenticeship.apprentice)
    assert EvidenceItem.objects.count() == 0
    assert KSBMapping.objects.count() == 0
    assert EvidenceFile.objects.count() == 0
    assert stored_files(settings) == []


def test_evidence_once_submitted_cannot_be_deleted(apprenticeship):
    item = evidence(apprenticeship, submit=True)
    services.withdraw_evidence(item=item, by=apprenticeship.apprentice)
    with pytest.raises(ValidationError, match="submitted before, so it stays"):
        services.delete_draft(item=item, by=apprenticeship.apprentice)
    assert EvidenceItem.objects.filter(pk=item.pk).exists()
