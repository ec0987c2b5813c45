"""Bad input on every evidence and off-the-job form and upload: never a 5xx, nothing saved changes,
and a refusal says what to do. See portal/tests/fuzz.py for the properties and how examples are isolated."""

from __future__ import annotations

import datetime
import re

import pytest
from django.conf import settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from evidence.models import EvidenceFile, EvidenceItem, OTJActivity
from evidence.tests.factories import evidence, otj_activity
from evidence.uploads import ALLOWED_TYPES
from portal.tests import fuzz
from portal.tests.fuzz import report_examples  # noqa: F401 (the fixture that prints the count)
from reviews import services as review_services
from standards.tests.factories import standard_with_ksbs

pytestmark = pytest.mark.usefixtures("report_examples")

# What a stored file's path is, whatever name it came with.
RANDOM_STORED_NAME = re.compile(r"^evidence/[0-9a-f]{32}$")
NEVER_STORED = ("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml")


@pytest.fixture
def foreign_ksbs(db):
    """KSBs of another standard: their ids must never map onto this apprenticeship."""
    return list(standard_with_ksbs(reference="ST9999").ksbs.all())


@pytest.fixture
def portfolio(apprenticeship, other_apprenticeship):
    """One item in each state, and an item of another apprentice of the same provider."""
    draft = evidence(apprenticeship, title="Draft on the ward", files=("notes.txt",))
    submitted = evidence(apprenticeship, title="Submitted QC", files=("qc.pdf",), submit=True)
    accepted = evidence(apprenticeship, title="Accepted audit", codes=("K2",), files=("audit.png",), submit=True)
    review_services.accept_evidence(item=accepted, by=apprenticeship.assessor)
    returned = evidence(apprenticeship, title="Returned log", codes=("S3",), files=("log.csv",), submit=True)
    review_services.return_evidence(item=returned, by=apprenticeship.assessor, feedback="Say what you checked.")
    others = evidence(other_apprenticeship, title="Not yours", files=("theirs.pdf",), submit=True)
    return {
        "draft": draft,
        "submitted": submitted,
        "accepted": EvidenceItem.objects.get(pk=accepted.pk),
        "returned": EvidenceItem.objects.get(pk=returned.pk),
        "others": others,
    }


def _evidence_fields(data, ksb_ids: list[int], file_ids: list[int] = ()) -> list[tuple]:
    """One random evidence form: each field absent, valid, hostile or raw bytes."""

    def value(strategy):
        return data.draw(st.one_of(strategy, st.binary(max_size=40)), label="value")

    fields: list[tuple] = []
    if data.draw(st.booleans(), label="title given"):
        fields.append(("title", value(st.one_of(fuzz.sensible_text(200), fuzz.hostile_text(300)))))
    if data.draw(st.booleans(), label="date given"):
        fields.append(("activity_date", value(st.one_of(st.just("2025-10-06"), fuzz.date_like()))))
    if data.draw(st.booleans(), label="type given"):
        fields.append(("evidence_type", value(fuzz.choice_like(EvidenceItem.Type.values))))
    if data.draw(st.booleans(), label="reflection given"):
        fields.append(("reflection", value(fuzz.hostile_text(3000))))
    for _ in range(data.draw(st.integers(0, 4), label="mappings")):
        ksb = data.draw(st.one_of(st.sampled_from(ksb_ids), fuzz.id_like()), label="ksb id")
        if data.draw(st.booleans(), label="ticked"):
            fields.append((f"ksb_{ksb}", value(st.sampled_from(["on", "true", "1", "", "off"]))))
        if data.draw(st.booleans(), label="note given"):
            fields.append((f"note_{ksb}", value(fuzz.hostile_text(600))))
    for _ in range(data.draw(st.integers(0, 2), label="removals")):
        fields.append(("remove_files", data.draw(st.one_of(st.sampled_from(file_ids or [0]).map(str), fuzz.id_like()))))
    if data.draw(st.booleans(), label="and submit"):
        fields.append(("submit", ""))
    return fields


def _files(data, most: int = 3) -> list[tuple]:
    return [
        ("files", (data.draw(fuzz.file_name(), label="file name"), data.draw(fuzz.file_content(), label="content")))
        for _ in range(data.draw(st.integers(0, most), label="files"))
    ]


