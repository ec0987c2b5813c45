"""Bad input on every judgement and programme form: decisions, sign-offs and revocations, IQA reviews,
progress reviews with their actions, training plans, signatures, gateway, cohort filters and exports.
Never a 5xx, nothing saved changes, and a refusal says what to do; other people's ids, illegal
transitions and double submits included. See portal/tests/fuzz.py for the properties."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from hypothesis import example, given
from hypothesis import strategies as st

from evidence.tests.factories import evidence
from portal.tests import fuzz
from portal.tests.fuzz import report_examples  # noqa: F401 (the fixture that prints the count)
from reviews.models import Decision, Party, ProgressReview, SignOff, TrainingPlan
from reviews.tests.helpers import accepted, signed_off
from reviews.tests.programme import ALL_PARTIES, progress_review, training_plan

pytestmark = pytest.mark.usefixtures("report_examples")

STAFF = ["assessor", "other_assessor", "provider_admin", "iqa", "mentor", "apprentice", "outsider"]


def _people(request, names) -> dict:
    """Persona fixtures resolved before any example, so that they outlive every example's savepoint."""
    return {name: request.getfixturevalue(name) for name in names}


@pytest.fixture
def judged(apprenticeship, other_apprenticeship, outsider_apprenticeship):
    """Evidence in every state a decision meets, a live and a revoked sign-off, and others' records."""
    submitted = evidence(apprenticeship, title="Waiting for a decision", codes=("K1", "S18"), submit=True)
    draft = evidence(apprenticeship, title="Still a draft")
    accepted_item = accepted(apprenticeship, codes=("K2", "K3"), title="Accepted")
    live = signed_off(apprenticeship, "K5", title="Signed")
    revoked = signed_off(apprenticeship, "K6", title="Revoked")
    from reviews import services

    services.revoke_sign_off(sign_off=revoked, by=apprenticeship.assessor, reason="Wrong evidence relied on.")
    theirs = evidence(other_apprenticeship, title="Another caseload", submit=True)
    foreign = accepted(outsider_apprenticeship, title="Another provider")
    return {
        "submitted": submitted,
        "draft": draft,
        "accepted": accepted_item,
        "live": live,
        "revoked": SignOff.objects.get(pk=revoked.pk),
        "theirs": theirs,
        "foreign": foreign,
    }


def _immutable(before: dict) -> dict:
    """Rows that no request may ever change once written: decisions and their judgements, sign-offs'
    signed content and the file hashes they recorded, signatures, IQA reviews, revoked sign-offs."""
    keep = {}
    for key, row in before.items():
        label = key[0]
        if label in (
            "reviews.Decision",
            "reviews.KSBJudgement",
            "reviews.SignedFile",
            "reviews.Signature",
            "reviews.IQAReview",
            "portal.AuditEntry",
        ):
            keep[key] = row
        elif label == "reviews.SignOff":
            keep[key] = row if row["revoked_at"] else {n: v for n, v in row.items() if not n.startswith("revoke")}
    return keep


def _check_immutable(before: dict, after: dict, step) -> None:
    for key, row in _immutable(before).items():
        now = after.get(key)
        assert now is not None, f"{key} disappeared at {step}"
        assert {n: now[n] for n in row} == row, f"{key} changed at {step}"


# --- Decisions on evidence ------------------------------------------------------------------------


