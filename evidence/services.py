"""Every write to a portfolio. Views and commands call these; nothing else writes evidence."""

from __future__ import annotations

import datetime
import errno
import logging
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q, Sum
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from portal import audit
from portal.models import Apprenticeship, Notice, User
from portal.notices import notify
from standards.models import KSB

from . import antivirus
from .models import EvidenceFile, EvidenceItem, EvidenceVersion, KSBMapping, OTJActivity
from .tasks import make_print_copy_task, scan_file_task
from .uploads import check_upload, sha256_of

logger = logging.getLogger(__name__)

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


# What the apprentice reads when the disk holding the files (or the portal's quota on it) is full.
STORAGE_FULL = (
    "The server's storage is full, so nothing was saved. Try again later; if it keeps happening, "
    "tell your training provider."
)


def _write(stored: EvidenceFile, upload: UploadedFile, written: list[str]) -> None:
    """Writes the upload to storage under the name its field gives it (as FieldFile.save does).

    The name is listed before writing: a write cut short by a full disk leaves the part it wrote
    behind, under that name, and it must go with the rest. A full disk becomes a message.
    """
    field = stored.file.field
    name = field.generate_filename(stored, upload.name)
    written.append(name)
    try:
        saved = stored.file.storage.save(name, upload, max_length=field.max_length)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ValidationError(STORAGE_FULL, code="storage_full") from error
        raise
    if saved != name:
        written.append(saved)
    stored.file = saved


def storage_used(apprentice: User) -> int:
    """Bytes the apprentice's files take up in storage, each file counted once however many versions share it.

    Files erased, or removed as infected, no longer take any room.
    """
    files = EvidenceFile.objects.filter(apprenticeship__apprentice_id=apprentice.pk, erased_at__isnull=True).exclude(
        scan_status=EvidenceFile.ScanStatus.INFECTED
    )
    return files.aggregate(total=Sum("size"))["total"] or 0


def _check_quota(apprenticeship: Apprenticeship, uploads: list[UploadedFile]) -> None:
    """Refuses uploads that would take the apprentice past STORAGE_QUOTA_MB, before anything is written.

    The error is the files field's, so the form shows it under the files chosen.
    """
    incoming = sum(upload.size or 0 for upload in uploads)
    if not incoming:
        return
    # Two uploads at once must not both fit in the room left for one: the apprentice's
    # apprenticeships are locked until this transaction ends.
    list(Apprenticeship.objects.select_for_update().filter(apprentice_id=apprenticeship.apprentice_id).values("pk"))
    used = storage_used(apprenticeship.apprentice)
    limit = settings.STORAGE_QUOTA
    if used + incoming > limit:
        these = "This file" if len(uploads) == 1 else "These files"
        raise ValidationError(
            {
                "files": [
                    f"{these} ({filesizeformat(incoming)}) would take your portfolio past its storage limit: "
                    f"{filesizeformat(used)} of {filesizeformat(limit)} is used. Nothing was saved. Remove files "
                    "you no longer need from your drafts, or make large files smaller (photos at a lower "
                    "resolution, documents saved as PDF), then add them again."
                ]
            }
        )


def _add_files(version: EvidenceVersion, uploads: Iterable[UploadedFile], written: list[str]) -> None:
    uploads = list(uploads)
    _check_quota(version.item.apprenticeship, uploads)
    scanning = bool(settings.CLAMAV_ADDRESS)
    for upload in uploads:
        stored = EvidenceFile(
            apprenticeship=version.item.apprenticeship,
            original_name=upload.name[:255],
            size=upload.size,
            content_type=check_upload(upload),
            sha256=sha256_of(upload),
            scan_status=EvidenceFile.ScanStatus.PENDING if scanning else EvidenceFile.ScanStatus.NOT_SCANNED,
        )
        _write(stored, upload, written)
        stored.save()
        version.files.add(stored)
        # After commit: a rolled-back upload has no file to scan or copy. With scanning on, the print
        # copy waits for a clean verdict: the image decoder is not given a file that may be malware.
        if scanning:
            transaction.on_commit(partial(_queue_scan, stored.pk))
        elif stored.is_image:
            transaction.on_commit(partial(make_print_copy_task.delay, stored.pk))


def _queue_scan(file_id: int) -> None:
    """Queues the scan of a file just saved. The upload has committed by now, so a broker that cannot
    be reached (or, with tasks in-process, a clamd that cannot) must not turn it into an error page:
    the file stays pending, shown as still being checked, and is logged for the operator."""
    try:
        scan_file_task.delay(file_id)
    except Exception:
        logger.exception("The virus scan of evidence file %s could not run; the file stays pending.", file_id)


