"""Every judgement on a portfolio: decisions, sign-offs, revocations and IQA reviews.

Each writes in one transaction, appends its audit entry in that transaction, and tells the
apprentice once it has committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from evidence.models import EvidenceItem, EvidenceVersion
from evidence.uploads import sha256_of
from portal import audit
from portal.models import Apprenticeship, User
from portal.notices import notify
from standards.models import KSB

from .models import Decision, IQAReview, KSBJudgement, SignedFile, SignOff


def _check_assessor(apprenticeship: Apprenticeship, by: User) -> None:
    if by.role != User.Role.ASSESSOR or apprenticeship.assessor_id != by.pk:
        raise PermissionDenied("Only the apprentice's assessor makes this decision.")


def _locked_submitted_item(item: EvidenceItem) -> tuple[EvidenceItem, EvidenceVersion]:
    item = EvidenceItem.objects.select_for_update().select_related("apprenticeship__apprentice").get(pk=item.pk)
    # The item's row first, then the apprenticeship's: the order the apprentice's own changes take.
    Apprenticeship.objects.filter(pk=item.apprenticeship_id).evidence_changed()
    version = item.versions.order_by("-number").first()
    return item, version


@transaction.atomic
def accept_evidence(
    *, item: EvidenceItem, by: User, judgements: Mapping[int, tuple[bool, str]] | None = None, feedback: str = ""
) -> Decision:
    """Accepts the submitted version, confirming or unticking each KSB it was mapped to.

    `judgements` maps a KSB mapping's id to (confirmed, comment); a mapping left out is confirmed.
    """
    item, version = _locked_submitted_item(item)
    _check_assessor(item.apprenticeship, by)
    item.accept()
    judgements = judgements or {}
    mappings = list(version.mappings.select_related("ksb"))
    unknown = set(judgements) - {m.pk for m in mappings}
    if unknown:
        raise ValidationError("Some KSBs judged are not mapped on this version of the evidence.")
    verdicts = {m.pk: judgements.get(m.pk, (True, "")) for m in mappings}
    if not any(confirmed for confirmed, _ in verdicts.values()):
        raise ValidationError("Confirm at least one KSB, or return the evidence with feedback instead.")
    decision = Decision.objects.create(
        version=version, assessor=by, outcome=Decision.Outcome.ACCEPTED, feedback=feedback.strip()
    )
    KSBJudgement.objects.bulk_create(
        KSBJudgement(decision=decision, mapping=m, confirmed=verdicts[m.pk][0], comment=verdicts[m.pk][1].strip())
        for m in mappings
    )
    item.save(update_fields=["status"])  # updated_at stays the apprentice's last activity
    confirmed = [m.ksb.code for m in mappings if verdicts[m.pk][0]]
    audit.record(
        action="evidence.accepted",
        actor=by,
        apprenticeship=item.apprenticeship,
        payload={
            "item": item.pk,
            "version": version.number,
            "confirmed": confirmed,
            "not_confirmed": [m.ksb.code for m in mappings if not verdicts[m.pk][0]],
        },
    )
    notify(
        recipient=item.apprenticeship.apprentice,
        message=f"“{version.title}” was accepted for {', '.join(confirmed)}.",
        url=item.get_absolute_url(),
        email_template="reviews/email/decision",
        context={"decision": decision, "version": version},
    )
    return decision


@transaction.atomic
def return_evidence(*, item: EvidenceItem, by: User, feedback: str) -> Decision:
    """Returns the submitted version with feedback; the apprentice revises it into a new version."""
    feedback = feedback.strip()
    if not feedback:
        raise ValidationError("Write the feedback the apprentice needs to revise the evidence.")
    item, version = _locked_submitted_item(item)
    _check_assessor(item.apprenticeship, by)
    item.return_for_revision()
    decision = Decision.objects.create(
        version=version, assessor=by, outcome=Decision.Outcome.RETURNED, feedback=feedback
    )
    item.save(update_fields=["status"])  # updated_at stays the apprentice's last activity
    audit.record(
        action="evidence.returned",
        actor=by,
        apprenticeship=item.apprenticeship,
        payload={"item": item.pk, "version": version.number, "feedback": feedback},
    )
    notify(
        recipient=item.apprenticeship.apprentice,
        message=f"“{version.title}” was returned with feedback: revise and resubmit it.",
        url=item.get_absolute_url(),
        email_template="reviews/email/decision",
        context={"decision": decision, "version": version},
    )
    return decision


def eligible_versions(apprenticeship: Apprenticeship, ksb: KSB):
    """Versions that may support a sign-off of this KSB: accepted, with the KSB confirmed."""
    return EvidenceVersion.objects.filter(
        item__apprenticeship=apprenticeship,
        decision__outcome=Decision.Outcome.ACCEPTED,
        mappings__ksb=ksb,
        mappings__judgement__confirmed=True,
    )


@transaction.atomic
def sign_off_ksb(
    *, apprenticeship: Apprenticeship, ksb: KSB, versions: Iterable[EvidenceVersion], by: User, comment: str
) -> SignOff:
    """Signs a KSB off on accepted evidence, recording the SHA-256 of every file relied on."""
    comment = comment.strip()
    versions = list(versions)
    # The locking read: a second signer waits here until the first commits, then sees it.
    apprenticeship = Apprenticeship.objects.select_for_update().select_related("apprentice").get(pk=apprenticeship.pk)
    Apprenticeship.objects.filter(pk=apprenticeship.pk).evidence_changed()
    _check_assessor(apprenticeship, by)
    if ksb.standard_id != apprenticeship.standard_id:
        raise ValidationError(f"{ksb.code} is not part of this apprenticeship's standard.")
    if not comment:
        raise ValidationError("Write a comment saying why the evidence meets the KSB.")
    if not versions:
        raise ValidationError(f"Choose the accepted evidence the sign-off of {ksb.code} relies on.")
    eligible = set(eligible_versions(apprenticeship, ksb).values_list("pk", flat=True))
    if any(v.pk not in eligible for v in versions):
        raise ValidationError(f"Only accepted evidence with {ksb.code} confirmed can support its sign-off.")
    current = SignOff.objects.live().filter(apprenticeship=apprenticeship, ksb=ksb).select_related("signed_by").first()
    if current:
        raise ValidationError(
            f"{ksb.code} is already signed off, by {current.signed_by} on {current.signed_at:%d %b %Y}."
        )

    signed_files = []
    for version in EvidenceVersion.objects.filter(pk__in=[v.pk for v in versions]).prefetch_related("files"):
        for stored in version.files.all():
            if stored.is_scan_pending:
                raise ValidationError(
                    f"{stored.original_name} is still being checked for viruses, so it cannot be relied on yet: "
                    f"sign {ksb.code} off again in a minute."
                )
            if stored.is_infected:
                raise ValidationError(
                    f"{stored.original_name} was removed because it contained a virus, so it cannot be relied on: "
                    f"sign {ksb.code} off on other evidence, or ask for the evidence to be revised."
                )
            with stored.file.open("rb") as handle:
                digest = sha256_of(handle)
            if digest != stored.sha256:
                raise ValidationError(
                    f"{stored.original_name} no longer matches the file that was uploaded, so it cannot be "
                    "relied on. Report this to the provider's administrator."
                )
            signed_files.append(SignedFile(version=version, file=stored, sha256=digest))
    try:
        with transaction.atomic():
            sign_off = SignOff.objects.create(apprenticeship=apprenticeship, ksb=ksb, signed_by=by, comment=comment)
    except IntegrityError:
        raise ValidationError(f"{ksb.code} has just been signed off by someone else.") from None
    sign_off.versions.set(versions)
    for signed in signed_files:
        signed.sign_off = sign_off
    SignedFile.objects.bulk_create(signed_files)
    audit.record(
        action="ksb.signed_off",
        actor=by,
        apprenticeship=apprenticeship,
        payload={
            "sign_off": sign_off.pk,
            "ksb": ksb.code,
            "comment": comment,
            "versions": sorted([v.item_id, v.number] for v in versions),
            "files": sorted([s.file_id, s.sha256] for s in signed_files),
        },
    )
    notify(
        recipient=apprenticeship.apprentice,
        message=f"{ksb.code} has been signed off.",
        url=reverse("reviews:ksb", args=[apprenticeship.pk, ksb.code]),
    )
    return sign_off


def may_revoke(user: User, apprenticeship: Apprenticeship) -> bool:
    """The apprentice's assessor, or an admin of their provider, may revoke a sign-off."""
    return apprenticeship.assessor_id == user.pk or (
        user.role == User.Role.PROVIDER_ADMIN and user.organisation_id == apprenticeship.provider_id
    )


