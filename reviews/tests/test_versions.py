"""Moving an apprenticeship to a newer version of its standard: what carries over, what is listed."""

from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from evidence import services as evidence_services
from evidence.models import EvidenceItem, EvidenceVersion, KSBMapping
from evidence.tests.factories import evidence
from portal.audit import verify_chain
from portal.models import Apprenticeship, AuditEntry, Notice
from portal.tests.factories import ApprenticeshipFactory
from reviews import services
from reviews.models import KSBJudgement, SignOff
from reviews.progress import CoverageState, progress_of
from reviews.tests.helpers import accepted, ksb, signed_off
from reviews.versions import left_on_earlier_versions, move_apprenticeship, preview_move
from standards.importer import import_standards
from standards.models import Standard

DATA = Path(__file__).resolve().parents[2] / "standards" / "tests" / "data"
# Quick to make in bulk: a reflective account needs no file.
REFLECTION = {"files": (), "evidence_type": EvidenceItem.Type.REFLECTIVE_ACCOUNT}


@pytest.fixture
def st9901(db):
    """ST9901 1.0 and 1.1: K2 removed (K3..K5 move up), K4 reworded as K3, S2 reworded, S4 replaced."""
    import_standards((DATA / "ST9901-both-versions.json").read_bytes())
    return Standard.objects.get(reference="ST9901", version="1.0"), Standard.objects.get(
        reference="ST9901", version="1.1"
    )


@pytest.fixture
def on_old(apprentice, provider, employer, assessor, mentor, st9901):
    return ApprenticeshipFactory(
        apprentice=apprentice,
        provider=provider,
        employer=employer,
        assessor=assessor,
        mentor=mentor,
        standard=st9901[0],
    )


def sign(apprenticeship, code, item):
    return services.sign_off_ksb(
        apprenticeship=apprenticeship,
        ksb=ksb(apprenticeship, code),
        versions=[item.versions.get()],
        by=apprenticeship.assessor,
        comment=f"Meets {code}.",
    )


@pytest.fixture
def portfolio(on_old):
    """Accepted evidence on kept, moved, reworded and removed KSBs; sign-offs live and revoked; a draft."""
    main = accepted(on_old, codes=("K1", "K2", "K4"), title="Risk assessment for a new assay")
    sign(on_old, "K1", main)
    gone = sign(on_old, "K4", main)
    moved_item = accepted(on_old, codes=("K3",), title="GLP audit of my bench records")
    first = sign(on_old, "K3", moved_item)
    services.revoke_sign_off(sign_off=first, by=on_old.assessor, reason="Wrong evidence chosen.")
    again = sign(on_old, "K3", moved_item)
    reworded = signed_off(on_old, "S2", title="Calibrating the pH meter")
    draft = evidence(on_old, codes=("K2", "K5"), title="Data protection refresher")
    withdrawn = evidence(on_old, codes=("S4", "S1"), title="Team briefing on results", submit=True)
    evidence_services.withdraw_evidence(item=withdrawn, by=on_old.apprentice)
    return {
        "main": main,
        "moved_item": moved_item,
        "reworded": reworded,
        "draft": draft,
        "withdrawn": withdrawn,
        "gone": gone,
        "revoked": first,
        "again": again,
    }


def lines(report_lines):
    return [(line.title, line.code, line.change, line.new_code) for line in report_lines]


# --- The service ---------------------------------------------------------------------------------