@fuzz.fuzz_settings()
@given(data=st.data())
def test_decisions_take_any_form_and_any_state(request, judged, data):
    people = _people(request, STAFF)
    mapping_ids = [
        m.pk
        for item in judged.values()
        if hasattr(item, "versions")
        for v in item.versions.all()
        for m in v.mappings.all()
    ]
    steps = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(["submitted", "draft", "accepted", "theirs", "foreign", "missing"]),
                st.sampled_from(STAFF),
                st.sampled_from(["accept", "return", "", "other"]).map(lambda a: a or "x"),
            ),
            min_size=1,
            max_size=4,
        ),
        label="steps",
    )
    with fuzz.isolated():
        for target, who, action in steps:
            item = judged.get(target)
            pk = item.pk if item is not None else 10**9
            fields = {"action": action, "feedback": data.draw(fuzz.hostile_text(400), label="feedback")}
            for _ in range(data.draw(st.integers(0, 3), label="judgements")):
                mapping = data.draw(st.one_of(st.sampled_from(mapping_ids), fuzz.id_like()), label="mapping")
                fields[f"confirm_{mapping}"] = data.draw(st.sampled_from(["on", "", "off", "\x00"]))
                fields[f"comment_{mapping}"] = data.draw(fuzz.hostile_text(600), label="comment")
            client = fuzz.client_for(people[who])
            before = fuzz.snapshot()
            response = client.post(f"/reviews/evidence/{pk}/", fields)
            step = (target, who, action)
            fuzz.assert_no_server_error(response, (step, fields))
            after = fuzz.snapshot()
            _check_immutable(before, after, step)
            key = ("evidence.EvidenceItem", pk)
            if fuzz.added(before, after, "reviews.Decision"):
                # Only the item's own assessor decides, once, on a submitted item.
                own_assessor = "other_assessor" if target == "theirs" else "assessor"
                assert who == own_assessor and before[key]["status"] == "submitted", step
                assert after[key]["status"] in ("accepted", "returned"), step
            else:
                fuzz.assert_unchanged(before, after, what=step)
                fuzz.assert_explained(response, (step, fields))


# --- Sign-offs and revocations --------------------------------------------------------------------


@fuzz.fuzz_settings()
@given(data=st.data())
def test_sign_offs_and_revocations_take_any_input_and_never_rewrite_history(request, apprenticeship, judged, data):
    people = _people(request, STAFF)
    version_ids = [v.pk for item in judged.values() if hasattr(item, "versions") for v in item.versions.all()]
    sign_off_ids = [judged["live"].pk, judged["revoked"].pk]
    steps = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(["sign", "revoke"]),
                st.sampled_from(STAFF),
                st.sampled_from(["K2", "K3", "K5", "K6", "S18", "B1"]),
            ),
            min_size=1,
            max_size=4,
        ),
        label="steps",
    )
    with fuzz.isolated():
        for action, who, code in steps:
            client = fuzz.client_for(people[who])
            before = fuzz.snapshot()
            if action == "sign":
                fields = {
                    "versions": data.draw(
                        st.lists(st.one_of(st.sampled_from(version_ids).map(str), fuzz.id_like()), max_size=3),
                        label="versions",
                    ),
                    "comment": data.draw(st.one_of(fuzz.sensible_text(), fuzz.hostile_text(500)), label="comment"),
                }
                response = client.post(f"/apprenticeships/{apprenticeship.pk}/ksbs/{code}/", fields)
            else:
                pk = data.draw(st.one_of(st.sampled_from(sign_off_ids).map(str), fuzz.id_like().filter(str.isdigit)))
                fields = {"reason": data.draw(fuzz.hostile_text(500), label="reason")}
                response = client.post(f"/sign-offs/{pk}/revoke/", fields)
            step = (action, who, code, fields)
            fuzz.assert_no_server_error(response, step)
            after = fuzz.snapshot()
            _check_immutable(before, after, step)
            live = SignOff.objects.filter(apprenticeship=apprenticeship, revoked_at__isnull=True)
            assert live.count() == live.values("ksb").distinct().count(), f"two live sign-offs of one KSB at {step}"
            for sign_off in fuzz.added(before, after, "reviews.SignOff"):
                assert who == "assessor", step
                relied = SignOff.objects.get(pk=sign_off).versions.all()
                assert all(Decision.objects.filter(version=v, outcome="accepted").exists() for v in relied)
            if not any(fuzz.differences(before, after).values()):
                fuzz.assert_explained(response, step)