@transaction.atomic
def revoke_sign_off(*, sign_off: SignOff, by: User, reason: str) -> SignOff:
    """Revokes a sign-off with a reason. The sign-off stays on record, marked revoked."""
    reason = reason.strip()
    Apprenticeship.objects.filter(pk=sign_off.apprenticeship_id).evidence_changed()
    sign_off = (
        SignOff.objects.select_for_update().select_related("apprenticeship__apprentice", "ksb").get(pk=sign_off.pk)
    )
    apprenticeship = sign_off.apprenticeship
    if not may_revoke(by, apprenticeship):
        raise PermissionDenied("Only the apprentice's assessor or a provider admin revokes a sign-off.")
    if not sign_off.is_live:
        raise ValidationError("This sign-off has already been revoked.")
    if not reason:
        raise ValidationError("Give the reason for revoking the sign-off.")
    sign_off.revoked_at = timezone.now()
    sign_off.revoked_by = by
    sign_off.revoke_reason = reason
    sign_off.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    audit.record(
        action="ksb.sign_off_revoked",
        actor=by,
        apprenticeship=apprenticeship,
        payload={"sign_off": sign_off.pk, "ksb": sign_off.ksb.code, "reason": reason},
    )
    notify(
        recipient=apprenticeship.apprentice,
        message=f"The sign-off of {sign_off.ksb.code} was revoked: {reason}",
        url=reverse("reviews:ksb", args=[apprenticeship.pk, sign_off.ksb.code]),
    )
    return sign_off


