"""seed_scale: a large provider's data in bulk, with the shapes the benchmark relies on."""

import hashlib
import io
from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory

from evidence.models import EvidenceFile, EvidenceItem, EvidenceVersion, KSBMapping, OTJActivity
from evidence.uploads import ALLOWED_TYPES
from portal.models import Apprenticeship, BreakInLearning, Organisation, User
from reviews import scale
from reviews.models import Decision, KSBJudgement, ProgressReview, SignedFile, SignOff, TrainingPlan
from reviews.scale import SCALE_PASSWORD, Shape, build_scale
from reviews.signatures import content_hash

# Small numbers of each, so that a few dozen apprentices still make several providers and employers.
SHAPE = Shape(apprentices_per_provider=20, apprentices_per_employer=8, caseload=6, mentees_per_mentor=3)
# Fifty: the first to be withdrawn is the fiftieth.
APPRENTICES = 50
ITEMS = 10


@pytest.fixture
def built(st0220):
    return build_scale(apprentices=APPRENTICES, evidence_per_apprentice=ITEMS, standard=st0220, shape=SHAPE)


def scale_apprenticeships():
    return Apprenticeship.objects.filter(apprentice__email__endswith="@scale.test")


def test_people_and_organisations_have_the_shapes_asked_for(built):
    assert scale_apprenticeships().count() == APPRENTICES
    providers = Organisation.objects.filter(kind=Organisation.Kind.PROVIDER, name__startswith="Scale Provider")
    # 20 + 20 + 10 apprentices; employers of 8 at most.
    assert providers.count() == 3
    per_provider = Counter(scale_apprenticeships().values_list("provider__name", flat=True))
    assert sorted(per_provider.values()) == [10, 20, 20]
    per_employer = Counter(scale_apprenticeships().values_list("employer_id", flat=True))
    assert max(per_employer.values()) <= 8
    employers = Organisation.objects.filter(kind=Organisation.Kind.EMPLOYER, name__startswith="Scale Employer")
    assert employers.count() == 3 + 3 + 2
    for provider in providers:
        people = Counter(User.objects.filter(organisation=provider).values_list("role", flat=True))
        assert people[User.Role.PROVIDER_ADMIN] == 2
        assert people[User.Role.IQA] == 2


def test_each_assessor_has_a_caseload_of_at_most_30_evened_out(built):
    for provider in Organisation.objects.filter(name__startswith="Scale Provider"):
        assessors = User.objects.filter(organisation=provider, role=User.Role.ASSESSOR)
        caseloads = [Apprenticeship.objects.filter(assessor=a).count() for a in assessors]
        assert max(caseloads) <= SHAPE.caseload
        assert max(caseloads) - min(caseloads) <= 1
    for a in scale_apprenticeships().select_related("apprentice", "assessor", "mentor"):
        assert a.assessor.organisation_id == a.provider_id == a.apprentice.organisation_id
        if a.mentor:
            assert a.mentor.organisation_id == a.employer_id


def test_most_apprentices_have_a_mentor_and_each_mentor_a_few(built):
    without = scale_apprenticeships().filter(mentor__isnull=True).count()
    assert 0 < without <= APPRENTICES // 5
    mentees = Counter(scale_apprenticeships().exclude(mentor=None).values_list("mentor_id", flat=True))
    assert max(mentees.values()) <= SHAPE.mentees_per_mentor


def test_apprenticeships_are_mostly_active_with_some_on_a_break_or_withdrawn(built):
    statuses = Counter(scale_apprenticeships().values_list("status", flat=True))
    assert statuses[Apprenticeship.Status.ACTIVE] > APPRENTICES * 0.8
    assert statuses[Apprenticeship.Status.BREAK_IN_LEARNING] == BreakInLearning.objects.filter(ends_on=None).count() > 0
    assert statuses[Apprenticeship.Status.WITHDRAWN] > 0