def _check_stored_files(before_files: dict, new_file_ids: list[int]) -> None:
    """Accepted files sit under random names, are of an allowed type, and were not HTML or SVG;
    nothing else was written to storage."""
    stored = list(EvidenceFile.objects.filter(pk__in=new_file_ids))
    for f in stored:
        assert RANDOM_STORED_NAME.match(f.file.name), f"{f.original_name!r} stored as {f.file.name!r}"
        assert f.content_type in ALLOWED_TYPES and f.content_type not in NEVER_STORED, f.content_type
        assert not set(f.original_name) & {"/", "\\", "\x00"}, f.original_name
    written = fuzz.media_files().keys() - before_files.keys()
    assert written == {f.file.name for f in stored}, f"files written without a row: {written}"


def _pages_still_open(item: EvidenceItem, *people) -> None:
    """What was saved renders wherever it is shown: to the apprentice, and once submitted to staff."""
    apprenticeship = item.apprenticeship
    paths = [f"/evidence/{item.pk}/", "/evidence/", f"/apprenticeships/{apprenticeship.pk}/"]
    for person in people:
        client = fuzz.client_for(person)
        for path in [*paths, "/portfolio/" if person.pk == apprenticeship.apprentice_id else "/home/"]:
            fuzz.assert_no_server_error(client.get(path), path)


# --- Adding and editing evidence ------------------------------------------------------------------


@fuzz.fuzz_settings()
@given(data=st.data())
def test_adding_evidence_never_fails_and_a_refusal_changes_nothing(apprentice, apprenticeship, foreign_ksbs, data):
    ksb_ids = [k.pk for k in apprenticeship.standard.ksbs.all()[:10]] + [k.pk for k in foreign_ksbs]
    fields = _evidence_fields(data, ksb_ids) + _files(data)
    with fuzz.isolated():
        client = fuzz.client_for(apprentice)
        before, before_files = fuzz.snapshot(), fuzz.media_files()
        response = fuzz.post_raw(client, "/evidence/new/", fields)
        fuzz.assert_no_server_error(response, fields)
        after = fuzz.snapshot()
        if response.status_code == 302:
            fuzz.assert_kept(before, after, what=fields)
            new_items = fuzz.added(before, after, "evidence.EvidenceItem")
            assert len(new_items) == 1
            item = EvidenceItem.objects.get(pk=new_items[0])
            assert item.apprenticeship_id == apprenticeship.pk
            mapped = {m.ksb.standard_id for m in item.versions.get().mappings.select_related("ksb")}
            assert mapped <= {apprenticeship.standard_id}, "a KSB of another standard was mapped"
            _check_stored_files(before_files, fuzz.added(before, after, "evidence.EvidenceFile"))
            _pages_still_open(item, apprentice, apprenticeship.assessor)
        else:
            fuzz.assert_unchanged(before, after, what=fields)
            assert fuzz.media_files() == before_files, "a refused upload left a file in storage"
            if fields:  # an empty post shows the empty form again
                fuzz.assert_explained(response, fields)


@fuzz.fuzz_settings()
@given(data=st.data())
def test_editing_a_draft_changes_only_that_draft(apprentice, apprenticeship, portfolio, foreign_ksbs, data):
    draft = portfolio["draft"]
    version = draft.versions.get()
    file_ids = list(EvidenceFile.objects.values_list("pk", flat=True))
    ksb_ids = [k.pk for k in apprenticeship.standard.ksbs.all()[:10]] + [k.pk for k in foreign_ksbs]
    fields = _evidence_fields(data, ksb_ids, file_ids) + _files(data, 2)
    with fuzz.isolated():
        client = fuzz.client_for(apprentice)
        before, before_files = fuzz.snapshot(), fuzz.media_files()
        response = fuzz.post_raw(client, f"/evidence/{draft.pk}/edit/", fields)
        fuzz.assert_no_server_error(response, fields)
        after = fuzz.snapshot()
        if response.status_code == 302:
            # The draft's own rows: its item, its version, the version's mappings and file links,
            # and files only the draft had.
            own = {("evidence.EvidenceItem", draft.pk), ("evidence.EvidenceVersion", version.pk)}
            own |= {key for key, row in before.items() if row.get("version_id") == version.pk}
            own |= {key for key, row in before.items() if row.get("evidenceversion_id") == version.pk}
            own |= {("evidence.EvidenceFile", f.pk) for f in version.files.all()}
            fuzz.assert_kept(before, after, may_change=own, what=fields)
            _check_stored_files(before_files, fuzz.added(before, after, "evidence.EvidenceFile"))
            _pages_still_open(draft, apprentice)
        else:
            fuzz.assert_unchanged(before, after, what=fields)
            assert fuzz.media_files() == before_files
            if fields:
                fuzz.assert_explained(response, fields)


