"""Erasing a withdrawn apprentice's personal data: who may, what goes, what funding audits keep,
and the audit chain still verifying afterwards."""

import datetime
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import models

from conftest import PASSWORD
from evidence import services as evidence_services
from evidence.models import EvidenceFile, OTJActivity
from evidence.tests.factories import evidence, otj_activity
from evidence.tests.samples import _png, upload
from portal.models import Apprenticeship, AuditEntry, BreakInLearning, Notice, User
from portal.tests.factories import ApprenticeshipFactory
from reviews import erasure, exports, services
from reviews.models import Export, GatewayConfirmation, Party, ProgressReview, SignedFile, SignOff, TrainingPlan
from reviews.tests.helpers import ksb
from reviews.tests.programme import progress_review, training_plan

FIRST, LAST = "Perpetua", "Quillfeather"
EMAIL = "perpetua.q@example.org"
# Written by the apprentice or about them, each kept in the record only until the erasure.
TEXTS = {
    "title": "Zebrafish titration log",
    "reflection": "I titrated the xylophone reagent and learned to double-check.",
    "note": "Shows my quasar calibration",
    "draft": "Half-written draft about the ultramarine centrifuge",
    "feedback": "Tell me more about the marmalade controls.",
    "judgement": "Convincing on the bergamot method",
    "sign_off": "Signed off on the strength of the walrus audit",
    "revoke": "Relied on the wrong tangerine version",
    "iqa": "Agree: the periwinkle sampling holds up",
    "otj": "Workshop on the kumquat analyser",
    "otj_query": "Which kumquat session was this?",
    "break": "Long-term sickness with the pangolin flu",
    "review": "Completed the hedgehog rotation",
    "wellbeing": "Struggling with the commute from Narwhal Street",
    "action": "Book the armadillo refresher",
    "safeguarding": "Disclosed concerns about the albatross household",
    "plan": "Rotations through the gazebo lab",
    "english": "GCSE English from Flamingo High",
    "gateway": "Ready, says the cormorant team",
    "file": "perpetua-cv.txt",
}
REASON = "Asked for erasure on 3 March 2026; withdrawn on 1 February 2026."


@pytest.fixture
def person(apprentice):
    User.objects.filter(pk=apprentice.pk).update(first_name=FIRST, last_name=LAST, email=EMAIL)
    apprentice.refresh_from_db()
    return apprentice


def unique_upload(name: str, seed: int):
    """Content no other test file shares, so that its hash names it alone in storage."""
    if name.endswith(".png"):
        return upload(name, content=_png(7 + seed, 3))
    return upload(name, content=f"Notes {seed} by {FIRST} {LAST} <{EMAIL}>\n".encode())