@transaction.atomic
def record_iqa_review(
    *, by: User, outcome: str, comment: str = "", decision: Decision | None = None, sign_off: SignOff | None = None
) -> IQAReview:
    """An IQA's agree/disagree on one decision or sign-off of their own provider."""
    comment = comment.strip()
    if (decision is None) == (sign_off is None):
        raise ValueError("An IQA review is of one decision or one sign-off.")
    apprenticeship = decision.version.item.apprenticeship if decision else sign_off.apprenticeship
    if by.role != User.Role.IQA or by.organisation_id != apprenticeship.provider_id:
        raise PermissionDenied("Only an IQA of the provider samples its assessors' decisions.")
    if outcome not in IQAReview.Outcome.values:
        raise ValidationError("Choose agree or disagree.")
    if outcome == IQAReview.Outcome.DISAGREE and not comment:
        raise ValidationError("Say why you disagree, so the assessor can act on it.")
    review = IQAReview.objects.create(
        reviewer=by, decision=decision, sign_off=sign_off, outcome=outcome, comment=comment
    )
    audit.record(
        action="iqa.reviewed",
        actor=by,
        apprenticeship=apprenticeship,
        payload={
            "decision": decision.pk if decision else None,
            "sign_off": sign_off.pk if sign_off else None,
            "outcome": outcome,
            "comment": comment,
        },
    )
    return review