@fuzz.fuzz_settings()
@given(name=fuzz.file_name(), content=fuzz.file_content())
def test_an_upload_is_stored_under_a_random_name_or_refused_with_a_reason(apprentice, apprenticeship, name, content):
    ksb = apprenticeship.standard.ksbs.first()
    fields = [
        ("title", "Upload check"),
        ("activity_date", "2025-10-06"),
        ("evidence_type", "work_product"),
        (f"ksb_{ksb.pk}", "on"),
        (f"note_{ksb.pk}", "Shows it"),
        ("files", (name, content)),
    ]
    with fuzz.isolated():
        client = fuzz.client_for(apprentice)
        before, before_files = fuzz.snapshot(), fuzz.media_files()
        response = fuzz.post_raw(client, "/evidence/new/", fields)
        fuzz.assert_no_server_error(response, (name, content[:80]))
        after = fuzz.snapshot()
        if response.status_code == 302:
            _check_stored_files(before_files, fuzz.added(before, after, "evidence.EvidenceFile"))
        else:
            fuzz.assert_unchanged(before, after, what=name)
            assert fuzz.media_files() == before_files
            fuzz.assert_explained(response, name)


@pytest.mark.parametrize(
    "content",
    [
        fuzz.HTML,
        fuzz.SVG,
        fuzz.POLYGLOTS["svg-as-xml"],
        fuzz.POLYGLOTS["svg-bare"],
        fuzz.POLYGLOTS["html-bare"],
        fuzz.POLYGLOTS["xhtml"],
        fuzz.POLYGLOTS["html+pdf"],
    ],
)
def test_html_and_svg_are_refused_whatever_they_are_called(client, apprentice, apprenticeship, content):
    client.force_login(apprentice)
    for name in ("page.html", "drawing.svg", "notes.txt", "scan.pdf", "photo.jpg", "noextension"):
        response = fuzz.post_raw(
            client,
            "/evidence/new/",
            [
                ("title", "Page"),
                ("activity_date", "2025-10-06"),
                ("evidence_type", "other"),
                ("files", (name, content)),
            ],
        )
        assert response.status_code == 200
        assert "is not a file type the portfolio accepts" in str(response.context["form"].errors["files"]), name
    assert not EvidenceItem.objects.exists()


@pytest.mark.parametrize("path", ["/evidence/new/", "draft"])
def test_text_too_big_for_one_request_is_refused_whole(client, apprentice, portfolio, path):
    """Past DATA_UPLOAD_MAX_MEMORY_SIZE of form fields, the request is refused before any view runs."""
    client.raise_request_exception = False
    client.force_login(apprentice)
    path = f"/evidence/{portfolio['draft'].pk}/edit/" if path == "draft" else path
    before = fuzz.snapshot()
    reflection = "I reflected at length. " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 20)
    response = fuzz.post_raw(
        client,
        path,
        [("title", "Long"), ("activity_date", "2025-10-06"), ("evidence_type", "other"), ("reflection", reflection)],
    )
    assert response.status_code == 400
    fuzz.assert_explained(response, path)
    fuzz.assert_unchanged(before, what=path)


# --- Illegal transitions and double submits -------------------------------------------------------

ACTIONS = ["submit", "withdraw", "revise", "delete", "edit", "view"]
TARGETS = ["draft", "submitted", "accepted", "returned", "others", "missing"]
LEGAL = {"submit": "draft", "withdraw": "submitted", "revise": "returned", "delete": "draft", "edit": "draft"}


def _frozen(before: dict) -> set:
    """Keys of every submitted version and what hangs off it: none of it may ever change."""
    frozen_versions = {
        pk for (label, pk), row in before.items() if label == "evidence.EvidenceVersion" and row["submitted_at"]
    }
    keys = {("evidence.EvidenceVersion", pk) for pk in frozen_versions}
    keys |= {
        k for k, row in before.items() if row.get("version_id") in frozen_versions and k[0] == "evidence.KSBMapping"
    }
    keys |= {k for k, row in before.items() if row.get("evidenceversion_id") in frozen_versions}
    return keys