@pytest.fixture
def record(person, apprenticeship, assessor, mentor, iqa, provider_admin, client, django_capture_on_commit_callbacks):
    """Something of every kind the portal holds about an apprentice, then the apprenticeship withdrawn."""
    a = apprenticeship
    with django_capture_on_commit_callbacks(execute=True):
        item = evidence_services.create_evidence(
            apprenticeship=a,
            by=person,
            title=TEXTS["title"],
            activity_date=datetime.date(2025, 10, 6),
            evidence_type="observation",
            reflection=TEXTS["reflection"],
            mappings={ksb(a, "K1"): TEXTS["note"], ksb(a, "S1"): TEXTS["note"]},
            uploads=[unique_upload(TEXTS["file"], 1), unique_upload("bench.png", 2)],
        )
        evidence_services.submit_evidence(item=item, by=person)
        item.refresh_from_db()
        services.return_evidence(item=item, by=assessor, feedback=TEXTS["feedback"])
        evidence_services.revise_evidence(item=item, by=person)
        evidence_services.submit_evidence(item=item, by=person)
        item.refresh_from_db()
        version = item.versions.order_by("-number").first()
        judgements = {m.pk: (True, TEXTS["judgement"]) for m in version.mappings.all()}
        services.accept_evidence(item=item, by=assessor, judgements=judgements)
        revoked = services.sign_off_ksb(
            apprenticeship=a, ksb=ksb(a, "S1"), versions=[version], by=assessor, comment=TEXTS["sign_off"]
        )
        services.revoke_sign_off(sign_off=revoked, by=assessor, reason=TEXTS["revoke"])
        live = services.sign_off_ksb(
            apprenticeship=a, ksb=ksb(a, "K1"), versions=[version], by=assessor, comment=TEXTS["sign_off"]
        )
        services.record_iqa_review(by=iqa, outcome="disagree", comment=TEXTS["iqa"], sign_off=live)
        evidence(a, title=TEXTS["draft"], files=(), evidence_type="reflective_account", reflection=TEXTS["draft"])
    otj_activity(a, description=TEXTS["otj"], hours=3, status=OTJActivity.Status.VERIFIED, checked_by=assessor)
    otj_activity(a, description=TEXTS["otj"], hours=1.5, status="queried", query_reason=TEXTS["otj_query"])
    BreakInLearning.objects.create(
        apprenticeship=a,
        starts_on=datetime.date(2025, 12, 1),
        ends_on=datetime.date(2025, 12, 20),
        reason=TEXTS["break"],
        recorded_by=assessor,
    )
    review = progress_review(
        a,
        signed_by=(Party.APPRENTICE, Party.MENTOR, Party.ASSESSOR),
        actions_since_last=TEXTS["review"],
        wellbeing=TEXTS["wellbeing"],
        safeguarding_concern=True,
        safeguarding_details=TEXTS["safeguarding"],
        coverage={"K1": "signed_off"},
    )
    review.actions.create(description=TEXTS["action"], owner=Party.APPRENTICE, due_on=datetime.date(2026, 1, 9))
    training_plan(a, text=TEXTS["plan"], english_evidence=TEXTS["english"], signed_by=(Party.APPRENTICE,))
    GatewayConfirmation.objects.create(
        apprenticeship=a, party="employer", confirmed_by=mentor, comment=TEXTS["gateway"]
    )
    Notice.objects.create(recipient=assessor, message=f"{FIRST} {LAST} logged hours for you to verify")
    Notice.objects.create(recipient=mentor, message="A review waits for your signature", url=review.get_absolute_url())
    LogEntry.objects.create(
        user=provider_admin,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(person.pk),
        object_repr=str(person),
        action_flag=CHANGE,
        change_message="[]",
    )
    # A mistyped password leaves the account's address and the browser in the sign-in records.
    client.post("/accounts/sign-in/", {"username": EMAIL, "password": "not the password"})
    exports_of(a, provider_admin)
    Apprenticeship.objects.filter(pk=a.pk).update(status=Apprenticeship.Status.WITHDRAWN)
    a.refresh_from_db()
    return a


def exports_of(a: Apprenticeship, admin: User) -> None:
    """A finished portfolio PDF, the apprentice's own data zip and a cohort zip holding them."""
    pdf = Export.objects.create(
        kind="portfolio", requested_by=admin, provider=a.provider, apprenticeship=a, state="done"
    )
    pdf.file_name = "portfolio-ST0220-perpetua-quillfeather.pdf"
    pdf.file = default_storage.save(f"exports/{pdf.pk}/{pdf.file_name}", ContentFile(b"%PDF"))
    pdf.save()
    mine = Export.objects.create(
        kind="personal_data", requested_by=a.apprentice, provider=a.provider, apprenticeship=a, state="done"
    )
    mine.file = default_storage.save(f"exports/{mine.pk}/my-data.zip", ContentFile(EMAIL.encode()))
    mine.save()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{a.pk}-portfolio-ST0220-perpetua-quillfeather.pdf", b"%PDF " + LAST.encode())
        archive.writestr("manifest.json", json.dumps({"portfolios": [{"email": EMAIL}]}))
    cohort = Export.objects.create(kind="cohort", requested_by=admin, provider=a.provider, state="done")
    cohort.file = default_storage.save(f"exports/{cohort.pk}/cohort.zip", ContentFile(buffer.getvalue()))
    cohort.file_name = "cohort.zip"
    cohort.save()


def snapshot(a: Apprenticeship) -> dict:
    """What funding audits need: it must be the same after the erasure."""
    review = ProgressReview.objects.get(apprenticeship=a)
    plan = TrainingPlan.objects.get(apprenticeship=a)
    return {
        "apprenticeship": Apprenticeship.objects.filter(pk=a.pk).values(
            "standard", "provider", "employer", "assessor", "mentor", "start_date", "planned_end_date", "status"
        )[0],
        "otj": list(OTJActivity.objects.filter(apprenticeship=a).values_list("date", "minutes", "status", "ksbs")),
        "sign_offs": list(
            SignOff.objects.filter(apprenticeship=a).values_list("ksb", "signed_at", "revoked_at", "signed_by")
        ),
        "signed_files": sorted(SignedFile.objects.filter(sign_off__apprenticeship=a).values_list("file", "sha256")),
        "files": sorted(EvidenceFile.objects.filter(apprenticeship=a).values_list("pk", "size", "sha256")),
        "review": (
            review.held_on,
            review.otj_logged_hours,
            review.otj_verified_hours,
            review.ksb_signed_off,
            review.ksb_total,
            review.coverage,
            review.safeguarding_concern,
            review.signatures.count(),
            review.locked_at,
        ),
        "actions": list(review.actions.values_list("owner", "due_on")),
        "plan": (plan.version, plan.planned_otj_hours, plan.planned_end_date, plan.epa_organisation),
        "breaks": list(BreakInLearning.objects.filter(apprenticeship=a).values_list("starts_on", "ends_on")),
        "mappings": sorted(a.evidence_items.values_list("pk", "versions__number", "versions__mappings__ksb"), key=str),
    }


