"""The review pages in the browser: the apprentice's home, the assessor's queue, review, KSB pages."""

import datetime
import re

import pytest
from django.utils import timezone

from evidence.models import EvidenceItem, EvidenceVersion
from evidence.tests.factories import evidence, portfolio_of_200
from reviews.models import Decision, SignOff
from reviews.tests.helpers import accepted, signed_off
from reviews.views.assessor import QUEUE_PAGE_SIZE


@pytest.fixture
def submitted(apprenticeship):
    return evidence(apprenticeship, title="QC on the analyser", codes=("K1", "S18"), submit=True)


# --- The apprentice's home ---------------------------------------------------------------------


def test_home_shows_each_ksb_state_including_signed_off(client, apprenticeship, apprentice):
    evidence(apprenticeship, codes=("K1", "K2"), submit=True)
    evidence(apprenticeship, codes=("K2", "S1"))
    accepted(apprenticeship, codes=("B1",))
    signed_off(apprenticeship, "S30")
    client.force_login(apprentice)
    response = client.get("/portfolio/")
    states = {cell.ksb.code: cell.state.css for cell in response.context["coverage"].cells}
    assert (states["K1"], states["K2"], states["S1"], states["B1"], states["S30"], states["K3"]) == (
        "submitted",
        "submitted",
        "draft",
        "accepted",
        "signed_off",
        "none",
    )
    assert len(states) == 65
    body = response.content.decode()
    assert 'href="/evidence/?ksb=K1"' in body
    assert "1 of 65 KSBs signed off" in body
    assert "Signed off" in body and "by " in body


def test_an_unticked_ksb_does_not_count_as_accepted(client, apprenticeship, apprentice):
    accepted(apprenticeship, codes=("K1", "K2"), untick=("K2",))
    client.force_login(apprentice)
    states = {c.ksb.code: c.state.css for c in client.get("/portfolio/").context["coverage"].cells}
    assert (states["K1"], states["K2"]) == ("accepted", "none")


def test_returned_evidence_shows_its_feedback_and_a_notice(client, apprenticeship, apprentice, assessor, submitted):
    from reviews.services import return_evidence

    return_evidence(item=submitted, by=assessor, feedback="Add the QC chart, please.")
    client.force_login(apprentice)
    body = client.get("/portfolio/").content.decode()
    assert "Returned with feedback" in body and "QC on the analyser" in body
    assert "Add the QC chart, please." in body
    assert "was returned with feedback" in body  # the notice
    detail = client.get(f"/evidence/{submitted.pk}/").content.decode()
    assert "Add the QC chart, please." in detail


def test_a_notice_can_be_dismissed_by_its_recipient_only(
    client, apprenticeship, apprentice, other_apprentice, submitted, assessor
):
    from portal.models import Notice
    from reviews.services import accept_evidence

    accept_evidence(item=submitted, by=assessor)
    notice = Notice.objects.get(recipient=apprentice)
    client.force_login(other_apprentice)
    assert client.post(f"/notices/{notice.pk}/dismiss/").status_code == 404
    client.force_login(apprentice)
    client.post(f"/notices/{notice.pk}/dismiss/")
    notice.refresh_from_db()
    assert notice.read_at is not None
    assert "was accepted" not in client.get("/portfolio/").content.decode()


def test_home_queries_do_not_grow_with_items(client, apprenticeship, django_assert_max_num_queries):
    portfolio_of_200(apprenticeship)
    client.force_login(apprenticeship.apprentice)
    # One more than the grid's own for the standard's duties (none for ST0220).
    # 23 measured: the KSB grid, charts and notices, plus off-the-job hours (2), the review
    # status (1), the training plan (1) and what waits for a signature (2).
    with django_assert_max_num_queries(24):
        response = client.get("/portfolio/")
    assert sum(cell.item_count for cell in response.context["coverage"].cells) == 600


# --- The assessor's queue and review page ------------------------------------------------------


def test_queue_lists_submitted_evidence_of_the_caseload_oldest_first(
    client, apprenticeship, other_apprenticeship, assessor
):
    newer = evidence(apprenticeship, title="Newer", submit=True)
    older = evidence(apprenticeship, title="Older", submit=True)
    EvidenceVersion.objects.filter(item=older).update(submitted_at=timezone.now() - datetime.timedelta(days=9))
    evidence(apprenticeship, title="Still a draft")
    evidence(other_apprenticeship, title="Someone else's caseload", submit=True)
    client.force_login(assessor)
    response = client.get("/assessor/")
    assert [i.pk for i in response.context["queue"]] == [older.pk, newer.pk]
    body = response.content.decode()
    assert "1\xa0week, 2\xa0days" in body
    assert "Someone else" not in body and "Still a draft" not in body