def test_every_apprentice_has_their_evidence_in_every_state(built, st0220):
    per_apprenticeship = Counter(EvidenceItem.objects.values_list("apprenticeship_id", flat=True))
    assert set(per_apprenticeship.values()) == {ITEMS}
    statuses = Counter(EvidenceItem.objects.values_list("status", flat=True))
    assert set(statuses) == set(EvidenceItem.Status.values)
    assert statuses[EvidenceItem.Status.ACCEPTED] > sum(statuses.values()) / 2
    # Every KSB of the standard is claimed somewhere.
    assert set(KSBMapping.objects.values_list("ksb_id", flat=True)) == set(st0220.ksbs.values_list("pk", flat=True))
    # Some items went round twice: returned, then resubmitted or accepted.
    assert EvidenceVersion.objects.filter(number=2).exists()


def test_versions_and_decisions_agree_with_each_item_status(built):
    items = EvidenceItem.objects.prefetch_related("versions__decision")
    for item in items:
        versions = sorted(item.versions.all(), key=lambda v: v.number)
        newest = versions[-1]
        decision = getattr(newest, "decision", None)
        if item.status == EvidenceItem.Status.DRAFT:
            assert newest.submitted_at is None
        else:
            assert newest.submitted_at is not None
        expected = {
            EvidenceItem.Status.DRAFT: None,
            EvidenceItem.Status.SUBMITTED: None,
            EvidenceItem.Status.ACCEPTED: Decision.Outcome.ACCEPTED,
            EvidenceItem.Status.RETURNED: Decision.Outcome.RETURNED,
        }[item.status]
        assert (decision.outcome if decision else None) == expected
        # Earlier versions were returned with feedback.
        for earlier in versions[:-1]:
            assert earlier.decision.outcome == Decision.Outcome.RETURNED and earlier.decision.feedback
        assert item.created_at <= item.updated_at


def test_timestamps_are_spread_and_django_stamps_again_afterwards(built):
    # A third have done nothing for over four weeks; the builder set the times it was given.
    assert EvidenceItem.objects.dates("updated_at", "month").count() > 3
    field = EvidenceItem._meta.get_field("updated_at")
    assert field.auto_now is True
    assert SignOff._meta.get_field("signed_at").auto_now_add is True


def test_files_exist_in_storage_with_their_recorded_size_type_and_hash(built):
    files = list(EvidenceFile.objects.all())
    assert len(files) > APPRENTICES * ITEMS / 2
    types = Counter(f.content_type for f in files)
    assert {"image/jpeg", "image/png", "application/pdf"} <= set(types)
    distinct = {}
    for stored in files:
        assert stored.content_type in ALLOWED_TYPES
        if stored.file.name not in distinct:
            with default_storage.open(stored.file.name, "rb") as handle:
                distinct[stored.file.name] = handle.read()
        data = distinct[stored.file.name]
        assert len(data) == stored.size
        assert hashlib.sha256(data).hexdigest() == stored.sha256
        if stored.is_image:
            assert default_storage.exists(stored.print_copy.name)
    # A few blobs, shared by many rows.
    assert len(distinct) <= 3 * 2 * scale.COPIES_PER_BLOB


def test_sign_offs_rely_on_accepted_evidence_with_the_files_hashes(built):
    live = SignOff.objects.live().prefetch_related("versions__mappings__judgement", "signed_files__file")
    assert live.count() > APPRENTICES
    for sign_off in live:
        confirmed = {
            m.ksb_id
            for v in sign_off.versions.all()
            for m in v.mappings.all()
            if getattr(m, "judgement", None) and m.judgement.confirmed
        }
        assert sign_off.ksb_id in confirmed
        for signed in sign_off.signed_files.all():
            assert signed.sha256 == signed.file.sha256
    assert SignOff.objects.exclude(revoked_at=None).exists()
    assert SignedFile.objects.count() > 0
    assert KSBJudgement.objects.filter(confirmed=False).exists()
    # The audit command re-hashes every file behind a live sign-off from storage.
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "all match" in out.getvalue()


