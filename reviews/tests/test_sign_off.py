"""Signing KSBs off: what it records, what it relies on, revoking, and racing signers."""

import threading
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction

from evidence import services as evidence_services
from evidence.models import IllegalTransition
from portal.models import AuditEntry
from reviews import services
from reviews.models import SignOff
from reviews.tests.helpers import accepted, ksb, signed_off


def test_sign_off_records_who_when_what_and_the_file_hashes(apprenticeship, assessor):
    item = accepted(apprenticeship, codes=("K1",), files=("chart.png", "sop.pdf"))
    version = item.versions.get()
    sign_off = services.sign_off_ksb(
        apprenticeship=apprenticeship,
        ksb=ksb(apprenticeship, "K1"),
        versions=[version],
        by=assessor,
        comment="Shows person-centred care",
    )
    assert sign_off.signed_by == assessor and sign_off.signed_at and sign_off.is_live
    assert list(sign_off.versions.all()) == [version]
    hashes = {s.file.original_name: s.sha256 for s in sign_off.signed_files.select_related("file")}
    assert hashes == {f.original_name: f.sha256 for f in version.files.all()}
    entry = AuditEntry.objects.get(action="ksb.signed_off")
    assert entry.payload["ksb"] == "K1"
    assert sorted(sha for _, sha in entry.payload["files"]) == sorted(hashes.values())


def test_only_accepted_evidence_with_the_ksb_confirmed_can_be_relied_on(apprenticeship, assessor):
    unticked = accepted(apprenticeship, codes=("K1", "K2"), untick=("K2",))
    from evidence.tests.factories import evidence

    pending = evidence(apprenticeship, codes=("K2",), submit=True)
    for version in (unticked.versions.get(), pending.versions.get()):
        with pytest.raises(ValidationError, match="Only accepted evidence with K2 confirmed"):
            services.sign_off_ksb(
                apprenticeship=apprenticeship,
                ksb=ksb(apprenticeship, "K2"),
                versions=[version],
                by=assessor,
                comment="x",
            )
    assert not SignOff.objects.exists()


def test_sign_off_needs_a_comment_and_evidence(apprenticeship, assessor):
    item = accepted(apprenticeship)
    k1 = ksb(apprenticeship, "K1")
    with pytest.raises(ValidationError, match="Write a comment"):
        services.sign_off_ksb(
            apprenticeship=apprenticeship, ksb=k1, versions=[item.versions.get()], by=assessor, comment=" "
        )
    with pytest.raises(ValidationError, match="Choose the accepted evidence"):
        services.sign_off_ksb(apprenticeship=apprenticeship, ksb=k1, versions=[], by=assessor, comment="ok")


def test_a_ksb_of_another_standard_cannot_be_signed_off(apprenticeship, assessor):
    from standards.tests.factories import standard_with_ksbs

    item = accepted(apprenticeship)
    foreign = standard_with_ksbs(reference="ST0248").ksbs.first()
    with pytest.raises(ValidationError, match="not part of this apprenticeship's standard"):
        services.sign_off_ksb(
            apprenticeship=apprenticeship, ksb=foreign, versions=[item.versions.get()], by=assessor, comment="x"
        )


def test_another_apprentices_evidence_cannot_be_relied_on(apprenticeship, other_apprenticeship, assessor):
    theirs = accepted(other_apprenticeship)
    with pytest.raises(ValidationError, match="Only accepted evidence"):
        services.sign_off_ksb(
            apprenticeship=apprenticeship,
            ksb=ksb(apprenticeship, "K1"),
            versions=[theirs.versions.get()],
            by=assessor,
            comment="x",
        )


@pytest.mark.parametrize("persona", ["other_assessor", "provider_admin", "iqa", "apprentice", "outsider"])
def test_only_the_apprentices_assessor_signs_off(apprenticeship, persona, request):
    item = accepted(apprenticeship)
    with pytest.raises(PermissionDenied):
        services.sign_off_ksb(
            apprenticeship=apprenticeship,
            ksb=ksb(apprenticeship, "K1"),
            versions=[item.versions.get()],
            by=request.getfixturevalue(persona),
            comment="x",
        )


def test_a_second_sign_off_of_the_same_ksb_is_refused(apprenticeship, assessor):
    first = signed_off(apprenticeship, "K1")
    again = accepted(apprenticeship, codes=("K1",))
    with pytest.raises(ValidationError, match="K1 is already signed off"):
        services.sign_off_ksb(
            apprenticeship=apprenticeship, ksb=first.ksb, versions=[again.versions.get()], by=assessor, comment="again"
        )
    assert SignOff.objects.count() == 1