def test_assessor_home_shows_caseload_progress_and_ksbs_to_sign_off(client, apprenticeship, assessor):
    signed_off(apprenticeship, "K1")
    accepted(apprenticeship, codes=("S18",))
    client.force_login(assessor)
    response = client.get("/assessor/")
    ((standing, drawn),) = response.context["caseload_rows"]
    assert standing.coverage.signed_off == drawn.signed_off == 1
    ((whose, links),) = response.context["to_sign_off"]
    assert whose == apprenticeship
    assert re.findall(r'href="([^"]+)">(\w+)</a>', links) == [
        (f"/apprenticeships/{apprenticeship.pk}/ksbs/S18/", "S18")
    ]
    assert "1/65" in response.content.decode()


def test_the_caseload_seen_again_shows_a_sign_off_at_once(client, apprenticeship, assessor):
    accepted(apprenticeship, codes=("S18",))
    client.force_login(assessor)
    assert "/ksbs/S18/" in client.get("/assessor/").content.decode()
    signed_off(apprenticeship, "S18")
    again = client.get("/assessor/")
    assert again.context["to_sign_off"] == []
    assert "/ksbs/S18/" not in again.content.decode() and "1/65" in again.content.decode()


def test_assessor_accepts_with_a_ksb_unticked(client, apprenticeship, assessor, submitted):
    mappings = {m.ksb.code: m for m in submitted.versions.get().mappings.select_related("ksb")}
    client.force_login(assessor)
    page = client.get(f"/reviews/evidence/{submitted.pk}/")
    assert page.status_code == 200 and "QC on the analyser" in page.content.decode()
    response = client.post(
        f"/reviews/evidence/{submitted.pk}/",
        {
            "action": "accept",
            f"confirm_{mappings['K1'].pk}": "on",
            f"comment_{mappings['S18'].pk}": "No data in the file",
        },
    )
    assert response["Location"] == "/assessor/"
    decision = Decision.objects.get()
    assert [k.code for k in decision.confirmed_ksbs] == ["K1"]


def test_assessor_returns_with_feedback(client, apprenticeship, assessor, submitted):
    client.force_login(assessor)
    response = client.post(f"/reviews/evidence/{submitted.pk}/", {"action": "return", "feedback": "Add the chart."})
    assert response["Location"] == "/assessor/"
    submitted.refresh_from_db()
    assert submitted.status == "returned"


def test_returning_without_feedback_is_explained(client, apprenticeship, assessor, submitted):
    client.force_login(assessor)
    response = client.post(f"/reviews/evidence/{submitted.pk}/", {"action": "return", "feedback": ""})
    assert response.status_code == 200
    assert "Write the feedback the apprentice needs" in response.content.decode()
    submitted.refresh_from_db()
    assert submitted.status == "submitted"