# --- Virus scanning ----------------------------------------------------------------------------

QUARANTINED = (
    "“{name}” was found to contain {signature} and has been removed; nothing else in your portfolio "
    "was affected. Check your computer with up-to-date antivirus software before uploading it again."
)


def scan_file(*, file_id: int) -> EvidenceFile | None:
    """Streams a pending file to clamd and records its verdict. Running it again changes nothing.

    Raises antivirus.ScannerUnavailable when clamd cannot be reached, so that the task retries; the
    file stays pending meanwhile. The scan runs outside any transaction: nothing is locked while
    clamd reads the file.
    """
    stored = EvidenceFile.objects.filter(pk=file_id, scan_status=EvidenceFile.ScanStatus.PENDING).first()
    if stored is None:  # scanned already, or a draft's file deleted meanwhile
        return None
    if not settings.CLAMAV_ADDRESS:
        # Scanning was turned off while the file waited: it behaves as any file that is not scanned.
        return _record_verdict(stored, EvidenceFile.ScanStatus.NOT_SCANNED)
    with stored.file.open("rb") as handle:
        verdict = antivirus.scan(handle, address=settings.CLAMAV_ADDRESS)
    if verdict.infected:
        return quarantine_file(file=stored, signature=verdict.signature)
    return _record_verdict(stored, EvidenceFile.ScanStatus.CLEAN)


@transaction.atomic
def _record_verdict(stored: EvidenceFile, status: str) -> EvidenceFile:
    pending = EvidenceFile.ScanStatus.PENDING
    if not EvidenceFile.objects.filter(pk=stored.pk, scan_status=pending).update(
        scan_status=status, scanned_at=timezone.now()
    ):
        return stored
    stored.refresh_from_db()
    audit.record(
        action="file.scanned",
        actor=None,
        payload={
            "apprenticeship": stored.apprenticeship_id,
            "file": stored.pk,
            "sha256": stored.sha256,
            "result": status,
        },
    )
    if stored.is_image:
        transaction.on_commit(partial(make_print_copy_task.delay, stored.pk))
    return stored


@transaction.atomic
def quarantine_file(*, file: EvidenceFile, signature: str) -> EvidenceFile:
    """Removes an infected file: its bytes leave storage, it leaves the drafts that held it, and the
    apprentice is told what was found. Nobody else ever saw it: it was pending until now.

    The row stays, marked infected with what clamd found, for the audit log to refer to. A version
    already submitted is never changed; the file stays listed there as removed, and unreadable.
    """
    stored = EvidenceFile.objects.select_for_update().select_related("apprenticeship__apprentice").get(pk=file.pk)
    if stored.is_infected:
        return stored
    stored.scan_status = EvidenceFile.ScanStatus.INFECTED
    stored.scan_signature = signature[:200]
    stored.scanned_at = timezone.now()
    doomed = [f.name for f in (stored.file, stored.print_copy) if f]
    # The stored name stays (as for an erased file), so a reader of the row finds the bytes missing
    # rather than a row without a file.
    stored.print_copy = None
    stored.save(update_fields=["scan_status", "scan_signature", "scanned_at", "print_copy"])
    drafts = list(EvidenceVersion.objects.filter(files=stored, submitted_at__isnull=True).select_related("item"))
    for version in drafts:
        version.files.remove(stored)
    for name in doomed:
        transaction.on_commit(partial(default_storage.delete, name))
    apprenticeship = stored.apprenticeship
    audit.record(
        action="file.quarantined",
        actor=None,
        payload={
            # Ids, the hash and what was found: a file's name may name a person, and the audit log
            # can never be erased.
            "apprenticeship": apprenticeship.pk,
            "file": stored.pk,
            "sha256": stored.sha256,
            "signature": stored.scan_signature,
            "removed_from": sorted([v.item_id, v.number] for v in drafts),
        },
    )
    message = QUARANTINED.format(name=stored.original_name, signature=stored.scan_signature)
    notify(
        recipient=apprenticeship.apprentice,
        message=Truncator(message).chars(Notice._meta.get_field("message").max_length),
        url=drafts[0].item.get_absolute_url() if drafts else reverse("evidence:list"),
        email_template="evidence/file_quarantined_email",
        context={"file": stored, "signature": stored.scan_signature, "full_message": message},
    )
    return stored


