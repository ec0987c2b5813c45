"""Erasing a withdrawn apprentice's personal data while keeping the record funding audits need.

What goes: the person's name and email (replaced by a pseudonym), their password and sign-in
records, every piece of free text written by them or about them (titles, reflections, notes,
feedback, comments, off-the-job descriptions, review and plan text, reasons), their evidence files
and print copies, their notices and every export that carries their data.

What stays: the rows themselves with their dates, statuses, figures and links: the standard,
provider, employer, start and end dates, off-the-job dates and minutes, KSB mappings and sign-offs
with their dates and the SHA-256 of every file relied on, the progress reviews' captured figures
and signatures, the training plans' hours, dates and end-point assessment organisation, and the
audit log. Audit entries are never changed (the chain would break); what personal data their
payloads hold is set out under "Data protection" in the README.
"""

from __future__ import annotations

import json
import logging
import re
import zipfile
from dataclasses import asdict, dataclass
from functools import partial

from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone

from evidence.models import EvidenceFile, EvidenceItem, EvidenceVersion, KSBMapping, OTJActivity
from portal import audit
from portal.models import Apprenticeship, AuditEntry, BreakInLearning, Notice, User

from .models import (
    Decision,
    Export,
    GatewayConfirmation,
    IQAReview,
    KSBJudgement,
    ProgressReview,
    ReviewAction,
    SentReminder,
    SignOff,
    TrainingPlan,
)

log = logging.getLogger(__name__)

ERASED = "[erased]"
ERASED_ACTION = "apprenticeship.personal_data_erased"


def pseudonym(person: User) -> dict[str, str]:
    """What the account is called afterwards: unique, and saying plainly what happened."""
    return {"first_name": "Erased", "last_name": f"apprentice {person.pk}", "email": f"erased-{person.pk}@invalid"}


def erasure_entry(apprenticeship: Apprenticeship) -> AuditEntry | None:
    """The audit entry of the erasure, when this apprenticeship's personal data has been erased."""
    return AuditEntry.objects.filter(apprenticeship=apprenticeship, action=ERASED_ACTION).first()


def may_erase(user: User, apprenticeship: Apprenticeship) -> bool:
    """A provider admin of the apprenticeship's own provider."""
    return (
        user.is_authenticated
        and user.is_active
        and user.role == User.Role.PROVIDER_ADMIN
        and user.organisation_id == apprenticeship.provider_id
    )


def erasure_problems(apprenticeship: Apprenticeship) -> list[str]:
    """Why this apprenticeship's personal data cannot be erased now; empty when it can.

    The account is the person's across all their apprenticeships, so every one of them must be
    withdrawn, and with this provider, which then erases them all together.
    """
    entry = erasure_entry(apprenticeship)
    if entry is not None:
        return [f"This apprenticeship's personal data was erased on {timezone.localtime(entry.created_at):%-d %b %Y}."]
    problems = []
    if apprenticeship.status != Apprenticeship.Status.WITHDRAWN:
        problems.append(
            "Only a withdrawn apprenticeship's personal data can be erased: "
            f"this one is {apprenticeship.get_status_display().lower()}."
        )
    others = (
        Apprenticeship.objects.filter(apprentice_id=apprenticeship.apprentice_id)
        .exclude(pk=apprenticeship.pk)
        .select_related("standard")
    )
    for other in others:
        standard = f"{other.standard.reference} (started {other.start_date:%-d %b %Y})"
        if other.status != Apprenticeship.Status.WITHDRAWN:
            problems.append(
                f"They also have an apprenticeship on {standard} that is {other.get_status_display().lower()}: "
                "their account stays while it is not withdrawn."
            )
        elif other.provider_id != apprenticeship.provider_id:
            problems.append(
                f"They also have an apprenticeship on {standard} with another provider, which holds its own record."
            )
    # A file a worker is still writing would outlive the erasure with their data in it.
    busy = Export.objects.filter(state__in=[Export.State.QUEUED, Export.State.RUNNING]).filter(
        Q(apprenticeship__apprentice_id=apprenticeship.apprentice_id)
        | Q(requested_by_id=apprenticeship.apprentice_id)
        | Q(kind=Export.Kind.COHORT, provider_id=apprenticeship.provider_id)
    )
    if busy.exists():
        problems.append("An export that may hold their portfolio is being made: erase once it has finished.")
    return problems