@fuzz.fuzz_settings(0.5)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(ACTIONS), st.sampled_from(TARGETS), st.sampled_from(["apprentice", "assessor"])),
        min_size=1,
        max_size=6,
    )
)
def test_illegal_transitions_and_double_submits_are_refused_in_words(request, portfolio, steps):
    people = {name: request.getfixturevalue(name) for name in ("apprentice", "assessor")}
    with fuzz.isolated():
        for action, target, who in steps:
            pk = portfolio[target].pk if target != "missing" else 10**9
            item_before = EvidenceItem.objects.filter(pk=pk).first()
            client = fuzz.client_for(people[who])
            before = fuzz.snapshot()
            if action == "view":
                response = client.get(f"/evidence/{pk}/")
            elif action == "edit":
                response = client.post(
                    f"/evidence/{pk}/edit/",
                    {"title": "Changed", "activity_date": "2025-10-07", "evidence_type": "other"},
                )
            else:
                response = client.post(f"/evidence/{pk}/{action}/")
            step = (action, target, who, item_before.status if item_before else None)
            fuzz.assert_no_server_error(response, step)
            after = fuzz.snapshot()
            # What was submitted is frozen, whatever was asked.
            for key in _frozen(before):
                assert after.get(key) == before[key], f"{key} changed at {step}"
            own = item_before is not None and item_before.apprenticeship.apprentice_id == people["apprentice"].pk
            legal = own and who == "apprentice" and LEGAL.get(action) == item_before.status
            if not legal:
                fuzz.assert_unchanged(before, after, what=step)
                if response.status_code in (200, 302) and action != "view":
                    fuzz.assert_explained(response, step)


# --- Lists, filters and downloads ---------------------------------------------------------------


@fuzz.fuzz_settings(0.5)
@given(
    params=st.dictionaries(
        st.sampled_from(["q", "status", "type", "ksb", "page", "preview", "x"]),
        st.one_of(fuzz.hostile_text(60), st.sampled_from(["K²", "S" + "9" * 30, "1", "0", "-1", "last", "submitted"])),
        max_size=5,
    ),
    who=st.sampled_from(["apprentice", "assessor", "provider_admin", "outsider"]),
)
def test_evidence_lists_and_downloads_take_any_query(request, portfolio, params, who):
    user = request.getfixturevalue(who)
    file_pk = portfolio["submitted"].versions.get().files.get().pk
    with fuzz.isolated():
        client = fuzz.client_for(user)
        before = fuzz.snapshot()
        log = f"/apprenticeships/{portfolio['submitted'].apprenticeship_id}/otj/"
        for path in ("/evidence/", f"/evidence/{portfolio['submitted'].pk}/", f"/evidence/files/{file_pk}/", log):
            response = client.get(path, params)
            fuzz.assert_no_server_error(response, (path, params))
        # Reading records downloads in the audit log and changes nothing else.
        fuzz.assert_kept(before, what=params)


@fuzz.fuzz_settings(0.5)
@given(pk=fuzz.id_like(), number=fuzz.id_like())
def test_evidence_addresses_with_any_id_are_404_never_500(apprentice, portfolio, pk, number):
    with fuzz.isolated():
        client = fuzz.client_for(apprentice)
        for path in (f"/evidence/{pk}/", f"/evidence/{pk}/versions/{number}/", f"/evidence/files/{pk}/"):
            response = client.get(path)
            fuzz.assert_no_server_error(response, path)


# --- Off-the-job hours ----------------------------------------------------------------------------


@pytest.fixture
def otj_entries(apprenticeship):
    """An entry in each state, logged three days ago."""
    day = timezone.localdate() - datetime.timedelta(days=3)
    logged = otj_activity(apprenticeship, on=day)
    verified = otj_activity(
        apprenticeship, on=day, status=OTJActivity.Status.VERIFIED, checked_by=apprenticeship.assessor
    )
    queried = otj_activity(
        apprenticeship,
        on=day,
        status=OTJActivity.Status.QUERIED,
        query_reason="Which session was this?",
        checked_by=apprenticeship.assessor,
    )
    return {"logged": logged, "verified": verified, "queried": queried}


def _otj_fields(data, ksb_ids: list[int], evidence_ids: list[int]) -> list[tuple]:
    def value(strategy):
        return data.draw(st.one_of(strategy, st.binary(max_size=30)), label="value")

    fields: list[tuple] = []
    if data.draw(st.booleans(), label="date given"):
        recent = (timezone.localdate() - datetime.timedelta(days=2)).isoformat()
        fields.append(("date", value(st.one_of(st.just(recent), fuzz.date_like()))))
    for name, good in (("hours", "2"), ("minutes", "30")):
        if data.draw(st.booleans(), label=f"{name} given"):
            fields.append((name, value(st.one_of(st.just(good), fuzz.id_like()))))
    if data.draw(st.booleans(), label="type given"):
        fields.append(("activity_type", value(fuzz.choice_like(OTJActivity.Type.values))))
    if data.draw(st.booleans(), label="description given"):
        fields.append(("description", value(st.one_of(fuzz.sensible_text(), fuzz.hostile_text(3000)))))
    for _ in range(data.draw(st.integers(0, 3), label="ksbs")):
        fields.append(("ksbs", data.draw(st.one_of(st.sampled_from(ksb_ids).map(str), fuzz.id_like()))))
    if data.draw(st.booleans(), label="evidence given"):
        fields.append(("evidence", data.draw(st.one_of(st.sampled_from(evidence_ids).map(str), fuzz.id_like()))))
    return fields