def test_signing_off_a_ksb_twice_says_it_is_already_signed_off(client, apprenticeship, judged):
    """Minimal case: the assessor posts the sign-off of K5 again, with the evidence it already relies on."""
    client.force_login(apprenticeship.assessor)
    version = judged["live"].versions.get()
    before = fuzz.snapshot()
    response = client.post(
        f"/apprenticeships/{apprenticeship.pk}/ksbs/K5/", {"versions": [version.pk], "comment": "Met again."}
    )
    fuzz.assert_unchanged(before, what="second sign-off")
    assert response.status_code in (200, 302)
    assert any("already signed off" in said for said in fuzz.explanations(response))


@fuzz.fuzz_settings(0.5)
@example(code="K²")
@example(code="K" + "9" * 30)
@example(code="s0")
@given(code=fuzz.hostile_text(40))
def test_ksb_addresses_with_any_code_are_404_never_500(assessor, apprenticeship, code):
    from urllib.parse import quote

    with fuzz.isolated():
        client = fuzz.client_for(assessor)
        path = f"/apprenticeships/{apprenticeship.pk}/ksbs/{quote(code, safe='') or 'x'}/"
        fuzz.assert_no_server_error(client.get(path), code)
        fuzz.assert_no_server_error(client.post(path, {"comment": "x", "versions": "1"}), code)


# --- IQA reviews ------------------------------------------------------------------------------------


@fuzz.fuzz_settings()
@given(data=st.data())
def test_iqa_reviews_take_any_input_for_any_decision(request, judged, data):
    people = _people(request, ["iqa", "assessor", "outsider"])
    decisions = list(Decision.objects.values_list("pk", flat=True))
    sign_offs = list(SignOff.objects.values_list("pk", flat=True))
    kind = data.draw(st.sampled_from(["decisions", "sign-offs"]), label="kind")
    pk = data.draw(
        st.one_of(
            st.sampled_from(decisions if kind == "decisions" else sign_offs).map(str),
            fuzz.id_like().filter(str.isdigit),
        ),
        label="pk",
    )
    fields = {
        "outcome": data.draw(fuzz.choice_like(["agree", "disagree"]), label="outcome"),
        "comment": data.draw(fuzz.hostile_text(2000), label="comment"),
    }
    who = data.draw(st.sampled_from(sorted(people)), label="who")
    with fuzz.isolated():
        client = fuzz.client_for(people[who])
        for attempt in range(data.draw(st.integers(1, 2), label="submits")):  # a double submit too
            before = fuzz.snapshot()
            response = client.post(f"/iqa/{kind}/{pk}/", fields)
            step = (kind, pk, who, fields, attempt)
            fuzz.assert_no_server_error(response, step)
            after = fuzz.snapshot()
            _check_immutable(before, after, step)
            if not fuzz.added(before, after, "reviews.IQAReview"):
                fuzz.assert_unchanged(before, after, what=step)
                fuzz.assert_explained(response, step)
            else:
                assert who == "iqa" and fields["outcome"] in ("agree", "disagree")


# --- Progress reviews and training plans ------------------------------------------------------------


@pytest.fixture
def programme(apprenticeship):
    return {
        "open_review": progress_review(apprenticeship, held_on=datetime.date(2025, 11, 20)),
        "locked_review": progress_review(apprenticeship, held_on=datetime.date(2025, 10, 20), signed_by=ALL_PARTIES),
        "old_plan": training_plan(apprenticeship, version=1, signed_by=ALL_PARTIES),
        "plan": training_plan(apprenticeship, version=2, signed_by=(Party.ASSESSOR,)),
    }