@dataclass
class ErasureCounts:
    """What an erasure takes away, for the confirmation page and the audit entry."""

    evidence_items: int = 0
    evidence_versions: int = 0
    files: int = 0
    file_bytes: int = 0
    otj_activities: int = 0
    progress_reviews: int = 0
    training_plans: int = 0
    sign_offs: int = 0
    notices: int = 0
    exports: int = 0


def erasure_scope(apprenticeship: Apprenticeship) -> list[Apprenticeship]:
    """Every apprenticeship of the person: erasing the account erases all of them."""
    return list(Apprenticeship.objects.filter(apprentice_id=apprenticeship.apprentice_id).with_people().order_by("pk"))


def erasure_counts(apprenticeships: list[Apprenticeship]) -> ErasureCounts:
    person_ids = {a.apprentice_id for a in apprenticeships}
    files = EvidenceFile.objects.filter(apprenticeship__in=apprenticeships, erased_at__isnull=True)
    return ErasureCounts(
        evidence_items=EvidenceItem.objects.filter(apprenticeship__in=apprenticeships).count(),
        evidence_versions=EvidenceVersion.objects.filter(item__apprenticeship__in=apprenticeships).count(),
        files=files.count(),
        file_bytes=files.aggregate(total=Sum("size"))["total"] or 0,
        otj_activities=OTJActivity.objects.filter(apprenticeship__in=apprenticeships).count(),
        progress_reviews=ProgressReview.objects.filter(apprenticeship__in=apprenticeships).count(),
        training_plans=TrainingPlan.objects.filter(apprenticeship__in=apprenticeships).count(),
        sign_offs=SignOff.objects.filter(apprenticeship__in=apprenticeships).count(),
        notices=Notice.objects.filter(recipient_id__in=person_ids).count(),
        exports=Export.objects.filter(apprenticeship__in=apprenticeships).count(),
    )


def _names_in(text: str, person: User) -> bool:
    """Whether the text names the person: their email, or any part of their name as a word."""
    lowered = text.lower()
    if person.email and person.email.lower() in lowered:
        return True
    parts = {p for p in re.split(r"\s+", f"{person.first_name} {person.last_name}".strip().lower()) if len(p) > 1}
    return any(re.search(rf"(?<!\w){re.escape(part)}(?!\w)", lowered) for part in parts)


