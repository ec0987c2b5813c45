"""Every write to a portfolio. Views and commands call these; nothing else writes evidence."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from portal.models import Apprenticeship, User
from standards.models import KSB

from .models import EvidenceFile, EvidenceItem, EvidenceVersion, KSBMapping
from .tasks import make_print_copy_task
from .uploads import check_upload, sha256_of

# Types whose written record is itself the evidence, so a file is optional.
TYPES_WITHOUT_FILES = (EvidenceItem.Type.REFLECTIVE_ACCOUNT, EvidenceItem.Type.PROFESSIONAL_DISCUSSION)


def _check_author(apprenticeship: Apprenticeship, by: User) -> None:
    if apprenticeship.apprentice_id != by.pk:
        raise PermissionDenied("Only the apprentice writes their portfolio.")
    if apprenticeship.status in Apprenticeship.CLOSED_STATUSES:
        raise ValidationError(
            f"This apprenticeship is {apprenticeship.get_status_display().lower()}; its portfolio is read-only."
        )


def _check_mappings(apprenticeship: Apprenticeship, mappings: Mapping[KSB, str]) -> None:
    foreign = [ksb.code for ksb in mappings if ksb.standard_id != apprenticeship.standard_id]
    if foreign:
        raise ValidationError(
            f"{', '.join(foreign)} {'is' if len(foreign) == 1 else 'are'} not part of this apprenticeship's standard."
        )


@contextmanager
def _stored_files():
    """Collects the names of files written to storage and deletes them if the block fails.

    The database rolls back by itself; storage does not, and an orphan file would stay.
    """
    written: list[str] = []
    try:
        yield written
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise


def _add_files(version: EvidenceVersion, uploads: Iterable[UploadedFile], written: list[str]) -> None:
    for upload in uploads:
        stored = EvidenceFile(
            apprenticeship=version.item.apprenticeship,
            original_name=upload.name[:255],
            size=upload.size,
            content_type=check_upload(upload),
            sha256=sha256_of(upload),
        )
        stored.file.save(upload.name, upload, save=False)
        written.append(stored.file.name)
        stored.save()
        version.files.add(stored)
        if stored.is_image:
            # After commit: a rolled-back upload has no file to copy.
            transaction.on_commit(partial(make_print_copy_task.delay, stored.pk))


def _set_mappings(version: EvidenceVersion, mappings: Mapping[KSB, str]) -> None:
    version.mappings.all().delete()
    KSBMapping.objects.bulk_create(
        KSBMapping(version=version, ksb=ksb, note=note.strip()) for ksb, note in mappings.items()
    )


def _forget_unused(files: Iterable[EvidenceFile]) -> None:
    """Deletes files no version includes any more: only ever files of drafts."""
    for stored in files:
        if not stored.versions.exists():
            names = [f.name for f in (stored.file, stored.print_copy) if f]
            stored.delete()
            for name in names:
                transaction.on_commit(partial(default_storage.delete, name))


@transaction.atomic
def create_evidence(
    *,
    apprenticeship: Apprenticeship,
    by: User,
    title: str,
    activity_date: datetime.date,
    evidence_type: str,
    reflection: str = "",
    mappings: Mapping[KSB, str] | None = None,
    uploads: Iterable[UploadedFile] = (),
) -> EvidenceItem:
    """Starts a new evidence item as a draft (version 1)."""
    mappings = mappings or {}
    _check_author(apprenticeship, by)
    _check_mappings(apprenticeship, mappings)
    with _stored_files() as written:
        item = EvidenceItem.objects.create(apprenticeship=apprenticeship)
        version = EvidenceVersion.objects.create(
            item=item,
            number=1,
            title=title,
            activity_date=activity_date,
            evidence_type=evidence_type,
            reflection=reflection,
        )
        _set_mappings(version, mappings)
        _add_files(version, uploads, written)
    return item


@transaction.atomic
def update_draft(
    *,
    item: EvidenceItem,
    by: User,
    title: str,
    activity_date: datetime.date,
    evidence_type: str,
    reflection: str = "",
    mappings: Mapping[KSB, str] | None = None,
    uploads: Iterable[UploadedFile] = (),
    remove_files: Iterable[EvidenceFile] = (),
) -> EvidenceVersion:
    """Edits the draft version in place: it has not been submitted, so nobody has relied on it."""
    mappings = mappings or {}
    item = EvidenceItem.objects.select_for_update().get(pk=item.pk)
    _check_author(item.apprenticeship, by)
    if not item.is_editable:
        raise ValidationError(f"This evidence is {item.get_status_display().lower()}, so it cannot be edited.")
    _check_mappings(item.apprenticeship, mappings)
    version = item.versions.order_by("-number").first()
    with _stored_files() as written:
        version.title = title
        version.activity_date = activity_date
        version.evidence_type = evidence_type
        version.reflection = reflection
        version.save()
        _set_mappings(version, mappings)
        removed = [f for f in remove_files if version.files.filter(pk=f.pk).exists()]
        version.files.remove(*removed)
        _forget_unused(removed)
        _add_files(version, uploads, written)
    item.save(update_fields=["updated_at"])
    return version


def submission_problems(version: EvidenceVersion, evidence_type: str | None = None) -> list[str]:
    """What stops a version being submitted, in words the apprentice can act on."""
    problems = []
    mappings = list(version.mappings.select_related("ksb"))
    if not version.reflection.strip():
        problems.append("Write a reflection: what you did and what you learned.")
    if not mappings:
        problems.append("Map the evidence to at least one KSB.")
    missing_notes = [m.ksb.code for m in mappings if not m.note.strip()]
    if missing_notes:
        problems.append(f"Add a note of how the evidence shows {', '.join(sorted(missing_notes))}.")
    if (evidence_type or version.evidence_type) not in TYPES_WITHOUT_FILES and not version.files.exists():
        problems.append("Add at least one file.")
    return problems


@transaction.atomic
def submit_evidence(*, item: EvidenceItem, by: User) -> EvidenceVersion:
    """Freezes the draft as a numbered version and puts the item in the assessor's queue."""
    item = EvidenceItem.objects.select_for_update().get(pk=item.pk)
    _check_author(item.apprenticeship, by)
    version = item.versions.order_by("-number").first()
    item.submit()
    problems = submission_problems(version)
    if problems:
        raise ValidationError(problems)
    version.submitted_at = timezone.now()
    version.save(update_fields=["submitted_at"])
    item.save(update_fields=["status", "updated_at"])
    return version