def _review_fields(data) -> dict:
    fields = {}
    for name, good in (
        ("held_on", (timezone.localdate() - datetime.timedelta(days=1)).isoformat()),
        ("actions_since_last", "Completed the rotation."),
        ("progress_against_plan", "On plan."),
        ("plan_updates", ""),
        ("wellbeing", "Well."),
        ("concerns", ""),
        ("safeguarding_details", ""),
    ):
        if data.draw(st.booleans(), label=f"{name} given"):
            strategy = fuzz.date_like() if name == "held_on" else fuzz.hostile_text(2000)
            fields[name] = data.draw(st.one_of(st.just(good), strategy), label=name)
    if data.draw(st.booleans(), label="safeguarding"):
        fields["safeguarding_concern"] = data.draw(st.sampled_from(["on", "", "x"]))
    management = {
        "TOTAL_FORMS": st.integers(0, 4).map(str),
        "INITIAL_FORMS": st.just("0"),
        "MIN_NUM_FORMS": st.just("0"),
        "MAX_NUM_FORMS": st.just("30"),
    }
    for name, good in management.items():
        if data.draw(st.integers(0, 9), label=f"{name} broken") or name == "MIN_NUM_FORMS":
            fields[f"actions-{name}"] = data.draw(good, label=name)
        else:
            fields[f"actions-{name}"] = data.draw(fuzz.id_like(), label=name)
    for n in range(data.draw(st.integers(0, 4), label="action rows")):
        index = data.draw(st.one_of(st.just(n), st.integers(-2, 2000)), label="row index")
        fields[f"actions-{index}-description"] = data.draw(fuzz.hostile_text(400), label="description")
        fields[f"actions-{index}-owner"] = data.draw(fuzz.choice_like([*Party.values, ""]), label="owner")
        fields[f"actions-{index}-due_on"] = data.draw(fuzz.date_like(), label="due on")
    return fields


@fuzz.fuzz_settings()
@given(
    data=st.data(),
    target=st.sampled_from(["new", "open_review", "locked_review"]),
    who=st.sampled_from(["assessor", "other_assessor", "apprentice", "provider_admin"]),
)
def test_the_progress_review_form_and_its_actions_take_any_input(request, apprenticeship, programme, data, target, who):
    user = request.getfixturevalue(who)
    fields = _review_fields(data)
    path = (
        f"/apprenticeships/{apprenticeship.pk}/progress-reviews/new/"
        if target == "new"
        else f"/progress-reviews/{programme[target].pk}/edit/"
    )
    with fuzz.isolated():
        client = fuzz.client_for(user)
        before = fuzz.snapshot()
        response = client.post(path, fields)
        fuzz.assert_no_server_error(response, fields)
        after = fuzz.snapshot()
        _check_immutable(before, after, fields)
        if response.status_code == 302 and any(fuzz.differences(before, after).values()):
            assert who == "assessor" and target != "locked_review"
            own = set()
            if target == "open_review":
                review = programme[target]
                own = {("reviews.ProgressReview", review.pk)} | {
                    key
                    for key, row in before.items()
                    if key[0] == "reviews.ReviewAction" and row["review_id"] == review.pk
                }
            fuzz.assert_kept(before, after, may_change=own, what=fields)
            saved = (
                ProgressReview.objects.get(pk=programme[target].pk)
                if target != "new"
                else ProgressReview.objects.get(pk=fuzz.added(before, after, "reviews.ProgressReview")[0])
            )
            assert saved.held_on <= timezone.localdate()
            assert saved.actions.exists()
            assert all(action.due_on > saved.held_on for action in saved.actions.all())
            for person in (user, apprenticeship.apprentice, apprenticeship.mentor):
                page = fuzz.client_for(person).get(f"/progress-reviews/{saved.pk}/")
                fuzz.assert_no_server_error(page, fields)
            fuzz.assert_no_server_error(fuzz.client_for(user).get("/assessor/"), fields)
        else:
            fuzz.assert_unchanged(before, after, what=fields)
            if response.status_code != 302 or target == "locked_review":
                fuzz.assert_explained(response, fields)