def test_programme_hours_reviews_and_plans(built):
    statuses = Counter(OTJActivity.objects.values_list("status", flat=True))
    assert set(statuses) == set(OTJActivity.Status.values)
    assert all(TrainingPlan.objects.filter(apprenticeship=a).exists() for a in scale_apprenticeships())
    reviews = ProgressReview.objects.prefetch_related("actions", "signatures")
    assert reviews.filter(locked_at__isnull=False).exists() and reviews.filter(locked_at=None).exists()
    for review in reviews:
        signatures = list(review.signatures.all())
        if review.locked_at:
            assert len(signatures) == 3
        assert all(s.content_hash == content_hash(review) for s in signatures)


def test_everyone_signs_in_with_the_printed_password(built):
    request = RequestFactory().post("/accounts/sign-in/")
    for address in ("apprentice1", f"apprentice{APPRENTICES}", "assessor1", "mentor1", "iqa1", "admin1"):
        user = authenticate(request, username=f"{address}@scale.test", password=SCALE_PASSWORD)
        assert user is not None, address


def test_the_key_pages_open_for_each_role(built, client):
    apprenticeship = scale_apprenticeships().order_by("pk").first()
    item = EvidenceItem.objects.filter(apprenticeship=apprenticeship, status=EvidenceItem.Status.ACCEPTED).first()
    pages = {
        apprenticeship.apprentice: ["/portfolio/", "/evidence/", f"/evidence/{item.pk}/", "/standards/ST0220/1.0/"],
        apprenticeship.assessor: ["/assessor/", f"/apprenticeships/{apprenticeship.pk}/", "/home/"],
        User.objects.get(email="admin1@scale.test"): ["/provider/"],
        User.objects.get(email="iqa1@scale.test"): ["/iqa/"],
        User.objects.get(email="mentor1@scale.test"): ["/mentor/"],
    }
    signed = SignOff.objects.live().filter(apprenticeship=apprenticeship).select_related("ksb").first()
    pages[apprenticeship.assessor].append(f"/apprenticeships/{apprenticeship.pk}/ksbs/{signed.ksb.code}/")
    for person, urls in pages.items():
        client.force_login(person)
        for url in urls:
            assert client.get(url).status_code == 200, url


def test_a_failed_build_leaves_no_rows_and_no_files(st0220, monkeypatch):
    def broken(self, batch):
        raise RuntimeError("disk full")

    monkeypatch.setattr(scale.ScaleBuilder, "notices", broken)
    with pytest.raises(RuntimeError):
        build_scale(apprentices=5, evidence_per_apprentice=3, standard=st0220, shape=SHAPE)
    assert not User.objects.filter(email__endswith="@scale.test").exists()
    assert not EvidenceFile.objects.exists()
    assert default_storage.listdir("evidence")[1] == []


def test_command_prints_the_rate_and_the_logins_and_refuses_a_second_run(st0220, settings):
    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_scale", apprentices=7, evidence_per_apprentice=4, stdout=out)
    printed = out.getvalue()
    assert "rows/s" in printed
    assert SCALE_PASSWORD in printed
    assert "apprentice1@scale.test … apprentice7@scale.test" in printed
    assert EvidenceItem.objects.count() == 28
    with pytest.raises(CommandError, match="already holds the scale set"):
        call_command("seed_scale", apprentices=7, evidence_per_apprentice=4, stdout=out)


def test_command_refuses_while_debug_is_off_unless_allowed(st0220, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_scale", apprentices=2, evidence_per_apprentice=2, stdout=io.StringIO())
    call_command("seed_scale", apprentices=2, evidence_per_apprentice=2, allow_without_debug=True, stdout=io.StringIO())
    assert scale_apprenticeships().count() == 2