@fuzz.fuzz_settings()
@given(data=st.data(), who=st.sampled_from(["apprentice", "mentor", "assessor"]), edit=st.booleans())
def test_the_off_the_job_form_takes_any_input(
    request, apprenticeship, portfolio, otj_entries, foreign_ksbs, data, who, edit
):
    user = request.getfixturevalue(who)
    ksb_ids = [k.pk for k in apprenticeship.standard.ksbs.all()[:10]] + [k.pk for k in foreign_ksbs]
    # Drafts are the apprentice's alone, and another apprentice's items are nobody's here to link.
    evidence_ids = [item.pk for item in portfolio.values()]
    fields = _otj_fields(data, ksb_ids, evidence_ids)
    target = otj_entries["logged"]
    path = f"/otj/{target.pk}/edit/" if edit else f"/apprenticeships/{apprenticeship.pk}/otj/new/"
    with fuzz.isolated():
        client = fuzz.client_for(user)
        before = fuzz.snapshot()
        response = fuzz.post_raw(client, path, fields)
        fuzz.assert_no_server_error(response, fields)
        after = fuzz.snapshot()
        if response.status_code == 302:
            own = {("evidence.OTJActivity", target.pk)} | {
                key for key, row in before.items() if row.get("otjactivity_id") == target.pk
            }
            fuzz.assert_kept(before, after, may_change=own if edit else (), what=fields)
            changed = (
                [OTJActivity.objects.get(pk=target.pk)]
                if edit
                else [OTJActivity.objects.get(pk=pk) for pk in fuzz.added(before, after, "evidence.OTJActivity")]
            )
            assert len(changed) == 1
            entry = changed[0]
            assert 0 < entry.minutes <= 24 * 60
            assert entry.date <= timezone.localdate()
            assert all(k.standard_id == apprenticeship.standard_id for k in entry.ksbs.all())
            if entry.evidence_id:
                item = EvidenceItem.objects.get(pk=entry.evidence_id)
                assert item.apprenticeship_id == apprenticeship.pk
                assert who == "apprentice" or item.versions.filter(submitted_at__isnull=False).exists()
            log = fuzz.client_for(apprenticeship.assessor).get(f"/apprenticeships/{apprenticeship.pk}/otj/")
            fuzz.assert_no_server_error(log, fields)
        else:
            fuzz.assert_unchanged(before, after, what=fields)
            if fields:
                fuzz.assert_explained(response, fields)


OTJ_ACTIONS = ["verify", "query", "delete", "edit"]


@fuzz.fuzz_settings(0.5)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(OTJ_ACTIONS),
            st.sampled_from(["logged", "verified", "queried", "missing"]),
            st.sampled_from(["assessor", "apprentice", "mentor", "other_assessor"]),
            fuzz.hostile_text(200),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_a_verified_entry_never_changes_and_refusals_are_explained(request, otj_entries, other_apprenticeship, steps):
    people = {n: request.getfixturevalue(n) for n in ("assessor", "apprentice", "mentor", "other_assessor")}
    verified_key = ("evidence.OTJActivity", otj_entries["verified"].pk)
    with fuzz.isolated():
        for action, target, who, text in steps:
            pk = otj_entries[target].pk if target != "missing" else 10**9
            client = fuzz.client_for(people[who])
            before = fuzz.snapshot()
            if action == "query":
                response = client.post(f"/otj/{pk}/query/", {"reason": text})
            elif action == "edit":
                response = client.post(
                    f"/otj/{pk}/edit/",
                    {
                        "date": timezone.localdate().isoformat(),
                        "hours": "1",
                        "activity_type": "online",
                        "description": text,
                    },
                )
            else:
                response = client.post(f"/otj/{pk}/{action}/")
            step = (action, target, who, text[:40])
            fuzz.assert_no_server_error(response, step)
            after = fuzz.snapshot()
            assert after.get(verified_key) == before[verified_key], f"a verified entry changed at {step}"
            if not any(fuzz.differences(before, after).values()):
                # Refused: said why (a 403 or 404 page says it for itself).
                fuzz.assert_explained(response, step)