def _start_new_draft(item: EvidenceItem) -> EvidenceVersion:
    """Copies the newest version into a new draft; the copied version stays as it was."""
    previous = item.versions.order_by("-number").first()
    draft = EvidenceVersion.objects.create(
        item=item,
        number=previous.number + 1,
        title=previous.title,
        activity_date=previous.activity_date,
        evidence_type=previous.evidence_type,
        reflection=previous.reflection,
    )
    draft.files.set(previous.files.all())
    KSBMapping.objects.bulk_create(
        KSBMapping(version=draft, ksb_id=m.ksb_id, note=m.note) for m in previous.mappings.all()
    )
    return draft


def _reopen(item: EvidenceItem, by: User, transition: str) -> EvidenceVersion:
    item = EvidenceItem.objects.select_for_update().get(pk=item.pk)
    _check_author(item.apprenticeship, by)
    getattr(item, transition)()
    item.save(update_fields=["status", "updated_at"])
    return _start_new_draft(item)


@transaction.atomic
def withdraw_evidence(*, item: EvidenceItem, by: User) -> EvidenceVersion:
    """Takes back a submission nobody has reviewed yet; the submitted version stays on record."""
    return _reopen(item, by, "withdraw")


@transaction.atomic
def revise_evidence(*, item: EvidenceItem, by: User) -> EvidenceVersion:
    """Starts the next version of a returned item, ready to act on the feedback."""
    return _reopen(item, by, "revise")


@transaction.atomic
def delete_draft(*, item: EvidenceItem, by: User) -> None:
    """Deletes an item that was never submitted, with its files."""
    item = EvidenceItem.objects.select_for_update().get(pk=item.pk)
    _check_author(item.apprenticeship, by)
    if item.versions.filter(submitted_at__isnull=False).exists():
        raise ValidationError("This evidence has been submitted before, so it stays in the portfolio.")
    files = list(EvidenceFile.objects.filter(versions__item=item).distinct())
    item.delete()
    _forget_unused(files)