def _plan_fields(data) -> dict:
    good = {
        "planned_otj_hours": "420",
        "planned_end_date": "2027-09-01",
        "epa_organisation": "Healthcare EPA Services Ltd",
        "english_status": "exempt",
        "english_evidence": "GCSE English 6, certificate seen",
        "maths_status": "achieved",
        "maths_evidence": "GCSE maths 5, certificate seen",
        "text": "Rotations and weekly theory.",
    }
    hostile = {
        "planned_otj_hours": fuzz.id_like(),
        "planned_end_date": fuzz.date_like(),
        "english_status": fuzz.choice_like(TrainingPlan.EnglishMaths.values),
        "maths_status": fuzz.choice_like(TrainingPlan.EnglishMaths.values),
    }
    fields = {}
    for name, value in good.items():
        choice = data.draw(st.integers(0, 3), label=f"{name} how")
        if choice == 1:
            fields[name] = value
        elif choice >= 2:
            fields[name] = data.draw(hostile.get(name, fuzz.hostile_text(2000)), label=name)
    return fields


@fuzz.fuzz_settings()
@given(data=st.data(), who=st.sampled_from(["assessor", "provider_admin", "other_assessor", "mentor", "outsider"]))
def test_the_training_plan_form_takes_any_input(request, apprenticeship, programme, data, who):
    user = request.getfixturevalue(who)
    fields = _plan_fields(data)
    with fuzz.isolated():
        client = fuzz.client_for(user)
        before = fuzz.snapshot()
        response = client.post(f"/apprenticeships/{apprenticeship.pk}/training-plan/edit/", fields)
        fuzz.assert_no_server_error(response, fields)
        after = fuzz.snapshot()
        _check_immutable(before, after, fields)
        if response.status_code == 302:
            assert who in ("assessor", "provider_admin")
            # A signed plan is never edited in place: a new version is made beside it.
            fuzz.assert_kept(before, after, may_change=[("portal.Apprenticeship", apprenticeship.pk)], what=fields)
            for person in (user, apprenticeship.apprentice, apprenticeship.mentor):
                page = fuzz.client_for(person).get(f"/apprenticeships/{apprenticeship.pk}/training-plan/")
                fuzz.assert_no_server_error(page, fields)
            row = after[("portal.Apprenticeship", apprenticeship.pk)]
            assert row["start_date"] < row["planned_end_date"] <= timezone.localdate() + datetime.timedelta(days=3653)
        else:
            fuzz.assert_unchanged(before, after, what=fields)
            if fields:
                fuzz.assert_explained(response, fields)


@fuzz.fuzz_settings()
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["open_review", "locked_review", "old_plan", "plan"]),
            st.sampled_from(["apprentice", "mentor", "assessor", "other_assessor", "provider_admin"]),
            st.one_of(st.none(), st.just("current"), fuzz.hostile_text(80)),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_signing_twice_or_signing_a_locked_or_old_document_is_refused_in_words(request, programme, steps):
    from reviews.signatures import content_hash

    people = _people(request, ["apprentice", "mentor", "assessor", "other_assessor", "provider_admin"])
    with fuzz.isolated():
        for target, who, seen in steps:
            document = programme[target]
            kind = "progress-reviews" if "review" in target else "training-plans"
            fields = {} if seen is None else {"content_hash": content_hash(document) if seen == "current" else seen}
            client = fuzz.client_for(people[who])
            before = fuzz.snapshot()
            response = client.post(f"/{kind}/{document.pk}/sign/", fields)
            step = (target, who, seen)
            fuzz.assert_no_server_error(response, step)
            after = fuzz.snapshot()
            _check_immutable(before, after, step)
            new = fuzz.added(before, after, "reviews.Signature")
            if new:
                assert target in ("open_review", "plan") and who in ("apprentice", "mentor", "assessor"), step
            else:
                fuzz.assert_unchanged(before, after, what=step)
                fuzz.assert_explained(response, step)


# --- Gateway --------------------------------------------------------------------------------------