@transaction.atomic
def erase_personal_data(*, apprenticeship: Apprenticeship, by: User, reason: str) -> ErasureCounts:
    """Erases the personal data of a withdrawn apprentice, leaving the anonymised record.

    Files leave storage once the transaction commits, so a failure part-way erases nothing.
    """
    apprenticeship = Apprenticeship.objects.select_for_update().get(pk=apprenticeship.pk)
    if not may_erase(by, apprenticeship):
        raise PermissionDenied("Only a provider admin of the apprentice's provider erases their personal data.")
    person = User.objects.select_for_update().get(pk=apprenticeship.apprentice_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the personal data is erased, e.g. the date the apprentice asked."})
    if _names_in(reason, person):
        raise ValidationError(
            {"reason": "Leave the apprentice's name and email out of the reason: it stays in the audit log for good."}
        )
    problems = erasure_problems(apprenticeship)
    if problems:
        raise ValidationError(problems)
    scope = list(Apprenticeship.objects.select_for_update().filter(apprentice=person).order_by("pk"))
    counts = {a.pk: erasure_counts([a]) for a in scope}
    files_of = {a.pk: sorted(EvidenceFile.objects.filter(apprenticeship=a).values_list("pk", flat=True)) for a in scope}

    doomed: list[str] = []
    _erase_notices(person, scope)
    doomed += _erase_exports(person, scope)
    doomed += _erase_files(scope)
    _erase_text(scope)
    _erase_account(person)
    transaction.on_commit(partial(_delete_from_storage, doomed))

    for a in scope:
        audit.record(
            action=ERASED_ACTION,
            actor=by,
            apprenticeship=a,
            payload={"person": person.pk, "reason": reason, "erased": asdict(counts[a.pk]), "files": files_of[a.pk]},
        )
    total = ErasureCounts()
    for c in counts.values():
        for name, value in asdict(c).items():
            setattr(total, name, getattr(total, name) + value)
    return total


def _erase(queryset, *fields: str) -> None:
    """Replaces each field's text with ERASED where there is any; an empty field stays empty."""
    for name in fields:
        queryset.exclude(**{name: ""}).update(**{name: ERASED})


def _erase_text(scope: list[Apprenticeship]) -> None:
    versions = EvidenceVersion.objects.filter(item__apprenticeship__in=scope)
    _erase(versions, "title", "reflection")
    _erase(KSBMapping.objects.filter(version__in=versions), "note")
    decisions = Decision.objects.filter(version__in=versions)
    _erase(decisions, "feedback")
    _erase(KSBJudgement.objects.filter(decision__in=decisions), "comment")
    sign_offs = SignOff.objects.filter(apprenticeship__in=scope)
    _erase(sign_offs, "comment", "revoke_reason")
    _erase(IQAReview.objects.filter(Q(decision__in=decisions) | Q(sign_off__in=sign_offs)), "comment")
    _erase(OTJActivity.objects.filter(apprenticeship__in=scope), "description", "query_reason")
    _erase(BreakInLearning.objects.filter(apprenticeship__in=scope), "reason")
    reviews = ProgressReview.objects.filter(apprenticeship__in=scope)
    _erase(
        reviews,
        "actions_since_last",
        "progress_against_plan",
        "plan_updates",
        "wellbeing",
        "concerns",
        # The designated safeguarding lead keeps the provider's safeguarding record; the portal
        # only told them of the concern, so its copy of the details goes with the rest.
        "safeguarding_details",
    )
    _erase(ReviewAction.objects.filter(review__in=reviews), "description")
    _erase(TrainingPlan.objects.filter(apprenticeship__in=scope), "text", "english_evidence", "maths_evidence")
    _erase(GatewayConfirmation.objects.filter(apprenticeship__in=scope), "comment")


def _erase_files(scope: list[Apprenticeship]) -> list[str]:
    """Marks every file erased, keeping its size and SHA-256; returns what to delete from storage."""
    files = EvidenceFile.objects.filter(apprenticeship__in=scope, erased_at__isnull=True)
    doomed = []
    for name, copy in files.values_list("file", "print_copy"):
        doomed += [n for n in (name, copy) if n]
    # The stored name is random and stays, so that a reader of the row is told "not found" as for
    # any file gone from storage, rather than meeting a row without a file.
    files.update(erased_at=timezone.now(), original_name=ERASED, print_copy=None)
    return doomed


def _erase_notices(person: User, scope: list[Apprenticeship]) -> None:
    """The person's own notices, and any of other people's that name them or point at their record."""
    items = set(EvidenceItem.objects.filter(apprenticeship__in=scope).values_list("pk", flat=True))
    pages = {
        reverse("reviews:apprenticeship", args=[0]): {a.pk for a in scope},
        reverse("evidence:detail", args=[0]): items,
        reverse("reviews:review", args=[0]): items,
        reverse("reviews:progress_review", args=[0]): set(
            ProgressReview.objects.filter(apprenticeship__in=scope).values_list("pk", flat=True)
        ),
        reverse("reviews:training_plan_version", args=[0]): set(
            TrainingPlan.objects.filter(apprenticeship__in=scope).values_list("pk", flat=True)
        ),
    }
    # "/evidence/0/" -> "/evidence/": the part of each path before the id.
    prefixes = {url[: -len("0/")]: ids for url, ids in pages.items()}
    named = Q(recipient=person)
    name = person.get_full_name().strip()
    if name:
        named |= Q(message__icontains=name)
    if person.email:
        named |= Q(message__icontains=person.email)
    doomed = set(Notice.objects.filter(named).values_list("pk", flat=True))
    linked = Q()
    for prefix in prefixes:
        linked |= Q(url__startswith=prefix)
    for pk, url in Notice.objects.filter(linked).values_list("pk", "url"):
        for prefix, ids in prefixes.items():
            match = re.match(rf"{re.escape(prefix)}(\d+)/", url)
            if match and int(match[1]) in ids:
                doomed.add(pk)
    Notice.objects.filter(pk__in=doomed).delete()
    SentReminder.objects.filter(recipient=person).delete()


def _erase_exports(person: User, scope: list[Apprenticeship]) -> list[str]:
    """Deletes the person's portfolio and personal data exports, and empties cohort zips holding them."""
    doomed = []
    own = Export.objects.filter(Q(apprenticeship__in=scope) | Q(requested_by=person))
    doomed += [name for name in own.values_list("file", flat=True) if name]
    own.delete()
    cohorts = Export.objects.filter(
        kind=Export.Kind.COHORT, provider_id__in={a.provider_id for a in scope}, state=Export.State.DONE
    ).exclude(file="")
    for export in cohorts:
        if _cohort_holds(export, scope):
            doomed.append(export.file.name)
            Export.objects.filter(pk=export.pk).update(
                state=Export.State.FAILED,
                file="",
                size=None,
                error="This zip was deleted because it held the portfolio of an apprentice whose personal data "
                "has since been erased. Export the cohort again.",
            )
    return doomed


def _cohort_holds(export: Export, scope: list[Apprenticeship]) -> bool:
    """Whether a cohort zip holds one of these portfolios: by its PDFs' names ('<id>-…') or its manifest."""
    try:
        with default_storage.open(export.file.name, "rb") as handle, zipfile.ZipFile(handle) as archive:
            names = archive.namelist()
            manifest = json.loads(archive.read("manifest.json")) if "manifest.json" in names else {}
    except (FileNotFoundError, zipfile.BadZipFile, ValueError):
        return False
    if any(name.startswith(tuple(f"{a.pk}-" for a in scope)) for name in names):
        return True
    emails = {a.apprentice.email.lower() for a in scope}
    return any(str(p.get("email", "")).lower() in emails for p in manifest.get("portfolios", []))


def _erase_account(person: User) -> None:
    """The account keeps its id, so the rows that point at it stay, under a pseudonym nobody can sign in as."""
    old_email = person.email
    old_name = person.get_full_name().strip()
    for field, value in pseudonym(person).items():
        setattr(person, field, value)
    person.set_unusable_password()
    person.is_active = False
    person.last_login = None
    person.save(update_fields=["first_name", "last_name", "email", "password", "is_active", "last_login"])
    person.groups.clear()
    person.user_permissions.clear()
    _erase_sign_in_records(person, old_email, old_name)


def _erase_sign_in_records(person: User, old_email: str, old_name: str) -> None:
    """Failed and successful sign-ins (address, browser), second-factor devices and admin log names."""
    if apps.is_installed("axes"):
        for label in ("AccessAttempt", "AccessLog", "AccessFailureLog"):
            try:
                model = apps.get_model("axes", label)
            except LookupError:
                continue
            model.objects.filter(username__iexact=old_email).delete()
    if apps.is_installed("django_otp"):
        from django_otp import devices_for_user

        for device in devices_for_user(person, confirmed=None):
            device.delete()
    if apps.is_installed("django.contrib.admin"):
        from django.contrib.admin.models import LogEntry

        named = Q(object_repr__icontains=old_email)
        if old_name:
            named |= Q(object_repr__icontains=old_name) | Q(change_message__icontains=old_name)
        LogEntry.objects.filter(named).update(object_repr=ERASED, change_message=ERASED)


def _delete_from_storage(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            # The rows already say erased: an operator must remove what is left, so say which.
            log.error("erasure: could not delete %s from storage", name)