def _locked_item(item: EvidenceItem) -> EvidenceItem:
    """The item, locked for a change to it, with its apprenticeship's evidence stamp renewed.

    Item first, then apprenticeship: the order every change to one item takes, the assessor's too.
    """
    item = EvidenceItem.objects.select_for_update().get(pk=item.pk)
    Apprenticeship.objects.filter(pk=item.apprenticeship_id).evidence_changed()
    return item


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
    # After the quota check, which locks all the apprentice's apprenticeships in order of id.
    Apprenticeship.objects.filter(pk=apprenticeship.pk).evidence_changed()
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
    Apprenticeship.objects.filter(pk=item.apprenticeship_id).evidence_changed()  # after the quota check's locks
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
    pending = [f.original_name for f in version.files.all() if f.is_scan_pending]
    if pending:
        problems.append(
            f"{', '.join(sorted(pending))} {'is' if len(pending) == 1 else 'are'} still being checked for viruses: "
            "submit again in a minute."
        )
    return problems


@transaction.atomic
def submit_evidence(*, item: EvidenceItem, by: User) -> EvidenceVersion:
    """Freezes the draft as a numbered version and puts the item in the assessor's queue."""
    item = _locked_item(item)
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
    item = _locked_item(item)
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
    item = _locked_item(item)
    _check_author(item.apprenticeship, by)
    if item.versions.filter(submitted_at__isnull=False).exists():
        raise ValidationError("This evidence has been submitted before, so it stays in the portfolio.")
    files = list(EvidenceFile.objects.filter(versions__item=item).distinct())
    item.delete()
    _forget_unused(files)


# --- Off-the-job hours -------------------------------------------------------------------------

# The longest an activity logged for one day can take.
MAX_OTJ_MINUTES = 24 * 60


def duration_text(minutes: int) -> str:
    """1 h 30 min, 3 h or 45 min: easier to read than 1.50 hours."""
    hours, rest = divmod(minutes, 60)
    return " ".join(part for part in (f"{hours} h" if hours else "", f"{rest} min" if rest else "") if part)


def may_log_otj(user: User, apprenticeship: Apprenticeship) -> bool:
    """The apprentice logs their own hours; their mentor or assessor may log on their behalf."""
    return user.is_authenticated and user.pk in {
        apprenticeship.apprentice_id,
        apprenticeship.mentor_id,
        apprenticeship.assessor_id,
    }


def may_change_otj(user: User, activity: OTJActivity) -> bool:
    """Whoever logged an entry, and the apprentice whose hours they are, may correct or delete it."""
    return user.is_authenticated and user.pk in {activity.logged_by_id, activity.apprenticeship.apprentice_id}


def _check_otj_open(apprenticeship: Apprenticeship) -> None:
    if apprenticeship.status in Apprenticeship.CLOSED_STATUSES:
        raise ValidationError(
            f"This apprenticeship is {apprenticeship.get_status_display().lower()}; its off-the-job log is closed."
        )


def _check_otj_content(
    *,
    apprenticeship: Apprenticeship,
    by: User,
    date: datetime.date,
    minutes: int,
    description: str,
    ksbs: Iterable[KSB],
    evidence: EvidenceItem | None,
) -> None:
    """Every problem with an entry at once, keyed by the argument at fault so a form can show it there."""
    errors: dict[str, list[str]] = {}
    if not description.strip():
        errors["description"] = ["Say what the activity was and what it taught you."]
    if date > timezone.localdate():
        errors.setdefault("date", []).append("The date is in the future: log an activity once it has happened.")
    elif date < apprenticeship.start_date:
        errors.setdefault("date", []).append(
            f"The apprenticeship started on {apprenticeship.start_date:%-d %B %Y}: "
            "off-the-job hours before then do not count."
        )
    else:
        during = apprenticeship.breaks.filter(starts_on__lte=date).filter(
            Q(ends_on__isnull=True) | Q(ends_on__gte=date)
        )
        if on_break := during.first():
            until = f"to {on_break.ends_on:%-d %B %Y}" if on_break.ends_on else "and still going on"
            errors.setdefault("date", []).append(
                f"{date:%-d %B %Y} falls in a break in learning (from {on_break.starts_on:%-d %B %Y} {until}): "
                "off-the-job hours are not logged during a break."
            )
    if not 0 < minutes <= MAX_OTJ_MINUTES:
        errors.setdefault("minutes", []).append(
            "An activity takes between 1 minute and 24 hours: split longer ones over the days they took."
        )
    foreign = sorted(ksb.code for ksb in ksbs if ksb.standard_id != apprenticeship.standard_id)
    if foreign:
        errors.setdefault("ksbs", []).append(
            f"{', '.join(foreign)} {'is' if len(foreign) == 1 else 'are'} not part of this apprenticeship's standard."
        )
    if evidence is not None and (
        evidence.apprenticeship_id != apprenticeship.pk
        or not EvidenceItem.objects.visible_to(by).filter(pk=evidence.pk).exists()
    ):
        errors.setdefault("evidence", []).append("Choose an evidence item of this apprenticeship's portfolio.")
    if errors:
        raise ValidationError(errors)