@fuzz.fuzz_settings()
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["confirm", "withdraw", "move"]),
            st.sampled_from(["mentor", "assessor", "provider_admin", "apprentice", "other_assessor", "outsider"]),
            fuzz.hostile_text(700),
            fuzz.id_like(),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_gateway_confirmations_take_any_comment_and_double_submits(request, apprenticeship, steps):
    people = _people(request, ["mentor", "assessor", "provider_admin", "apprentice", "other_assessor", "outsider"])
    with fuzz.isolated():
        for action, who, comment, pk in steps:
            client = fuzz.client_for(people[who])
            before = fuzz.snapshot()
            if action == "confirm":
                response = client.post(f"/apprenticeships/{apprenticeship.pk}/gateway/confirm/", {"comment": comment})
            elif action == "withdraw":
                target = pk if pk.isdigit() and len(pk) < 19 else "1"
                response = client.post(f"/gateway-confirmations/{target}/withdraw/")
            else:
                response = client.post(f"/apprenticeships/{apprenticeship.pk}/gateway/move/")
            step = (action, who, comment[:60], pk)
            fuzz.assert_no_server_error(response, step)
            after = fuzz.snapshot()
            # Not ready for gateway: nobody moves it there.
            assert after[("portal.Apprenticeship", apprenticeship.pk)]["status"] == "active", step
            if not any(fuzz.differences(before, after).values()):
                fuzz.assert_explained(response, step)
            else:
                assert action in ("confirm", "withdraw") and who in ("mentor", "assessor", "provider_admin"), step
        for who in ("mentor", "provider_admin"):
            page = fuzz.client_for(people[who]).get(f"/apprenticeships/{apprenticeship.pk}/gateway/")
            fuzz.assert_no_server_error(page, steps)


# --- Cohort filters, exports and version moves -------------------------------------------------------


@fuzz.fuzz_settings(0.5)
@example(params={"assessor": "99999999999999999999999"})
@example(params={"employer": "1.5", "sort": "\x00"})
@given(
    params=st.dictionaries(
        st.sampled_from(["assessor", "employer", "status", "inactive", "sort", "page", "q"]),
        st.one_of(fuzz.id_like(), fuzz.hostile_text(60)),
        max_size=6,
    )
)
def test_cohort_filters_take_any_query(
    provider_admin, apprenticeship, other_apprenticeship, outsider_apprenticeship, params
):
    with fuzz.isolated():
        client = fuzz.client_for(provider_admin)
        before = fuzz.snapshot()
        response = client.get("/provider/", params)
        fuzz.assert_no_server_error(response, params)
        assert response.status_code == 200
        fuzz.assert_unchanged(before, what=params)
        # The cohort export takes the same filters: a valid set queues one export, any other is refused.
        response = client.post("/provider/export/", params)
        fuzz.assert_no_server_error(response, params)
        after = fuzz.snapshot()
        if fuzz.added(before, after, "reviews.Export"):
            fuzz.assert_kept(before, after, what=params)
        else:
            fuzz.assert_unchanged(before, after, what=params)
            fuzz.assert_explained(response, params)


@fuzz.fuzz_settings(0.5)
@given(
    pk=fuzz.id_like(),
    query=st.dictionaries(fuzz.hostile_text(10), fuzz.hostile_text(40), max_size=3),
    who=st.sampled_from(["provider_admin", "assessor", "apprentice", "outsider"]),
)
def test_exports_and_version_moves_with_any_id_are_refused_never_500(
    request, apprenticeship, outsider_apprenticeship, pk, query, who
):
    user = request.getfixturevalue(who)
    # Someone else's apprenticeship: another provider's, or ours for the other provider's admin.
    foreign = apprenticeship if who == "outsider" else outsider_apprenticeship
    with fuzz.isolated():
        client = fuzz.client_for(user)
        before = fuzz.snapshot()
        target = pk if pk.isdigit() and len(pk) < 19 else str(foreign.pk)
        for path in (
            f"/exports/{target}/",
            f"/exports/{target}/download/",
            f"/apprenticeships/{target}/move-version/",
            f"/apprenticeships/{foreign.pk}/export/",
        ):
            fuzz.assert_no_server_error(client.get(path, query), path)
        for path in (f"/apprenticeships/{foreign.pk}/export/", f"/apprenticeships/{apprenticeship.pk}/move-version/"):
            response = client.post(path, {"to": pk, **query})
            fuzz.assert_no_server_error(response, path)
        fuzz.assert_unchanged(before, what=(pk, query))