def test_a_move_carries_over_what_is_unchanged_and_lists_the_rest(on_old, portfolio, st9901, provider_admin):
    old, new = st9901
    frozen_before = list(
        EvidenceVersion.objects.filter(submitted_at__isnull=False)
        .order_by("pk")
        .values("pk", "title", "reflection", "submitted_at", "activity_date")
    )
    notes_before = sorted(KSBMapping.objects.values_list("pk", "note"))

    report = move_apprenticeship(apprenticeship=on_old, to_standard=new, by=provider_admin)

    on_old.refresh_from_db()
    assert on_old.standard == new
    assert lines(report.carried) == [
        ("Risk assessment for a new assay", "K1", "unchanged", "K1"),
        ("GLP audit of my bench records", "K3", "unchanged", "K2"),
        ("Team briefing on results", "S1", "unchanged", "S1"),
    ]
    assert lines(report.to_remap) == [
        ("Risk assessment for a new assay", "K2", "removed", ""),
        ("Risk assessment for a new assay", "K4", "reworded", "K3"),
        ("Calibrating the pH meter", "S2", "reworded", "S2"),
        ("Team briefing on results", "S4", "removed", ""),
    ]
    # Left for the apprentice in drafts: K2 of the never-submitted one, S4 of the withdrawn one's new draft.
    assert report.draft_mappings_to_remap == 2
    assert [(line.code, line.new_code) for line in report.sign_offs_carried] == [("K1", "K1"), ("K3", "K2")]
    assert [(line.code, line.change, line.new_code) for line in report.sign_offs_to_redo] == [
        ("K4", "reworded", "K3"),
        ("S2", "reworded", "S2"),
    ]

    # Mappings now point at the new version's statement with the same text, or stay where they were.
    def mapped(item):
        return sorted(
            (m.version.number, m.ksb.standard.version, m.ksb.code)
            for m in KSBMapping.objects.filter(version__item=item).select_related("ksb__standard", "version")
        )

    assert mapped(portfolio["main"]) == [(1, "1.0", "K2"), (1, "1.0", "K4"), (1, "1.1", "K1")]
    assert mapped(portfolio["moved_item"]) == [(1, "1.1", "K2")]
    assert mapped(portfolio["draft"]) == [(1, "1.0", "K2"), (1, "1.1", "K4")]
    assert mapped(portfolio["withdrawn"]) == [(1, "1.0", "S4"), (1, "1.1", "S1"), (2, "1.0", "S4"), (2, "1.1", "S1")]

    # Sign-offs: live and revoked ones on unchanged text move; the live one on a reworded KSB stays, still live.
    def where(sign_off):
        sign_off.refresh_from_db()
        return (sign_off.ksb.standard.version, sign_off.ksb.code, sign_off.is_live)

    assert where(portfolio["revoked"]) == ("1.1", "K2", False)
    assert where(portfolio["again"]) == ("1.1", "K2", True)
    assert where(portfolio["gone"]) == ("1.0", "K4", True)

    # Nothing submitted or judged changed: texts, notes, judgements and sign-off evidence are as they were.
    assert (
        list(
            EvidenceVersion.objects.filter(submitted_at__isnull=False)
            .order_by("pk")
            .values("pk", "title", "reflection", "submitted_at", "activity_date")
        )
        == frozen_before
    )
    assert sorted(KSBMapping.objects.values_list("pk", "note")) == notes_before
    assert KSBJudgement.objects.filter(mapping__version__item=portfolio["moved_item"], confirmed=True).count() == 1
    assert list(portfolio["again"].versions.all()) == [portfolio["moved_item"].versions.get()]


def test_carried_mappings_point_at_the_same_words(on_old, portfolio, st9901, provider_admin):
    old, new = st9901
    before = {m.pk: m.ksb.text for m in KSBMapping.objects.select_related("ksb")}
    move_apprenticeship(apprenticeship=on_old, to_standard=new, by=provider_admin)
    after = {m.pk: m.ksb.text for m in KSBMapping.objects.select_related("ksb")}
    assert after == before


def test_progress_after_a_move_counts_what_carried_over(on_old, portfolio, st9901, provider_admin):
    move_apprenticeship(apprenticeship=on_old, to_standard=st9901[1], by=provider_admin)
    on_old.refresh_from_db()
    states = {cell.ksb.code: cell.state for cell in progress_of(on_old).cells}
    assert len(states) == 11
    assert states["K1"] == states["K2"] == CoverageState.SIGNED_OFF
    assert states["K3"] == states["S2"] == CoverageState.NONE  # the reworded ones await new evidence
    assert states["K4"] == CoverageState.DRAFT  # the draft's carried mapping


def test_the_move_is_one_audit_entry_with_the_report(on_old, portfolio, st9901, provider_admin):
    before = AuditEntry.objects.count()
    report = move_apprenticeship(apprenticeship=on_old, to_standard=st9901[1], by=provider_admin)
    assert AuditEntry.objects.count() == before + 1
    entry = AuditEntry.objects.order_by("-sequence").first()
    assert (entry.action, entry.actor, entry.apprenticeship_id) == (
        "apprenticeship.version_moved",
        provider_admin,
        on_old.pk,
    )
    assert entry.payload["from"] == ["ST9901", "1.0"] and entry.payload["to"] == ["ST9901", "1.1"]
    main = portfolio["main"].pk
    assert [main, 1, "K4", "reworded", "K3"] in entry.payload["to_remap"]
    assert [portfolio["again"].pk, "K3", "unchanged", "K2"] in entry.payload["sign_offs_carried"]
    assert [portfolio["gone"].pk, "K4", "reworded", "K3"] in entry.payload["sign_offs_to_redo"]
    assert len(entry.payload["mappings_carried"]) == len(report.repointed) == 5
    assert entry.payload["draft_mappings_to_remap"] == 2
    assert verify_chain().intact