def _otj_snapshot(activity: OTJActivity) -> dict:
    """What an audit entry keeps of an entry: enough to tell what it said at the time."""
    return {
        "date": activity.date,
        "minutes": activity.minutes,
        "activity_type": activity.activity_type,
        "description": activity.description,
        "ksbs": sorted(ksb.code for ksb in activity.ksbs.all()),
        "evidence": activity.evidence_id,
    }


def _locked_activity(activity: OTJActivity) -> OTJActivity:
    return OTJActivity.objects.select_for_update().select_related("apprenticeship__apprentice").get(pk=activity.pk)


def _otj_log_url(apprenticeship: Apprenticeship) -> str:
    return reverse("evidence:otj_log", args=[apprenticeship.pk])


@transaction.atomic
def log_otj_activity(
    *,
    apprenticeship: Apprenticeship,
    by: User,
    date: datetime.date,
    minutes: int,
    activity_type: str,
    description: str,
    ksbs: Iterable[KSB] = (),
    evidence: EvidenceItem | None = None,
) -> OTJActivity:
    """Logs an off-the-job activity; it counts at once and waits for the assessor to verify it."""
    ksbs = list(ksbs)
    description = description.strip()
    if not may_log_otj(by, apprenticeship):
        raise PermissionDenied("Only the apprentice, their mentor or their assessor logs off-the-job hours.")
    _check_otj_open(apprenticeship)
    _check_otj_content(
        apprenticeship=apprenticeship,
        by=by,
        date=date,
        minutes=minutes,
        description=description,
        ksbs=ksbs,
        evidence=evidence,
    )
    activity = OTJActivity.objects.create(
        apprenticeship=apprenticeship,
        date=date,
        minutes=minutes,
        activity_type=activity_type,
        description=description,
        evidence=evidence,
        logged_by=by,
    )
    activity.ksbs.set(ksbs)
    audit.record(
        action="otj.logged",
        actor=by,
        apprenticeship=apprenticeship,
        payload={"activity": activity.pk, **_otj_snapshot(activity)},
    )
    if by.pk != apprenticeship.apprentice_id:
        notify(
            recipient=apprenticeship.apprentice,
            message=f"{by} logged {duration_text(minutes)} of off-the-job training for you on {date:%-d %b %Y}.",
            url=_otj_log_url(apprenticeship),
        )
    return activity


@transaction.atomic
def update_otj_activity(
    *,
    activity: OTJActivity,
    by: User,
    date: datetime.date,
    minutes: int,
    activity_type: str,
    description: str,
    ksbs: Iterable[KSB] = (),
    evidence: EvidenceItem | None = None,
) -> OTJActivity:
    """Corrects an entry not yet verified. A queried entry goes back to waiting for verification;
    the query it answers stays in the audit log."""
    ksbs = list(ksbs)
    description = description.strip()
    activity = _locked_activity(activity)
    apprenticeship = activity.apprenticeship
    if not may_change_otj(by, activity):
        raise PermissionDenied("Only whoever logged this entry, or the apprentice, corrects it.")
    _check_otj_open(apprenticeship)
    if not activity.is_editable:
        raise ValidationError("This entry has been verified, so it no longer changes.")
    _check_otj_content(
        apprenticeship=apprenticeship,
        by=by,
        date=date,
        minutes=minutes,
        description=description,
        ksbs=ksbs,
        evidence=evidence,
    )
    before = _otj_snapshot(activity)
    answered_query = activity.query_reason if activity.status == OTJActivity.Status.QUERIED else ""
    activity.date, activity.minutes, activity.activity_type = date, minutes, activity_type
    activity.description, activity.evidence = description, evidence
    activity.status = OTJActivity.Status.LOGGED
    activity.query_reason, activity.checked_by, activity.checked_at = "", None, None
    activity.save()
    activity.ksbs.set(ksbs)
    payload = {"activity": activity.pk, "before": before, "after": _otj_snapshot(activity)}
    if answered_query:
        payload["answered_query"] = answered_query
    audit.record(action="otj.updated", actor=by, apprenticeship=apprenticeship, payload=payload)
    if answered_query and by.pk != apprenticeship.assessor_id:
        notify(
            recipient=apprenticeship.assessor,
            message=(
                f"{apprenticeship.apprentice}'s off-the-job entry of {date:%-d %b %Y} you queried has been "
                "corrected: it is waiting for you to verify it."
            ),
            url=_otj_log_url(apprenticeship),
        )
    return activity