def stored_files(a: Apprenticeship) -> tuple[set[str], set[str]]:
    """Storage names of the apprentice's files and print copies, and the SHA-256 of their bytes."""
    names, hashes = set(), set()
    for stored in EvidenceFile.objects.filter(apprenticeship=a):
        for field in (stored.file, stored.print_copy):
            if field:
                names.add(field.name)
                with field.open("rb") as handle:
                    hashes.add(hashlib.sha256(handle.read()).hexdigest())
    return names, hashes


@pytest.fixture
def erased(record, client, provider_admin, django_capture_on_commit_callbacks):
    before = snapshot(record)
    names, hashes = stored_files(record)
    assert any("/print/" in n for n in names), "the image should have a print copy to erase"
    client.force_login(provider_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/apprenticeships/{record.pk}/erase/", {"confirm_name": f"{FIRST}  {LAST.lower()}", "reason": REASON}
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == f"/apprenticeships/{record.pk}/"
    client.logout()
    return {"apprenticeship": record, "before": before, "names": names, "hashes": hashes}


TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField, models.FileField)


def database_texts():
    """Every text value of every row of every model, but the audit log's payloads (see below)."""
    for model in apps.get_models(include_auto_created=True):
        fields = [f.attname for f in model._meta.concrete_fields if isinstance(f, TEXT_FIELDS)]
        if model is AuditEntry:
            fields.remove("payload")
        if not fields:
            continue
        for row in model._default_manager.values_list(*fields):
            for name, value in zip(fields, row, strict=True):
                if value:
                    yield f"{model._meta.label}.{name}", json.dumps(value) if not isinstance(value, str) else value


NEEDLES = [FIRST, LAST, EMAIL, *TEXTS.values()]


def found_in_database() -> list[tuple[str, str]]:
    return [(where, n) for where, value in database_texts() for n in NEEDLES if n.lower() in value.lower()]


def test_the_search_finds_every_piece_before_the_erasure(record):
    found = found_in_database()
    assert {n for _, n in found} == set(NEEDLES)
    where = {w.split(".")[0] for w, _ in found}
    assert {"axes", "admin", "portal", "evidence", "reviews"} <= where


def test_nothing_personal_of_the_apprentice_is_left_in_the_database(erased):
    assert found_in_database() == []


def test_the_audit_log_is_untouched_and_names_nobody(erased):
    entries = list(AuditEntry.objects.order_by("sequence"))
    payloads = json.dumps([e.payload for e in entries]).lower()
    # The audit log keeps ids, codes, dates and figures, and free text staff wrote at the time
    # (feedback, comments, reasons, off-the-job descriptions; see the README): never these.
    for needle in (FIRST, LAST, EMAIL, TEXTS["title"], TEXTS["reflection"], TEXTS["note"], TEXTS["file"]):
        assert needle.lower() not in payloads
    entry = AuditEntry.objects.get(action=erasure.ERASED_ACTION)
    assert entry.apprenticeship_id == erased["apprenticeship"].pk
    assert entry.payload["reason"] == REASON
    assert sorted(entry.payload["files"]) == [pk for pk, _, _ in erased["before"]["files"]]
    assert entry.payload["erased"]["files"] == 2


def test_no_file_of_the_apprentice_is_left_in_storage(erased, settings):
    for name in erased["names"]:
        assert not default_storage.exists(name)
    left = []
    for root, _, files in os.walk(settings.MEDIA_ROOT):
        for file_name in files:
            content = Path(root, file_name).read_bytes()
            if hashlib.sha256(content).hexdigest() in erased["hashes"] or LAST.encode() in content:
                left.append(file_name)
            assert EMAIL.encode() not in content
    assert left == []
    assert not Export.objects.filter(apprenticeship=erased["apprenticeship"]).exists()
    cohort = Export.objects.get(kind="cohort")
    assert cohort.state == "failed" and not cohort.file and "Export the cohort again" in cohort.error