def test_the_database_allows_one_live_sign_off_per_ksb(apprenticeship, assessor, other_assessor):
    first = signed_off(apprenticeship, "K1")
    with pytest.raises(IntegrityError), transaction.atomic():
        SignOff.objects.create(apprenticeship=apprenticeship, ksb=first.ksb, signed_by=other_assessor, comment="x")


def test_revoking_needs_a_reason_and_keeps_the_history(apprenticeship, assessor, provider_admin):
    sign_off = signed_off(apprenticeship, "K1")
    with pytest.raises(ValidationError, match="Give the reason"):
        services.revoke_sign_off(sign_off=sign_off, by=assessor, reason="")
    services.revoke_sign_off(sign_off=sign_off, by=provider_admin, reason="Evidence was from before enrolment")
    sign_off.refresh_from_db()
    assert not sign_off.is_live
    assert (sign_off.revoked_by, sign_off.revoke_reason) == (provider_admin, "Evidence was from before enrolment")
    with pytest.raises(ValidationError, match="already been revoked"):
        services.revoke_sign_off(sign_off=sign_off, by=assessor, reason="again")
    # Signed off again, the revoked sign-off stays on record beside the new one.
    again = signed_off(apprenticeship, "K1")
    assert SignOff.objects.filter(apprenticeship=apprenticeship, ksb=again.ksb).count() == 2
    assert [e.action for e in AuditEntry.objects.filter(action__startswith="ksb.")] == [
        "ksb.signed_off",
        "ksb.sign_off_revoked",
        "ksb.signed_off",
    ]


@pytest.mark.parametrize("persona", ["other_assessor", "iqa", "apprentice", "mentor", "outsider"])
def test_others_cannot_revoke(apprenticeship, persona, request):
    sign_off = signed_off(apprenticeship, "K1")
    with pytest.raises(PermissionDenied):
        services.revoke_sign_off(sign_off=sign_off, by=request.getfixturevalue(persona), reason="x")


def test_evidence_relied_on_can_no_longer_change_or_be_withdrawn(apprenticeship, apprentice):
    sign_off = signed_off(apprenticeship, "K1", files=("chart.png",))
    version = sign_off.versions.get()
    item = version.item
    for action in (
        evidence_services.withdraw_evidence,
        evidence_services.revise_evidence,
        evidence_services.submit_evidence,
    ):
        with pytest.raises(IllegalTransition):
            action(item=item, by=apprentice)
    with pytest.raises(ValidationError, match="cannot be edited"):
        evidence_services.update_draft(
            item=item, by=apprentice, title="x", activity_date="2025-01-01", evidence_type="other"
        )
    with pytest.raises(ValidationError, match="stays in the portfolio"):
        evidence_services.delete_draft(item=item, by=apprentice)
    version.refresh_from_db()
    assert version.title == "Internal quality control on the haematology analyser"
    assert Path(version.files.get().file.path).exists()


def test_a_file_changed_on_disk_cannot_be_signed_off(apprenticeship, assessor):
    item = accepted(apprenticeship, files=("chart.png",))
    stored = item.versions.get().files.get()
    Path(stored.file.path).write_bytes(b"tampered")
    with pytest.raises(ValidationError, match="chart.png no longer matches the file that was uploaded"):
        services.sign_off_ksb(
            apprenticeship=apprenticeship,
            ksb=ksb(apprenticeship, "K1"),
            versions=[item.versions.get()],
            by=assessor,
            comment="x",
        )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL; CI runs this there")
@pytest.mark.django_db(transaction=True)
def test_two_signers_at_the_same_moment_end_with_one_sign_off(apprenticeship, assessor):
    """Two transactions sign K1 off at once: one wins, the other is told, never two sign-offs."""
    from django.db import connections

    item = accepted(apprenticeship)
    version = item.versions.get()
    k1 = ksb(apprenticeship, "K1")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def sign(comment: str) -> None:
        try:
            with transaction.atomic():
                barrier.wait(timeout=10)  # both transactions are open before either locks
                services.sign_off_ksb(
                    apprenticeship=apprenticeship, ksb=k1, versions=[version], by=assessor, comment=comment
                )
            outcomes.append("signed")
        except ValidationError as error:
            outcomes.append(error.messages[0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sign, args=(f"signer {n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes)[-1] == "signed"
    assert outcomes.count("signed") == 1
    assert any("K1 is already signed off" in outcome for outcome in outcomes)
    assert SignOff.objects.filter(apprenticeship=apprenticeship, ksb=k1).count() == 1
