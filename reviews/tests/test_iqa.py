"""The IQA's pages: a read-only sample of each assessor's work, and the IQA's own reviews of it."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from evidence.models import EvidenceItem, EvidenceVersion
from evidence.tests.factories import evidence
from portal.models import Apprenticeship, AuditEntry, User
from portal.tests.factories import ApprenticeshipFactory, AssessorFactory, IQAFactory
from reviews.models import Decision, IQAReview, SignOff
from reviews.services import accept_evidence, return_evidence, sign_off_ksb

OTHER_ROLES = ["apprentice", "assessor", "mentor", "provider_admin", "outsider"]


def accepted(apprenticeship: Apprenticeship, title: str, codes: tuple[str, ...] = ("K1",)) -> Decision:
    item = evidence(apprenticeship, title=title, codes=codes, submit=True)
    return accept_evidence(item=item, by=apprenticeship.assessor, feedback=f"Good work on {title}.")


def signed_off(decision: Decision, code: str = "K1") -> SignOff:
    apprenticeship = decision.version.item.apprenticeship
    return sign_off_ksb(
        apprenticeship=apprenticeship,
        ksb=apprenticeship.standard.ksbs.get(kind=code[0], number=int(code[1:])),
        versions=[decision.version],
        by=apprenticeship.assessor,
        comment=f"{code} is met by the QC observation.",
    )


@pytest.fixture
def decision(apprenticeship) -> Decision:
    return accepted(apprenticeship, "QC on the haematology analyser", codes=("K1", "S18"))


@pytest.fixture
def returned(other_apprenticeship) -> Decision:
    item = evidence(other_apprenticeship, title="Sample reception log", submit=True)
    return return_evidence(item=item, by=other_apprenticeship.assessor, feedback="Say what you checked on arrival.")


@pytest.fixture
def sign_off(decision) -> SignOff:
    return signed_off(decision)


@pytest.fixture
def foreign_decision(outsider_apprenticeship) -> Decision:
    return accepted(outsider_apprenticeship, "Audit at another provider")


@pytest.fixture
def iqa_client(client, iqa):
    client.force_login(iqa)
    return client


def sample_of(response, assessor: User):
    return next(s for s in response.context["samples"] if s.assessor == assessor)


# --- The sample ------------------------------------------------------------------------------


def test_iqa_sees_each_assessors_decisions_and_sign_offs_grouped_by_assessor(
    iqa_client, assessor, other_assessor, decision, returned, sign_off
):
    response = iqa_client.get("/iqa/")

    assert response.status_code == 200
    assert [s.assessor for s in response.context["samples"]] == sorted(
        [assessor, other_assessor], key=lambda p: (p.last_name.lower(), p.first_name.lower(), p.email)
    )
    mine = sample_of(response, assessor)
    assert mine.decisions == [decision] and mine.decision_total == 1
    assert mine.sign_offs == [sign_off] and mine.sign_off_total == 1
    theirs = sample_of(response, other_assessor)
    assert theirs.decisions == [returned] and theirs.sign_offs == []
    page = response.content.decode()
    assert "QC on the haematology analyser" in page and "Sample reception log" in page
    assert f'href="/iqa/decisions/{decision.pk}/"' in page
    assert f'href="/iqa/sign-offs/{sign_off.pk}/"' in page


def test_an_assessor_with_a_caseload_but_nothing_decided_is_still_listed(iqa_client, apprenticeship, assessor):
    response = iqa_client.get("/iqa/")

    sample = sample_of(response, assessor)
    assert sample.is_empty
    assert "Nothing decided or signed off in this period." in response.content.decode()


def test_nothing_of_another_provider_shows(iqa_client, decision, foreign_decision, outsider_apprenticeship):
    foreign_sign_off = signed_off(foreign_decision)

    response = iqa_client.get("/iqa/")

    page = response.content.decode()
    assert "Audit at another provider" not in page
    assert f"/iqa/decisions/{foreign_decision.pk}/" not in page
    assert f"/iqa/sign-offs/{foreign_sign_off.pk}/" not in page
    assert outsider_apprenticeship.assessor not in [s.assessor for s in response.context["samples"]]


def test_an_iqa_of_another_provider_sees_only_theirs(client, decision, foreign_decision, outsider_provider):
    client.force_login(IQAFactory(organisation=outsider_provider))

    page = client.get("/iqa/").content.decode()

    assert "Audit at another provider" in page
    assert "QC on the haematology analyser" not in page


def test_the_sample_is_the_latest_five_of_the_last_ninety_days_with_the_total(iqa_client, apprenticeship, assessor):
    decisions = [accepted(apprenticeship, f"Evidence {n}") for n in range(8)]
    # Two are older than the period and must neither show nor count.
    Decision.objects.filter(pk__in=[decisions[0].pk, decisions[1].pk]).update(
        decided_at=timezone.now() - datetime.timedelta(days=100)
    )

    sample = sample_of(iqa_client.get("/iqa/"), assessor)

    assert sample.decision_total == 6
    assert sample.decisions == list(reversed(decisions[3:]))


def test_the_sample_shows_which_have_been_reviewed_and_how(iqa_client, iqa, decision, returned):
    IQAReview.objects.create(reviewer=iqa, decision=decision, outcome=IQAReview.Outcome.DISAGREE, comment="Thin.")

    response = iqa_client.get("/iqa/")

    page = response.content.decode()
    assert "Disagree" in page
    assert "Not reviewed" in page


# --- Who may come in -------------------------------------------------------------------------


@pytest.mark.parametrize("persona", OTHER_ROLES)
def test_other_roles_are_refused(client, persona, request, decision, sign_off):
    client.force_login(request.getfixturevalue(persona))

    for url in ("/iqa/", f"/iqa/decisions/{decision.pk}/", f"/iqa/sign-offs/{sign_off.pk}/"):
        assert client.get(url).status_code == 403
    assert client.post(f"/iqa/decisions/{decision.pk}/", {"outcome": "agree"}).status_code == 403
    assert client.post(f"/iqa/sign-offs/{sign_off.pk}/", {"outcome": "agree"}).status_code == 403
    assert not IQAReview.objects.exists()


def test_signed_out_visitors_are_sent_to_sign_in(client, decision, sign_off):
    for url in ("/iqa/", f"/iqa/decisions/{decision.pk}/", f"/iqa/sign-offs/{sign_off.pk}/"):
        assert client.get(url)["Location"].startswith("/accounts/sign-in/")


def test_another_providers_decision_or_sign_off_is_not_found(iqa_client, foreign_decision):
    foreign_sign_off = signed_off(foreign_decision)

    assert iqa_client.get(f"/iqa/decisions/{foreign_decision.pk}/").status_code == 404
    assert iqa_client.post(f"/iqa/decisions/{foreign_decision.pk}/", {"outcome": "agree"}).status_code == 404
    assert iqa_client.get(f"/iqa/sign-offs/{foreign_sign_off.pk}/").status_code == 404
    assert iqa_client.post(f"/iqa/sign-offs/{foreign_sign_off.pk}/", {"outcome": "agree"}).status_code == 404
    assert not IQAReview.objects.exists()


# --- Reading a decision or sign-off ----------------------------------------------------------


def test_the_decision_page_shows_the_evidence_and_the_assessors_judgement(iqa_client, decision):
    version = decision.version
    stored = version.files.get()

    response = iqa_client.get(f"/iqa/decisions/{decision.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "QC on the haematology analyser" in page
    assert "I ran the morning QC" in page
    assert "Good work on QC on the haematology analyser." in page
    assert "K1" in page and "S18" in page and "Confirmed" in page
    assert f'href="/evidence/files/{stored.pk}/"' in page
    assert 'type="radio"' in page and 'name="comment"' in page


def test_the_decision_page_shows_ksbs_left_unconfirmed_with_the_comment(iqa_client, apprenticeship):
    item = evidence(apprenticeship, title="Blood film", codes=("K1", "S18"), submit=True)
    s18 = item.versions.get().mappings.get(ksb__kind="S", ksb__number=18)
    decision = accept_evidence(
        item=item, by=apprenticeship.assessor, judgements={s18.pk: (False, "No staining shown.")}
    )

    page = iqa_client.get(f"/iqa/decisions/{decision.pk}/").content.decode()

    assert "Not confirmed" in page and "No staining shown." in page


def test_the_sign_off_page_shows_the_ksb_comment_evidence_and_file_hashes(iqa_client, sign_off):
    signed = sign_off.signed_files.get()

    response = iqa_client.get(f"/iqa/sign-offs/{sign_off.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "K1" in page and "K1 is met by the QC observation." in page
    assert "QC on the haematology analyser" in page
    assert signed.sha256 in page
    assert f'href="/evidence/files/{signed.file_id}/"' in page


def test_earlier_reviews_are_shown(iqa_client, iqa, decision):
    IQAReview.objects.create(reviewer=iqa, decision=decision, outcome="disagree", comment="Check the QC limits used.")

    page = iqa_client.get(f"/iqa/decisions/{decision.pk}/").content.decode()

    assert "Check the QC limits used." in page


# --- Recording a review ----------------------------------------------------------------------


def test_agreeing_with_a_decision_is_recorded(iqa_client, iqa, decision):
    response = iqa_client.post(f"/iqa/decisions/{decision.pk}/", {"outcome": "agree", "comment": ""}, follow=True)

    assert response.redirect_chain == [("/iqa/", 302)]
    review = IQAReview.objects.get()
    assert (review.reviewer, review.decision, review.outcome) == (iqa, decision, "agree")
    assert "is recorded" in response.content.decode()
    assert sample_of(response, decision.assessor).decisions[0].iqa_reviews.all()[0] == review


def test_disagreeing_without_a_comment_is_refused_and_nothing_is_saved(iqa_client, decision):
    entries = AuditEntry.objects.count()

    response = iqa_client.post(f"/iqa/decisions/{decision.pk}/", {"outcome": "disagree", "comment": "  "})

    assert response.status_code == 200
    assert "Say why you disagree" in response.content.decode()
    assert not IQAReview.objects.exists()
    assert AuditEntry.objects.count() == entries


def test_disagreeing_with_a_comment_is_saved_and_audited(iqa_client, iqa, decision):
    response = iqa_client.post(
        f"/iqa/decisions/{decision.pk}/", {"outcome": "disagree", "comment": "S18 is not shown by a QC chart."}
    )

    assert response.status_code == 302 and response["Location"] == "/iqa/"
    review = IQAReview.objects.get()
    assert review.outcome == "disagree" and review.comment == "S18 is not shown by a QC chart."
    entry = AuditEntry.objects.filter(action="iqa.reviewed").get()
    assert entry.actor == iqa
    assert entry.apprenticeship_id == decision.version.item.apprenticeship_id
    assert entry.payload["decision"] == decision.pk and entry.payload["outcome"] == "disagree"


def test_reviewing_a_sign_off_is_recorded(iqa_client, iqa, sign_off):
    response = iqa_client.post(f"/iqa/sign-offs/{sign_off.pk}/", {"outcome": "agree"})

    assert response.status_code == 302 and response["Location"] == "/iqa/"
    review = IQAReview.objects.get()
    assert (review.sign_off, review.decision, review.outcome) == (sign_off, None, "agree")
    assert AuditEntry.objects.filter(action="iqa.reviewed", payload__sign_off=sign_off.pk).exists()


def test_a_missing_outcome_is_asked_for_and_the_comment_is_kept(iqa_client, decision):
    response = iqa_client.post(f"/iqa/decisions/{decision.pk}/", {"comment": "Feedback could be more specific."})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Choose agree or disagree." in page
    assert "Feedback could be more specific." in page
    assert not IQAReview.objects.exists()


# --- An IQA only reads -----------------------------------------------------------------------


def test_an_iqa_cannot_change_evidence_decisions_or_sign_offs(client, iqa, apprenticeship, decision, sign_off):
    submitted = evidence(apprenticeship, title="Awaiting review", submit=True)
    client.force_login(iqa)
    before = {
        item.pk: (item.status, item.versions.count())
        for item in EvidenceItem.objects.filter(apprenticeship=apprenticeship)
    }
    mapping = submitted.versions.get().mappings.get()

    for url in ("submit", "withdraw", "revise", "delete", "edit"):
        for item in (submitted, decision.version.item):
            assert client.post(f"/evidence/{item.pk}/{url}/").status_code in (403, 404)
    assert client.post(
        f"/reviews/evidence/{submitted.pk}/", {"action": "accept", f"confirm_{mapping.pk}": "on"}
    ).status_code in (403, 404)
    assert client.post(
        f"/reviews/evidence/{submitted.pk}/", {"action": "return", "feedback": "Not good enough."}
    ).status_code in (403, 404)
    assert client.post(
        f"/apprenticeships/{apprenticeship.pk}/ksbs/S18/", {"versions": [decision.version.pk], "comment": "Met."}
    ).status_code in (403, 404)
    assert client.post(f"/sign-offs/{sign_off.pk}/revoke/", {"reason": "IQA says no."}).status_code in (403, 404)

    after = {
        item.pk: (item.status, item.versions.count())
        for item in EvidenceItem.objects.filter(apprenticeship=apprenticeship)
    }
    assert after == before
    assert list(Decision.objects.all()) == [decision]
    assert list(SignOff.objects.live()) == [sign_off]


# --- Cost ------------------------------------------------------------------------------------


def bulk_decisions(apprenticeship: Apprenticeship, count: int, reviewer: User, *, first_ksb: int = 0) -> None:
    """Many decided items and sign-offs, made straight in the database: only their number matters here."""
    now = timezone.now()
    items = EvidenceItem.objects.bulk_create(
        EvidenceItem(apprenticeship=apprenticeship, status=EvidenceItem.Status.ACCEPTED) for _ in range(count)
    )
    versions = EvidenceVersion.objects.bulk_create(
        EvidenceVersion(
            item=item,
            number=1,
            title=f"Evidence {n}",
            activity_date=datetime.date(2025, 10, 6),
            evidence_type=EvidenceItem.Type.OBSERVATION,
            submitted_at=now,
        )
        for n, item in enumerate(items)
    )
    decisions = Decision.objects.bulk_create(
        Decision(version=version, assessor=apprenticeship.assessor, outcome=Decision.Outcome.ACCEPTED)
        for version in versions
    )
    sign_offs = SignOff.objects.bulk_create(
        SignOff(apprenticeship=apprenticeship, ksb=ksb, signed_by=apprenticeship.assessor, comment="Met.")
        for ksb in apprenticeship.standard.ksbs.order_by("pk")[first_ksb : first_ksb + count]
    )
    IQAReview.objects.bulk_create(
        [IQAReview(reviewer=reviewer, decision=d, outcome=IQAReview.Outcome.AGREE) for d in decisions[-3:]]
        + [IQAReview(reviewer=reviewer, sign_off=s, outcome=IQAReview.Outcome.AGREE) for s in sign_offs[-3:]]
    )


def test_the_sample_costs_the_same_few_queries_however_much_there_is(
    client, iqa, apprenticeship, provider, employer, st0220, django_assert_max_num_queries
):
    client.force_login(iqa)
    bulk_decisions(apprenticeship, 1, iqa)
    with CaptureQueriesContext(connection) as small:
        assert client.get("/iqa/").status_code == 200

    for _ in range(2):
        assessor = AssessorFactory(organisation=provider)
        bulk_decisions(
            ApprenticeshipFactory(provider=provider, employer=employer, assessor=assessor, standard=st0220), 40, iqa
        )
    bulk_decisions(apprenticeship, 39, iqa, first_ksb=1)

    with django_assert_max_num_queries(10):
        response = client.get("/iqa/")
    with CaptureQueriesContext(connection) as large:
        client.get("/iqa/")
    assert len(large) == len(small)
    assert [
        (len(s.decisions), s.decision_total, len(s.sign_offs), s.sign_off_total) for s in response.context["samples"]
    ] == [(5, 40, 5, 40)] * 3


# --- The sample read straight off each assessor's index --------------------------------------


def dated(rows, field: str, ages: list[datetime.timedelta], now: datetime.datetime) -> list:
    """Gives each row its own time, `ages` ago, in the order given."""
    for row, age in zip(rows, ages, strict=True):
        type(row).objects.filter(pk=row.pk).update(**{field: now - age})
    return list(type(rows[0]).objects.filter(pk__in=[row.pk for row in rows]))


def newest_first(rows, field: str) -> list:
    return sorted(rows, key=lambda row: (getattr(row, field), row.pk), reverse=True)


def test_the_sample_is_each_assessors_newest_five_of_the_period_and_their_totals_exactly(
    iqa_client, iqa, provider, employer, st0220, apprenticeship, other_apprenticeship, outsider_apprenticeship
):
    now = timezone.now()
    days = datetime.timedelta(days=1)
    minutes = datetime.timedelta(minutes=1)
    assessor, other_assessor = apprenticeship.assessor, other_apprenticeship.assessor
    # Someone who decided here but whose caseload has since moved to another assessor.
    moved_on = AssessorFactory(organisation=provider)
    handed_over = ApprenticeshipFactory(provider=provider, employer=employer, assessor=moved_on, standard=st0220)
    for place in (apprenticeship, other_apprenticeship, handed_over, outsider_apprenticeship):
        bulk_decisions(place, 9, iqa)
    Apprenticeship.objects.filter(pk=handed_over.pk).update(assessor=other_assessor)

    def decisions_of(place):
        return list(Decision.objects.filter(version__item__apprenticeship=place).order_by("pk"))

    def sign_offs_of(place):
        return list(SignOff.objects.filter(apprenticeship=place).order_by("pk"))

    # Seven in the period and two older than it, in no particular order.
    mixed = [3 * days, 100 * days, 1 * days, 5 * days, 120 * days, 2 * days, 4 * days, 7 * days, 6 * days]
    dated(decisions_of(apprenticeship), "decided_at", mixed, now)
    dated(sign_offs_of(apprenticeship), "signed_at", mixed, now)
    # The fifth, sixth and seventh newest share a time: the newest id of the three comes first.
    tied = [1 * days, 2 * days, 3 * days, 4 * days] + [5 * days] * 3 + [95 * days, 200 * days]
    dated(decisions_of(other_apprenticeship), "decided_at", tied, now)
    dated(sign_offs_of(other_apprenticeship), "signed_at", tied, now)
    dated(decisions_of(handed_over), "decided_at", [n * minutes for n in range(3)] + [91 * days] * 6, now)
    dated(decisions_of(outsider_apprenticeship), "decided_at", [n * minutes for n in range(9)], now)

    response = iqa_client.get("/iqa/")

    samples = {s.assessor: s for s in response.context["samples"]}
    assert set(samples) == {assessor, other_assessor, moved_on}
    since = now - datetime.timedelta(days=90)
    for person, sample in samples.items():
        visible = Decision.objects.visible_to(iqa).filter(assessor=person, decided_at__gte=since)
        signed = SignOff.objects.visible_to(iqa).filter(signed_by=person, signed_at__gte=since)
        assert sample.decisions == newest_first(visible, "decided_at")[:5]
        assert sample.sign_offs == newest_first(signed, "signed_at")[:5]
        assert (sample.decision_total, sample.sign_off_total) == (visible.count(), signed.count())
    assert (samples[assessor].decision_total, samples[assessor].sign_off_total) == (7, 7)
    assert (samples[other_assessor].decision_total, samples[other_assessor].sign_off_total) == (7, 7)
    assert (samples[moved_on].decision_total, samples[moved_on].sign_off_total) == (3, 9)
    assert [d.decided_at for d in samples[assessor].decisions] == [now - n * days for n in (1, 2, 3, 4, 5)]
    tied_decisions = decisions_of(other_apprenticeship)
    assert samples[other_assessor].decisions == [*tied_decisions[:4], tied_decisions[6]]
    assert samples[other_assessor].sign_offs[4] == sign_offs_of(other_apprenticeship)[6]
    assert samples[moved_on].decisions == decisions_of(handed_over)[:3]
    page = response.content.decode()
    assert all(f"/iqa/decisions/{d.pk}/" not in page for d in decisions_of(outsider_apprenticeship))


def test_many_assessors_cost_no_more_queries_than_one(
    client, iqa, apprenticeship, provider, employer, st0220, django_assert_max_num_queries
):
    client.force_login(iqa)
    bulk_decisions(apprenticeship, 7, iqa)
    with CaptureQueriesContext(connection) as one:
        assert client.get("/iqa/").status_code == 200

    for _ in range(12):
        bulk_decisions(ApprenticeshipFactory(provider=provider, employer=employer, standard=st0220), 7, iqa)

    with django_assert_max_num_queries(len(one)):
        response = client.get("/iqa/")
    assert [(len(s.decisions), s.decision_total, len(s.sign_offs)) for s in response.context["samples"]] == [
        (5, 7, 5)
    ] * 13