@pytest.mark.parametrize("persona", ["other_assessor", "outsider"])
def test_another_assessor_cannot_open_or_decide(client, submitted, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(f"/reviews/evidence/{submitted.pk}/").status_code in (403, 404)
    client.post(f"/reviews/evidence/{submitted.pk}/", {"action": "return", "feedback": "x"})
    submitted.refresh_from_db()
    assert submitted.status == "submitted"


@pytest.mark.parametrize("persona", ["apprentice", "mentor", "provider_admin", "iqa"])
def test_the_review_page_is_for_assessors(client, submitted, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(f"/reviews/evidence/{submitted.pk}/").status_code == 403


# --- Apprenticeship and KSB pages -------------------------------------------------------------


@pytest.mark.parametrize("persona", ["apprentice", "assessor", "mentor", "provider_admin", "iqa"])
def test_people_of_the_apprenticeship_read_its_progress_and_ksb_pages(client, apprenticeship, persona, request):
    signed_off(apprenticeship, "K1")
    client.force_login(request.getfixturevalue(persona))
    assert client.get(f"/apprenticeships/{apprenticeship.pk}/").status_code == 200
    body = client.get(f"/apprenticeships/{apprenticeship.pk}/ksbs/K1/").content.decode()
    assert "Signed off" in body and "The evidence shows K1 clearly." in body


@pytest.mark.parametrize("persona", ["other_apprentice", "other_assessor", "outsider"])
def test_nobody_else_reads_them(client, apprenticeship, other_apprenticeship, persona, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(f"/apprenticeships/{apprenticeship.pk}/").status_code == 404
    assert client.get(f"/apprenticeships/{apprenticeship.pk}/ksbs/K1/").status_code == 404


def test_an_unknown_ksb_code_is_404(client, apprenticeship, assessor):
    client.force_login(assessor)
    assert client.get(f"/apprenticeships/{apprenticeship.pk}/ksbs/K99/").status_code == 404
    assert client.get(f"/apprenticeships/{apprenticeship.pk}/ksbs/nonsense/").status_code == 404


def test_assessor_signs_off_on_the_ksb_page(client, apprenticeship, assessor):
    item = accepted(apprenticeship, codes=("K1",))
    client.force_login(assessor)
    page = client.get(f"/apprenticeships/{apprenticeship.pk}/ksbs/K1/")
    assert "Sign off K1" in page.content.decode()
    response = client.post(
        f"/apprenticeships/{apprenticeship.pk}/ksbs/K1/",
        {"versions": [item.versions.get().pk], "comment": "Meets K1"},
    )
    assert response["Location"] == f"/apprenticeships/{apprenticeship.pk}/ksbs/K1/"
    assert SignOff.objects.live().get().comment == "Meets K1"


def test_signing_off_without_choosing_evidence_is_explained(client, apprenticeship, assessor):
    accepted(apprenticeship, codes=("K1",))
    client.force_login(assessor)
    response = client.post(f"/apprenticeships/{apprenticeship.pk}/ksbs/K1/", {"comment": "Meets K1"})
    assert "Choose the accepted evidence the sign-off relies on." in response.content.decode()
    assert not SignOff.objects.exists()


def test_only_the_assessor_may_post_a_sign_off(client, apprenticeship, provider_admin):
    item = accepted(apprenticeship, codes=("K1",))
    client.force_login(provider_admin)
    page = client.get(f"/apprenticeships/{apprenticeship.pk}/ksbs/K1/").content.decode()
    assert "Sign off K1" not in page
    response = client.post(
        f"/apprenticeships/{apprenticeship.pk}/ksbs/K1/", {"versions": [item.versions.get().pk], "comment": "x"}
    )
    assert response.status_code == 404
    assert not SignOff.objects.exists()


def test_revoke_from_the_ksb_page(client, apprenticeship, assessor):
    sign_off = signed_off(apprenticeship, "K1")
    client.force_login(assessor)
    response = client.post(f"/sign-offs/{sign_off.pk}/revoke/", {"reason": "Wrong evidence chosen"}, follow=True)
    body = response.content.decode()
    assert "The sign-off of K1 was revoked." in body
    assert "Wrong evidence chosen" in body
    assert "Sign off K1" in body  # it can be signed off again


def test_revoking_without_a_reason_is_explained(client, apprenticeship, assessor):
    sign_off = signed_off(apprenticeship, "K1")
    client.force_login(assessor)
    body = client.post(f"/sign-offs/{sign_off.pk}/revoke/", {"reason": ""}, follow=True).content.decode()
    assert "Give the reason for revoking the sign-off." in body
    assert SignOff.objects.live().count() == 1


@pytest.mark.parametrize("persona", ["apprentice", "iqa", "mentor"])
def test_others_of_the_apprenticeship_cannot_revoke(client, apprenticeship, persona, request):
    sign_off = signed_off(apprenticeship, "K1")
    client.force_login(request.getfixturevalue(persona))
    assert client.post(f"/sign-offs/{sign_off.pk}/revoke/", {"reason": "x"}).status_code == 403
    assert SignOff.objects.live().count() == 1


@pytest.mark.parametrize("persona", ["other_apprentice", "other_assessor", "outsider"])
def test_strangers_cannot_even_find_a_sign_off(client, apprenticeship, other_apprenticeship, persona, request):
    sign_off = signed_off(apprenticeship, "K1")
    client.force_login(request.getfixturevalue(persona))
    assert client.post(f"/sign-offs/{sign_off.pk}/revoke/", {"reason": "x"}).status_code == 404


def test_queue_and_caseload_queries_do_not_grow_with_the_caseload(
    client, provider, employer, assessor, st0220, django_assert_max_num_queries
):
    from reviews.tests.bulk import build_cohort

    cohort = build_cohort(provider=provider, employer=employer, assessors=[assessor], standard=st0220)
    client.force_login(assessor)
    waiting = EvidenceItem.objects.filter(apprenticeship__in=cohort, status=EvidenceItem.Status.SUBMITTED).count()
    assert waiting > 2 * QUEUE_PAGE_SIZE
    # 20 measured, with the queue's count, off-the-job hours, review status, signatures and notices.
    for page in (1, 2):
        with django_assert_max_num_queries(21):
            response = client.get(f"/assessor/?page={page}")
        assert len(response.context["caseload_rows"]) == 300
        assert len(response.context["queue"]) == QUEUE_PAGE_SIZE
        assert response.context["queue"].paginator.count == waiting


def test_the_queue_comes_a_page_at_a_time_oldest_first(client, apprenticeship, assessor):
    items = [evidence(apprenticeship, title=f"Item {n}", submit=True) for n in range(QUEUE_PAGE_SIZE + 3)]
    for age, item in enumerate(reversed(items)):
        EvidenceVersion.objects.filter(item=item).update(submitted_at=timezone.now() - datetime.timedelta(hours=age))
    client.force_login(assessor)
    first = client.get("/assessor/")
    assert [i.pk for i in first.context["queue"]] == [i.pk for i in items[:QUEUE_PAGE_SIZE]]
    body = first.content.decode()
    assert f'Evidence waiting for a decision <span class="badge text-bg-primary">{QUEUE_PAGE_SIZE + 3}</span>' in body
    assert 'aria-label="Pages of the queue"' in body and 'href="?page=2"' in body
    second = client.get("/assessor/?page=2")
    assert [i.pk for i in second.context["queue"]] == [i.pk for i in items[QUEUE_PAGE_SIZE:]]
    # A page that is not one shows a page rather than an error.
    assert [i.pk for i in client.get("/assessor/?page=abc").context["queue"]] == [i.pk for i in items[:QUEUE_PAGE_SIZE]]
    assert client.get("/assessor/?page=99").context["queue"].number == 2


def test_home_shows_the_newest_notices_and_counts_the_rest(client, apprenticeship, apprentice):
    from portal.models import Notice

    for n in range(5):
        Notice.objects.create(recipient=apprentice, message=f"Notice number {n}")
    client.force_login(apprentice)
    body = client.get("/portfolio/").content.decode()
    assert body.count("Notice number") == 3
    assert "and 2 earlier notices." in body
    client.post("/notices/dismiss/")
    assert Notice.objects.filter(recipient=apprentice, read_at__isnull=True).count() == 0
    assert "Notice number" not in client.get("/portfolio/").content.decode()


def test_the_activity_chart_counts_submissions_and_sign_offs_by_month(apprenticeship):
    import datetime as dt

    from reviews.charts import activity_over_time

    signed_off(apprenticeship, "K1")
    evidence(apprenticeship, codes=("K2",), submit=True)
    old = evidence(apprenticeship, codes=("K3",), submit=True)
    two_months_ago = timezone.now() - dt.timedelta(days=62)
    EvidenceVersion.objects.filter(item=old).update(submitted_at=two_months_ago)
    chart = activity_over_time(apprenticeship, months=6)
    assert chart.total_submitted == 3 and chart.total_signed_off == 1
    this_month = chart.months[-1]
    assert (this_month.submitted, this_month.signed_off) == (2, 1)
    assert sum(m.submitted for m in chart.months[:-1]) == 1
    assert all(0 <= m.submitted_height <= 120 for m in chart.months)
    assert this_month.submitted_height > this_month.signed_off_height > 0


def test_the_activity_chart_is_on_the_home_and_apprenticeship_pages(client, apprenticeship, apprentice, assessor):
    signed_off(apprenticeship, "K1")
    for person, url in ((apprentice, "/portfolio/"), (assessor, f"/apprenticeships/{apprenticeship.pk}/")):
        client.force_login(person)
        body = client.get(url).content.decode()
        assert body.count('<svg class="activity-chart"') == 1
        assert "1 submission and 1 sign-off in all." in body