def test_the_anonymised_record_funding_audits_need_remains(erased):
    a = erased["apprenticeship"]
    assert snapshot(a) == erased["before"]
    verified = OTJActivity.objects.get(apprenticeship=a, status="verified")
    assert (verified.minutes, verified.date) == (180, datetime.date(2025, 10, 6))
    assert SignOff.objects.live().get(apprenticeship=a).ksb.code == "K1"
    assert all(f.erased_at for f in EvidenceFile.objects.filter(apprenticeship=a))
    assert set(EvidenceFile.objects.filter(apprenticeship=a).values_list("original_name", flat=True)) == {"[erased]"}
    assert ProgressReview.objects.get(apprenticeship=a).wellbeing == "[erased]"
    assert ProgressReview.objects.get(apprenticeship=a).plan_updates == ""


def test_the_account_becomes_a_pseudonym_nobody_can_sign_in_as(erased, client):
    person = User.objects.get(pk=erased["apprenticeship"].apprentice_id)
    assert str(person) == f"Erased apprentice {person.pk}"
    assert person.email == f"erased-{person.pk}@invalid"
    assert not person.is_active and not person.has_usable_password()
    for address in (EMAIL, person.email):
        response = client.post("/accounts/sign-in/", {"username": address, "password": PASSWORD})
        assert response.status_code == 200
        assert "_auth_user_id" not in client.session


