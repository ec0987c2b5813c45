"""Three-party signing of progress reviews and training plans.

The apprentice, their employer mentor and their assessor each sign in their own account, in any
order, once. A signature keeps the SHA-256 of the content it was given on, so a later change
would show; when the third party signs, the document is locked and can no longer change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal import audit
from portal.models import Apprenticeship, User
from portal.notices import notify

from .models import Party, ProgressReview, Signature, TrainingPlan

Document = ProgressReview | TrainingPlan

NO_MENTOR = (
    "This apprenticeship has no employer mentor, so it cannot be signed by all three parties: "
    "the provider must assign an employer mentor first."
)


def party_of(user: User, apprenticeship: Apprenticeship) -> Party | None:
    """The party this person signs as on this apprenticeship's documents, or None."""
    if not user.is_authenticated:
        return None
    if user.pk == apprenticeship.apprentice_id and user.role == User.Role.APPRENTICE:
        return Party.APPRENTICE
    if apprenticeship.mentor_id and user.pk == apprenticeship.mentor_id and user.role == User.Role.MENTOR:
        return Party.MENTOR
    if user.pk == apprenticeship.assessor_id and user.role == User.Role.ASSESSOR:
        return Party.ASSESSOR
    return None


def person_of(party: str, apprenticeship: Apprenticeship) -> User | None:
    """Who signs as `party` now (the mentor may be missing)."""
    return {
        Party.APPRENTICE: apprenticeship.apprentice,
        Party.MENTOR: apprenticeship.mentor,
        Party.ASSESSOR: apprenticeship.assessor,
    }[Party(party)]


def _money(value: Decimal | int | None) -> str | None:
    # Fixed two places, so an unsaved Decimal("40") and the stored 40.00 hash alike.
    return None if value is None else f"{Decimal(value):.2f}"


def _content(document: Document) -> dict:
    if isinstance(document, ProgressReview):
        return {
            "kind": "progress_review",
            "apprenticeship": document.apprenticeship_id,
            "held_on": document.held_on.isoformat(),
            "actions_since_last": document.actions_since_last,
            "progress_against_plan": document.progress_against_plan,
            "plan_updates": document.plan_updates,
            "wellbeing": document.wellbeing,
            "concerns": document.concerns,
            "otj_logged_hours": _money(document.otj_logged_hours),
            "otj_verified_hours": _money(document.otj_verified_hours),
            "otj_expected_hours": _money(document.otj_expected_hours),
            "otj_required_hours": _money(document.otj_required_hours),
            "ksb_signed_off": document.ksb_signed_off,
            "ksb_total": document.ksb_total,
            "coverage": document.coverage,
            "actions": sorted([a.description, a.owner, a.due_on.isoformat()] for a in document.actions.all()),
        }
    return {
        "kind": "training_plan",
        "apprenticeship": document.apprenticeship_id,
        "version": document.version,
        "planned_otj_hours": document.planned_otj_hours,
        "planned_end_date": document.planned_end_date.isoformat(),
        "epa_organisation": document.epa_organisation,
        "english_status": document.english_status,
        "english_evidence": document.english_evidence,
        "maths_status": document.maths_status,
        "maths_evidence": document.maths_evidence,
        "text": document.text,
    }


