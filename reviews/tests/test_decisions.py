"""Accept, return, revise and resubmit: the assessor's decisions on evidence."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from evidence import services as evidence_services
from evidence.models import IllegalTransition
from evidence.tests.factories import evidence
from portal.models import AuditEntry, Notice
from reviews import services
from reviews.models import Decision
from reviews.tests.helpers import accepted


@pytest.fixture
def submitted(apprenticeship):
    return evidence(apprenticeship, title="QC on the analyser", codes=("K1", "S18"), submit=True)


def test_the_whole_loop_return_revise_resubmit_accept(
    apprenticeship, apprentice, assessor, submitted, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        returned = services.return_evidence(item=submitted, by=assessor, feedback="Add the Levey-Jennings chart.")
    submitted.refresh_from_db()
    assert submitted.status == "returned"
    assert returned.version.number == 1 and returned.outcome == Decision.Outcome.RETURNED
    assert mail.outbox[-1].to == [apprentice.email]
    assert "Add the Levey-Jennings chart." in mail.outbox[-1].body
    assert Notice.objects.filter(recipient=apprentice, message__contains="returned with feedback").exists()

    evidence_services.revise_evidence(item=submitted, by=apprentice)
    evidence_services.submit_evidence(item=submitted, by=apprentice)
    submitted.refresh_from_db()
    assert submitted.status == "submitted"

    decision = services.accept_evidence(item=submitted, by=assessor)
    submitted.refresh_from_db()
    assert submitted.status == "accepted"
    assert decision.version.number == 2
    # The feedback stays with the version it was given on.
    assert submitted.versions.get(number=1).decision.feedback == "Add the Levey-Jennings chart."
    assert [e.action for e in AuditEntry.objects.all()] == ["evidence.returned", "evidence.accepted"]


def test_accepting_confirms_or_unticks_each_ksb(apprenticeship, assessor, submitted):
    mappings = {m.ksb.code: m for m in submitted.versions.get().mappings.select_related("ksb")}
    decision = services.accept_evidence(
        item=submitted,
        by=assessor,
        judgements={mappings["K1"].pk: (True, "Clear"), mappings["S18"].pk: (False, "No data shown")},
    )
    judged = {j.mapping.ksb.code: (j.confirmed, j.comment) for j in decision.judgements.select_related("mapping__ksb")}
    assert judged == {"K1": (True, "Clear"), "S18": (False, "No data shown")}
    assert [k.code for k in decision.confirmed_ksbs] == ["K1"]
    assert AuditEntry.objects.get().payload["not_confirmed"] == ["S18"]


def test_accepting_with_every_ksb_unticked_is_refused(assessor, submitted):
    judgements = {m.pk: (False, "") for m in submitted.versions.get().mappings.all()}
    with pytest.raises(ValidationError, match="Confirm at least one KSB, or return the evidence"):
        services.accept_evidence(item=submitted, by=assessor, judgements=judgements)
    submitted.refresh_from_db()
    assert submitted.status == "submitted"
    assert not Decision.objects.exists()


def test_judging_a_ksb_that_is_not_mapped_is_refused(assessor, submitted, apprenticeship):
    other = evidence(apprenticeship, codes=("B1",)).versions.get().mappings.get()
    with pytest.raises(ValidationError, match="not mapped on this version"):
        services.accept_evidence(item=submitted, by=assessor, judgements={other.pk: (True, "")})


def test_returning_needs_feedback(assessor, submitted):
    with pytest.raises(ValidationError, match="Write the feedback"):
        services.return_evidence(item=submitted, by=assessor, feedback="   ")
    submitted.refresh_from_db()
    assert submitted.status == "submitted"


def test_a_draft_cannot_be_decided(apprenticeship, assessor):
    draft = evidence(apprenticeship)
    with pytest.raises(IllegalTransition):
        services.accept_evidence(item=draft, by=assessor)
    with pytest.raises(IllegalTransition):
        services.return_evidence(item=draft, by=assessor, feedback="x")


def test_an_accepted_item_cannot_be_decided_again(apprenticeship, assessor):
    item = accepted(apprenticeship)
    with pytest.raises(IllegalTransition):
        services.return_evidence(item=item, by=assessor, feedback="Changed my mind")


@pytest.mark.parametrize("persona", ["other_assessor", "provider_admin", "iqa", "mentor", "apprentice", "outsider"])
def test_only_the_apprentices_assessor_decides(submitted, persona, request):
    person = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        services.accept_evidence(item=submitted, by=person)
    with pytest.raises(PermissionDenied):
        services.return_evidence(item=submitted, by=person, feedback="x")
    submitted.refresh_from_db()
    assert submitted.status == "submitted"
    assert not AuditEntry.objects.exists()


def test_a_decided_version_is_never_decided_twice(apprenticeship, assessor, submitted):
    from django.db import IntegrityError, transaction

    decision = services.accept_evidence(item=submitted, by=assessor)
    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.create(version=decision.version, assessor=assessor, outcome="accepted")