@transaction.atomic
def delete_otj_activity(*, activity: OTJActivity, by: User) -> None:
    """Deletes an entry not yet verified; the audit log keeps what it said."""
    activity = _locked_activity(activity)
    apprenticeship = activity.apprenticeship
    if not may_change_otj(by, activity):
        raise PermissionDenied("Only whoever logged this entry, or the apprentice, deletes it.")
    _check_otj_open(apprenticeship)
    if not activity.is_editable:
        raise ValidationError("This entry has been verified, so it stays in the log.")
    payload = {"activity": activity.pk, "status": activity.status, **_otj_snapshot(activity)}
    activity.delete()
    audit.record(action="otj.deleted", actor=by, apprenticeship=apprenticeship, payload=payload)


def _check_otj_assessor(activity: OTJActivity, by: User) -> None:
    if by.role != User.Role.ASSESSOR or activity.apprenticeship.assessor_id != by.pk:
        raise PermissionDenied("Only the apprentice's assessor verifies or queries off-the-job hours.")
    _check_otj_open(activity.apprenticeship)
    if activity.status == OTJActivity.Status.VERIFIED:
        raise ValidationError("This entry is already verified; a verification is final.")


@transaction.atomic
def verify_otj_activity(*, activity: OTJActivity, by: User) -> OTJActivity:
    """The assessor confirms the activity happened as logged; from then on it is final.

    A queried entry may be verified too, when the assessor is satisfied without a correction.
    """
    activity = _locked_activity(activity)
    _check_otj_assessor(activity, by)
    answered_query = activity.query_reason
    activity.status = OTJActivity.Status.VERIFIED
    activity.query_reason = ""
    activity.checked_by, activity.checked_at = by, timezone.now()
    activity.save(update_fields=["status", "query_reason", "checked_by", "checked_at"])
    payload = {"activity": activity.pk, "date": activity.date, "minutes": activity.minutes}
    if answered_query:
        payload["withdrawn_query"] = answered_query
    audit.record(action="otj.verified", actor=by, apprenticeship=activity.apprenticeship, payload=payload)
    return activity


@transaction.atomic
def query_otj_activity(*, activity: OTJActivity, by: User, reason: str) -> OTJActivity:
    """The assessor questions an entry; it stops counting until the apprentice corrects it."""
    reason = reason.strip()
    activity = _locked_activity(activity)
    _check_otj_assessor(activity, by)
    if activity.status == OTJActivity.Status.QUERIED:
        raise ValidationError("This entry is already queried: it waits for a correction.")
    if not reason:
        raise ValidationError({"reason": "Say what is wrong with the entry, so it can be corrected."})
    activity.status = OTJActivity.Status.QUERIED
    activity.query_reason = reason
    activity.checked_by, activity.checked_at = by, timezone.now()
    activity.save(update_fields=["status", "query_reason", "checked_by", "checked_at"])
    apprenticeship = activity.apprenticeship
    audit.record(
        action="otj.queried",
        actor=by,
        apprenticeship=apprenticeship,
        payload={"activity": activity.pk, "date": activity.date, "minutes": activity.minutes, "reason": reason},
    )
    notify(
        recipient=apprenticeship.apprentice,
        message=Truncator(
            f"Your off-the-job entry of {activity.date:%-d %b %Y} ({duration_text(activity.minutes)}) was queried: "
            f"{reason}"
        ).chars(Notice._meta.get_field("message").max_length),
        url=_otj_log_url(apprenticeship),
        email_template="evidence/otj_queried_email",
        context={"activity": activity, "duration": duration_text(activity.minutes), "reason": reason, "assessor": by},
    )
    return activity