def content_hash(document: Document) -> str:
    """SHA-256 over a canonical JSON of the document's content (a review's actions included).

    A review's safeguarding concern is left out: it is not shown to the apprentice or the
    employer, so it is not part of what the three parties sign, and changing it alerts nobody.
    """
    canonical = json.dumps(_content(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class PartyLine:
    """One of the three parties to a document: who signs as it, and their signature if given."""

    party: Party
    person: User | None
    signature: Signature | None

    @property
    def label(self) -> str:
        return self.party.label

    @property
    def signed(self) -> bool:
        return self.signature is not None


def parties_of(document: Document, signatures: list[Signature] | None = None) -> list[PartyLine]:
    """The three parties in a fixed order, each with their signature (for the signatures partial)."""
    if signatures is None:
        signatures = list(document.signatures.all())
    by_party = {s.party: s for s in signatures}
    apprenticeship = document.apprenticeship
    return [PartyLine(party, person_of(party, apprenticeship), by_party.get(party)) for party in Party]


def may_sign(
    user: User, document: Document, signatures: list[Signature] | None = None, *, current: bool | None = None
) -> bool:
    """Whether to offer this person a Sign button: a party who has not signed an open document.

    `current` says whether a plan is the current version, when the caller knows already.
    """
    party = party_of(user, document.apprenticeship)
    if party is None or document.is_locked:
        return False
    if isinstance(document, TrainingPlan) and not (_is_current_plan(document) if current is None else current):
        return False
    if signatures is None:
        signatures = list(document.signatures.all())
    return all(s.party != party for s in signatures)


def _is_current_plan(plan: TrainingPlan) -> bool:
    return not TrainingPlan.objects.filter(apprenticeship_id=plan.apprenticeship_id, version__gt=plan.version).exists()


def _what(document: Document) -> str:
    if isinstance(document, ProgressReview):
        return f"the progress review of {document.held_on:%-d %b %Y}"
    return f"version {document.version} of the training plan"


def _what_starting(document: Document) -> str:
    """The same words, starting a sentence (str.capitalize would lower-case the month)."""
    what = _what(document)
    return what[0].upper() + what[1:]


@transaction.atomic
def sign(
    *, review: ProgressReview | None = None, plan: TrainingPlan | None = None, by: User, seen_hash: str | None = None
) -> Signature:
    """Signs a review or a plan as the party `by` is; the third signature locks it.

    With `seen_hash` (the hash of the content the signer was shown), a document that changed in
    the meantime is refused, so nobody signs words they have not read.
    """
    if (review is None) == (plan is None):
        raise ValueError("Sign one progress review or one training plan.")
    model = ProgressReview if review is not None else TrainingPlan
    # Locking the document row: of two last signatures, the second waits and then sees the first.
    # of=("self",) because the mentor is a nullable join, which PostgreSQL cannot lock.
    document = (
        model.objects.select_for_update(of=("self",))
        .select_related("apprenticeship__apprentice", "apprenticeship__mentor", "apprenticeship__assessor")
        .get(pk=(review or plan).pk)
    )
    apprenticeship = document.apprenticeship
    party = party_of(by, apprenticeship)
    if party is None:
        raise PermissionDenied(f"Only the apprentice, their employer mentor and their assessor sign {_what(document)}.")
    if document.is_locked:
        raise ValidationError(f"{_what_starting(document)} is already signed by all three parties and locked.")
    if isinstance(document, TrainingPlan) and not _is_current_plan(document):
        raise ValidationError("This is an earlier version of the training plan: sign the current version instead.")
    digest = content_hash(document)
    if seen_hash is not None and seen_hash != digest:
        raise ValidationError(f"{_what_starting(document)} has changed since you opened it: read it again, then sign.")
    if document.signatures.filter(party=party).exists():
        raise ValidationError(f"You have already signed {_what(document)}.")
    try:
        with transaction.atomic():
            signature = Signature.objects.create(
                review=document if model is ProgressReview else None,
                plan=document if model is TrainingPlan else None,
                party=party,
                signer=by,
                content_hash=digest,
            )
    except IntegrityError:
        raise ValidationError(f"You have already signed {_what(document)}.") from None

    signed = set(document.signatures.values_list("party", flat=True))
    locked = signed == set(Party.values)
    if locked:
        document.locked_at = timezone.now()
        document.save(update_fields=["locked_at"])
    kind = "progress_review" if model is ProgressReview else "training_plan"
    audit.record(
        action=f"{kind}.signed",
        actor=by,
        apprenticeship=apprenticeship,
        payload={
            kind: document.pk,
            **({"version": document.version} if model is TrainingPlan else {}),
            "party": party.value,
            "content_hash": digest,
            "locked": locked,
        },
    )
    if locked:
        url = document.get_absolute_url()
        for line in parties_of(document):
            if line.person is not None and line.person.pk != by.pk:
                notify(
                    recipient=line.person,
                    message=f"{_what_starting(document)} is signed by all three parties and locked.",
                    url=url,
                    email_template=f"reviews/email/{kind}_locked",
                    context={"document": document, "apprenticeship": apprenticeship},
                )
    return signature


def missing_mentor_problem(apprenticeship: Apprenticeship) -> str:
    """Why the document can never be completed, or "" when it can."""
    return "" if apprenticeship.mentor_id else NO_MENTOR