def test_the_assessor_and_apprentice_are_told(on_old, portfolio, st9901, provider_admin):
    move_apprenticeship(apprenticeship=on_old, to_standard=st9901[1], by=provider_admin)
    to_assessor = Notice.objects.get(recipient=on_old.assessor, message__contains="moved to")
    assert to_assessor.message.endswith("4 mapped KSBs to re-map and 2 sign-offs to redo.")
    assert to_assessor.url == f"/apprenticeships/{on_old.pk}/"
    to_apprentice = Notice.objects.get(recipient=on_old.apprentice, message__contains="moved to")
    assert "Map your drafts again: 2 of their KSBs changed." in to_apprentice.message


def test_the_preview_changes_nothing_and_matches_the_move(on_old, portfolio, st9901, provider_admin):
    mappings = sorted(KSBMapping.objects.values_list("pk", "ksb_id"))
    preview = preview_move(on_old, st9901[1])
    assert sorted(KSBMapping.objects.values_list("pk", "ksb_id")) == mappings
    assert AuditEntry.objects.filter(action="apprenticeship.version_moved").count() == 0
    report = move_apprenticeship(apprenticeship=on_old, to_standard=st9901[1], by=provider_admin)
    assert preview.payload == report.payload


def test_left_on_earlier_versions_lists_what_the_assessor_still_has_to_re_map(
    on_old, portfolio, st9901, provider_admin
):
    assert not left_on_earlier_versions(on_old)
    move_apprenticeship(apprenticeship=on_old, to_standard=st9901[1], by=provider_admin)
    on_old.refresh_from_db()
    left = left_on_earlier_versions(on_old)
    assert [(line.title, line.code, line.change, line.new_code) for line in left.mappings] == [
        ("Risk assessment for a new assay", "K2", "removed", ""),
        ("Risk assessment for a new assay", "K4", "reworded", "K3"),
        ("Calibrating the pH meter", "S2", "reworded", "S2"),
        ("Team briefing on results", "S4", "removed", ""),
    ]
    assert [(line.code, line.new_code) for line in left.sign_offs] == [("K4", "K3"), ("S2", "S2")]


@pytest.mark.parametrize("persona", ["assessor", "iqa", "apprentice", "outsider"])
def test_only_a_provider_admin_of_the_provider_moves_an_apprenticeship(on_old, st9901, persona, request):
    with pytest.raises(PermissionDenied):
        move_apprenticeship(apprenticeship=on_old, to_standard=st9901[1], by=request.getfixturevalue(persona))
    on_old.refresh_from_db()
    assert on_old.standard == st9901[0]


def test_a_move_goes_only_to_a_newer_version_of_the_same_standard(on_old, st9901, st0220, provider_admin):
    old, new = st9901
    for target, message in [
        (old, "moves only to a newer version: it is on 1.0, and 1.0 is not newer"),
        (st0220, "ST0220 is another standard"),
    ]:
        with pytest.raises(ValidationError, match=message):
            move_apprenticeship(apprenticeship=on_old, to_standard=target, by=provider_admin)
    move_apprenticeship(apprenticeship=on_old, to_standard=new, by=provider_admin)
    with pytest.raises(ValidationError, match="it is on 1.1, and 1.0 is not newer"):
        move_apprenticeship(apprenticeship=on_old, to_standard=old, by=provider_admin)
    assert AuditEntry.objects.filter(action="apprenticeship.version_moved").count() == 1


def test_a_completed_apprenticeship_stays_on_its_version(on_old, st9901, provider_admin):
    Apprenticeship.objects.filter(pk=on_old.pk).update(status=Apprenticeship.Status.COMPLETED)
    with pytest.raises(ValidationError, match="completed"):
        move_apprenticeship(apprenticeship=on_old, to_standard=st9901[1], by=provider_admin)


def test_after_a_move_only_the_new_versions_ksbs_can_be_signed_off(on_old, portfolio, st9901, provider_admin):
    move_apprenticeship(apprenticeship=on_old, to_standard=st9901[1], by=provider_admin)
    old_s1 = st9901[0].ksbs.get(kind="S", number=1)
    with pytest.raises(ValidationError, match="not part of this apprenticeship's standard"):
        services.sign_off_ksb(apprenticeship=on_old, ksb=old_s1, versions=[], by=on_old.assessor, comment="Meets S1.")


# --- The page ------------------------------------------------------------------------------------