def test_a_session_open_at_the_erasure_ends(
    record, client, provider_admin, django_capture_on_commit_callbacks, django_user_model
):
    apprentice_client = type(client)()
    apprentice_client.force_login(record.apprentice)
    assert apprentice_client.get("/portfolio/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        erasure.erase_personal_data(apprenticeship=record, by=provider_admin, reason=REASON)
    response = apprentice_client.get("/portfolio/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/sign-in/")


def test_verify_audit_passes_and_reports_the_erased_files(erased):
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    text = out.getvalue()
    assert "Audit log intact" in text
    assert "all that are kept match their hashes" in text
    assert "2 files behind live sign-offs erased on" in text
    assert f"Erased apprentice {erased['apprenticeship'].apprentice_id}" in text


def test_a_file_marked_erased_without_an_erasure_on_record_fails_verify_audit(apprenticeship, assessor):
    from django.utils import timezone

    from reviews.tests.helpers import signed_off

    sign_off = signed_off(apprenticeship, "K1", files=("sop.pdf",))
    EvidenceFile.objects.filter(signed_copies__sign_off=sign_off).update(erased_at=timezone.now())
    with pytest.raises(CommandError, match="marked erased, but no erasure in the audit log names it"):
        call_command("verify_audit", stdout=io.StringIO())


def test_only_a_withdrawn_apprenticeship_is_erased(person, apprenticeship, provider_admin):
    for status in ("active", "break", "gateway", "completed"):
        Apprenticeship.objects.filter(pk=apprenticeship.pk).update(status=status)
        apprenticeship.refresh_from_db()
        with pytest.raises(ValidationError, match="Only a withdrawn apprenticeship"):
            erasure.erase_personal_data(apprenticeship=apprenticeship, by=provider_admin, reason=REASON)
    person.refresh_from_db()
    assert person.email == EMAIL and person.is_active
    assert not AuditEntry.objects.filter(action=erasure.ERASED_ACTION).exists()


@pytest.mark.parametrize("who", ["assessor", "iqa", "mentor", "other_assessor", "outsider", "apprentice"])
def test_only_a_provider_admin_of_its_own_provider_erases(who, request, person, apprenticeship):
    Apprenticeship.objects.filter(pk=apprenticeship.pk).update(status="withdrawn")
    apprenticeship.refresh_from_db()
    with pytest.raises(PermissionDenied):
        erasure.erase_personal_data(apprenticeship=apprenticeship, by=request.getfixturevalue(who), reason=REASON)
    person.refresh_from_db()
    assert person.email == EMAIL


@pytest.mark.parametrize("who, status", [("assessor", 403), ("iqa", 403), ("apprentice", 403), ("outsider", 404)])
def test_the_erasure_page_is_for_the_providers_admins(who, status, request, client, apprenticeship):
    Apprenticeship.objects.filter(pk=apprenticeship.pk).update(status="withdrawn")
    client.force_login(request.getfixturevalue(who))
    assert client.get(f"/apprenticeships/{apprenticeship.pk}/erase/").status_code == status
    response = client.post(
        f"/apprenticeships/{apprenticeship.pk}/erase/", {"confirm_name": str(apprenticeship.apprentice), "reason": "x"}
    )
    assert response.status_code == status
    assert not AuditEntry.objects.filter(action=erasure.ERASED_ACTION).exists()


def test_the_name_must_be_typed_to_confirm(client, person, apprenticeship, provider_admin):
    Apprenticeship.objects.filter(pk=apprenticeship.pk).update(status="withdrawn")
    client.force_login(provider_admin)
    page = client.get(f"/apprenticeships/{apprenticeship.pk}/erase/").content.decode()
    assert f"Type <strong>{FIRST} {LAST}</strong> to confirm" in page
    response = client.post(f"/apprenticeships/{apprenticeship.pk}/erase/", {"confirm_name": FIRST, "reason": REASON})
    assert response.status_code == 200
    assert f"Type the name exactly as shown: {FIRST} {LAST}." in response.content.decode()
    person.refresh_from_db()
    assert person.email == EMAIL


def test_a_reason_naming_the_apprentice_is_refused(client, person, apprenticeship, provider_admin):
    Apprenticeship.objects.filter(pk=apprenticeship.pk).update(status="withdrawn")
    client.force_login(provider_admin)
    response = client.post(
        f"/apprenticeships/{apprenticeship.pk}/erase/",
        {"confirm_name": f"{FIRST} {LAST}", "reason": f"{FIRST} asked us to"},
    )
    assert response.status_code == 200
    assert "Leave the apprentice&#x27;s name and email out of the reason" in response.content.decode()
    assert not AuditEntry.objects.filter(action=erasure.ERASED_ACTION).exists()


def test_erasing_again_is_refused_and_the_page_says_when(erased, client, provider_admin):
    a = erased["apprenticeship"]
    with pytest.raises(ValidationError, match="was erased on"):
        erasure.erase_personal_data(apprenticeship=a, by=provider_admin, reason=REASON)
    client.force_login(provider_admin)
    page = client.get(f"/apprenticeships/{a.pk}/erase/").content.decode()
    assert "personal data was erased on" in page and "<form" not in page.split("<main", 1)[1].split("</main>")[0]


def test_an_apprentice_with_another_open_apprenticeship_keeps_their_account(
    person, apprenticeship, provider_admin, st0220
):
    ApprenticeshipFactory(
        apprentice=person,
        provider=apprenticeship.provider,
        employer=apprenticeship.employer,
        assessor=apprenticeship.assessor,
        standard=st0220,
        start_date=datetime.date(2026, 1, 5),
        planned_end_date=datetime.date(2028, 1, 5),
    )
    Apprenticeship.objects.filter(pk=apprenticeship.pk).update(status="withdrawn")
    apprenticeship.refresh_from_db()
    with pytest.raises(ValidationError, match="their account stays while it is not withdrawn"):
        erasure.erase_personal_data(apprenticeship=apprenticeship, by=provider_admin, reason=REASON)


def test_no_erasure_while_an_export_that_may_hold_them_is_being_made(person, apprenticeship, provider_admin):
    Apprenticeship.objects.filter(pk=apprenticeship.pk).update(status="withdrawn")
    apprenticeship.refresh_from_db()
    Export.objects.create(kind="cohort", requested_by=provider_admin, provider=apprenticeship.provider, state="running")
    with pytest.raises(ValidationError, match="is being made"):
        erasure.erase_personal_data(apprenticeship=apprenticeship, by=provider_admin, reason=REASON)


def test_the_apprenticeship_page_offers_erasure_only_when_withdrawn(client, apprenticeship, provider_admin, assessor):
    client.force_login(provider_admin)
    link = f'href="/apprenticeships/{apprenticeship.pk}/erase/"'
    assert link not in client.get(f"/apprenticeships/{apprenticeship.pk}/").content.decode()
    Apprenticeship.objects.filter(pk=apprenticeship.pk).update(status="withdrawn")
    assert link in client.get(f"/apprenticeships/{apprenticeship.pk}/").content.decode()
    client.force_login(assessor)
    assert link not in client.get(f"/apprenticeships/{apprenticeship.pk}/").content.decode()


def test_the_confirm_page_says_what_goes_and_what_stays(client, record, provider_admin):
    client.force_login(provider_admin)
    page = client.get(f"/apprenticeships/{record.pk}/erase/").content.decode()
    assert "Erased for good" in page and "Kept for funding audits" in page
    assert "2 evidence files" in page and "3 evidence versions" in page


def test_exports_leave_out_an_erased_apprenticeship(erased, provider_admin, django_capture_on_commit_callbacks):
    a = erased["apprenticeship"]
    assert a not in exports._cohort(provider_admin, {})
    with django_capture_on_commit_callbacks(execute=True):
        export = exports.request_portfolio_export(apprenticeship=a, by=provider_admin)
    export.refresh_from_db()
    assert export.state == Export.State.FAILED
    assert "personal data has been erased" in export.error