def test_the_page_previews_the_move_and_confirming_moves(client, on_old, portfolio, st9901, provider_admin):
    client.force_login(provider_admin)
    response = client.get(f"/apprenticeships/{on_old.pk}/move-version/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Move to version 1.1" in body
    assert 'href="/standards/ST9901/compare/1.0/1.1/"' in body
    assert "Risk assessment for a new assay" in body
    assert "reworded as K3" in body and "not in version 1.1" in body
    assert "K3 → K2" in body
    assert "Data protection refresher" not in body  # a draft: staff never see its title
    assert SignOff.objects.filter(ksb__standard=st9901[1]).count() == 0

    response = client.post(f"/apprenticeships/{on_old.pk}/move-version/", {"to": "1.1"}, follow=True)
    assert response.redirect_chain == [(f"/apprenticeships/{on_old.pk}/", 302)]
    body = response.content.decode()
    assert "moved to ST9901 version 1.1" in body
    assert "Still on an earlier version of the standard" in body
    assert "reworded as K3" in body
    on_old.refresh_from_db()
    assert on_old.standard == st9901[1]


def test_choosing_a_version_that_is_not_newer_is_refused_on_the_page(client, on_old, st9901, provider_admin):
    client.force_login(provider_admin)
    for version in ["1.0", "9.9"]:
        response = client.post(f"/apprenticeships/{on_old.pk}/move-version/", {"to": version})
        assert response.status_code == 200
        assert "Choose one of the newer versions" in response.content.decode()
    assert client.get(f"/apprenticeships/{on_old.pk}/move-version/", {"to": "1.0"}).status_code == 200
    on_old.refresh_from_db()
    assert on_old.standard == st9901[0]


def test_a_refusal_from_the_move_is_shown_on_the_page(client, on_old, st9901, provider_admin):
    Apprenticeship.objects.filter(pk=on_old.pk).update(status=Apprenticeship.Status.WITHDRAWN)
    client.force_login(provider_admin)
    response = client.post(f"/apprenticeships/{on_old.pk}/move-version/", {"to": "1.1"})
    assert response.status_code == 200
    assert "This apprenticeship is withdrawn" in response.content.decode()


def test_with_no_newer_version_the_page_says_to_import_one(client, apprenticeship, provider_admin):
    client.force_login(provider_admin)
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/move-version/").content.decode()
    assert "no newer version of ST0220" in body
    assert 'href="/standards/import/"' in body


@pytest.mark.parametrize("persona", ["apprentice", "assessor", "mentor", "iqa", "outsider", "other_apprentice"])
def test_everyone_but_the_providers_admins_gets_a_404(client, on_old, st9901, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(f"/apprenticeships/{on_old.pk}/move-version/").status_code == 404
    assert client.post(f"/apprenticeships/{on_old.pk}/move-version/", {"to": "1.1"}).status_code == 404
    on_old.refresh_from_db()
    assert on_old.standard == st9901[0]


def test_the_page_needs_sign_in(client, on_old):
    response = client.get(f"/apprenticeships/{on_old.pk}/move-version/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/sign-in/")


def test_the_apprenticeship_page_offers_the_move_to_provider_admins_only(
    client, on_old, st9901, provider_admin, assessor
):
    link = f'href="/apprenticeships/{on_old.pk}/move-version/"'
    client.force_login(provider_admin)
    assert link in client.get(f"/apprenticeships/{on_old.pk}/").content.decode()
    client.force_login(assessor)
    assert link not in client.get(f"/apprenticeships/{on_old.pk}/").content.decode()


def test_preview_queries_do_not_grow_with_the_portfolio(
    client, on_old, st9901, provider_admin, django_assert_max_num_queries
):
    for n in range(40):
        evidence(on_old, codes=("K1", "K2", "S2", "B1"), title=f"Item {n}", submit=n % 2 == 0, **REFLECTION)
    client.force_login(provider_admin)
    with django_assert_max_num_queries(14):
        response = client.get(f"/apprenticeships/{on_old.pk}/move-version/")
    assert len(response.context["report"].carried) == 40
    assert len(response.context["report"].to_remap) == 40


def test_apprenticeship_page_queries_do_not_grow_with_what_was_left_behind(
    client, on_old, st9901, provider_admin, django_assert_max_num_queries
):
    for n in range(30):
        evidence(on_old, codes=("K2", "K4", "S2"), title=f"Item {n}", submit=True, **REFLECTION)
    move_apprenticeship(apprenticeship=on_old, to_standard=st9901[1], by=provider_admin)
    client.force_login(on_old.assessor)
    # 21 measured, the programme panel (hours, reviews, plan) and the evidence stamp progress is cached under included.
    with django_assert_max_num_queries(21):
        response = client.get(f"/apprenticeships/{on_old.pk}/")
    assert len(response.context["left_behind"].mappings) == 90
