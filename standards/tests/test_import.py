"""Importing standards from the public standards API's JSON: real files, generated ones, refusals."""

import datetime
import json
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict

from standards.importer import ImportRefused, import_standards
from standards.models import KSB, AlignedQualification, Duty, Standard, StandardOption
from standards.tests.test_catalogue import published_statements

DATA = Path(__file__).parent / "data"
KSB_LISTS = (("K", "knowledges", "knowledgeId"), ("S", "skills", "skillId"), ("B", "behaviours", "behaviourId"))


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def api(name: str) -> dict:
    return json.loads(read(name))


def catalogue_snapshot() -> dict:
    """Every row the catalogue holds, so a test can prove an import changed nothing."""
    return {
        "standards": [model_to_dict(s) for s in Standard.objects.order_by("pk")],
        "ksbs": list(KSB.objects.order_by("pk").values()),
        "duties": [(d.pk, model_to_dict(d)) for d in Duty.objects.order_by("pk")],
        "options": list(StandardOption.objects.order_by("pk").values()),
        "qualifications": list(AlignedQualification.objects.order_by("pk").values()),
    }


def codes_by_guid(document: dict) -> dict[str, str]:
    return {
        entry[id_field]: f"{kind}{number}"
        for kind, list_field, id_field in KSB_LISTS
        for number, entry in enumerate(document[list_field], 1)
    }


# --- Real files from the API --------------------------------------------------------------------


def test_importing_st0220_over_the_loaded_fixture_changes_nothing(st0220):
    before = catalogue_snapshot()
    [outcome] = import_standards(read("ST0220-v1.0.json"))
    assert outcome.created is False
    assert outcome.filled == []
    assert outcome.standard.pk == st0220.pk
    assert "already in the catalogue, nothing changed" in outcome.summary
    assert catalogue_snapshot() == before


def test_st0220_from_the_api_gives_the_published_statements_and_guids(db):
    [outcome] = import_standards(read("ST0220-v1.0.json"))
    standard = outcome.standard
    assert outcome.created
    assert (standard.reference, standard.version, standard.lars_code, standard.level) == ("ST0220", "1.0", 150, 4)
    assert {ksb.code: ksb.text for ksb in standard.ksbs.all()} == published_statements()
    document = api("ST0220-v1.0.json")
    assert {str(ksb.external_id): ksb.code for ksb in standard.ksbs.all()} == codes_by_guid(document)
    assert standard.duties.count() == 0
    assert "34 knowledge, 30 skill and 1 behaviour statements and 0 duties" in outcome.summary


def test_the_loaded_fixture_holds_what_the_api_file_holds(st0220):
    """The fixture and a fresh import of the API's file agree field by field (bar the row ids)."""
    fixture = model_to_dict(st0220, exclude=["id"])
    Standard.objects.filter(pk=st0220.pk).delete()
    [outcome] = import_standards(read("ST0220-v1.0.json"))
    imported = model_to_dict(outcome.standard, exclude=["id"])
    # The fixture's date is the published page's "date updated"; the API file's own is older.
    assert fixture.pop("date_updated") == datetime.date(2024, 2, 14)
    assert imported.pop("date_updated") == datetime.date(2022, 9, 27)
    assert imported == fixture


def test_laboratory_technician_brings_its_duties_mapped_to_ksbs(db):
    [outcome] = import_standards(read("ST0248-v1.1.json"))
    standard = outcome.standard
    assert (standard.reference, standard.version, standard.title) == ("ST0248", "1.1", "Laboratory technician")
    assert (standard.level, standard.lars_code, standard.status, standard.max_funding) == (3, 14, "Retired", 21000)
    # Both date formats the API uses.
    assert standard.earliest_start_date == datetime.date(2020, 5, 6)
    assert standard.latest_start_date == datetime.date(2020, 8, 4)
    assert standard.latest_end_date is None
    assert standard.approved_for_delivery == datetime.date(2014, 12, 9)
    assert (
        standard.assessment_plan_url
        == "https://www.instituteforapprenticeships.org/media/1062/laboratory_technician.pdf"
    )
    assert [standard.ksbs.filter(kind=kind).count() for kind in "KSB"] == [22, 19, 8]

    document = api("ST0248-v1.1.json")
    codes = codes_by_guid(document)
    duties = list(standard.duties.prefetch_related("ksbs"))
    assert len(duties) == 11
    for duty, published in zip(duties, document["duties"], strict=True):
        mapped = [*(published["mappedKnowledge"] or []), *(published["mappedSkills"] or [])]
        mapped += published["mappedBehaviour"] or []
        assert duty.text == published["dutyDetail"]
        assert str(duty.external_id) == published["dutyID"]
        assert duty.is_core
        assert {ksb.code for ksb in duty.ksbs.all()} == {codes[guid] for guid in mapped}
    assert [k.code for k in duties[0].sorted_ksbs] == ["K6", "K7", "K8", "K9", "K10", "K11", "K22", "S1", "S2"]
    assert [k.code for k in duties[3].sorted_ksbs] == ["K1", "K14", "S7", "S8", "B2", "B3", "B4", "B5"]


def test_a_standard_with_no_ksbs_nulls_and_blanks_is_taken_as_it_is(db):
    [outcome] = import_standards(read("ST9902-no-ksbs.json"))
    standard = outcome.standard
    assert standard.ksbs.count() == 0
    assert standard.duties.count() == 0 and standard.options.count() == 0
    assert standard.lars_code is None  # the API's 0: no LARS code yet
    assert (standard.status, standard.earliest_start_date, standard.approved_for_delivery) == (
        "In development",
        None,
        None,
    )
    assert standard.standard_page_url == "" and standard.assessment_plan_url == ""


# --- A generated standard with duties and options -------------------------------------------------


def as_api(standard: Standard) -> dict:
    """The catalogue's copy of a standard in the API's terms, for the round trip."""
    ksbs = {kind: [k for k in standard.ksbs.all() if k.kind == kind] for kind in "KSB"}
    document = {
        "referenceNumber": standard.reference,
        "version": standard.version,
        "larsCode": standard.lars_code,
        "title": standard.title,
        "level": standard.level,
        "status": standard.status,
        "route": standard.route,
        "typicalDuration": standard.typical_duration_months,
        "maxFunding": standard.max_funding,
        "regulated": standard.regulated,
        "standardPageUrl": standard.standard_page_url,
        "assessmentPlanUrl": standard.assessment_plan_url,
        "earliestStartDate": standard.earliest_start_date.isoformat(),
        "approvedForDelivery": standard.approved_for_delivery.isoformat(),
        "options": [{"optionId": str(o.external_id), "title": o.title} for o in standard.options.all()],
        "duties": [],
    }
    for kind, list_field, id_field in KSB_LISTS:
        document[list_field] = [{id_field: str(k.external_id), "detail": k.text} for k in ksbs[kind]]
    for duty in standard.duties.prefetch_related("ksbs", "options"):
        document["duties"].append(
            {
                "dutyID": str(duty.external_id),
                "dutyDetail": duty.text,
                "isThisACoreDuty": int(duty.is_core),
                "criteriaForMeasuringPerformance": duty.criteria,
                "mapped": {str(k.external_id) for k in duty.ksbs.all()},
                "mappedOptions": {str(o.external_id) for o in duty.options.all()},
            }
        )
    return document


def test_round_trip_of_a_generated_standard_with_duties_and_options(db):
    published = api("ST9901-v1.0.json")
    [outcome] = import_standards(json.dumps(published))
    assert outcome.created
    back = as_api(outcome.standard)
    for name in [
        "referenceNumber",
        "version",
        "larsCode",
        "title",
        "level",
        "status",
        "route",
        "typicalDuration",
        "maxFunding",
        "regulated",
        "standardPageUrl",
        "assessmentPlanUrl",
        "options",
        "knowledges",
        "skills",
        "behaviours",
    ]:
        assert back[name] == published[name], name
    assert back["earliestStartDate"] == published["earliestStartDate"][:10]
    assert back["approvedForDelivery"] == published["approvedForDelivery"][:10]
    assert len(back["duties"]) == len(published["duties"]) == 4
    for mine, theirs in zip(back["duties"], published["duties"], strict=True):
        mapped = set()
        for field in ("mappedKnowledge", "mappedSkills", "mappedBehaviour"):
            mapped |= set(theirs[field] or [])
        assert mine["dutyID"] == theirs["dutyID"]
        assert mine["dutyDetail"] == theirs["dutyDetail"]
        assert mine["isThisACoreDuty"] == theirs["isThisACoreDuty"]
        assert mine["criteriaForMeasuringPerformance"] == (theirs["criteriaForMeasuringPerformance"] or "")
        assert mine["mapped"] == mapped
        assert mine["mappedOptions"] == set(theirs["mappedOptions"] or [])
    # A duty with null mapping lists is kept, with no KSBs.
    assert outcome.standard.duties.get(number=4).ksbs.count() == 0


def test_importing_the_same_version_twice_changes_nothing(db):
    import_standards(read("ST9901-v1.0.json"))
    import_standards(read("ST0248-v1.1.json"))
    before = catalogue_snapshot()
    outcomes = import_standards(read("ST9901-v1.0.json")) + import_standards(read("ST0248-v1.1.json"))
    assert [o.created for o in outcomes] == [False, False]
    assert [o.filled for o in outcomes] == [[], []]
    assert catalogue_snapshot() == before


def test_a_new_version_is_added_beside_the_old_one(db):
    [old] = import_standards(read("ST9901-v1.0.json"))
    before = list(old.standard.ksbs.values_list("pk", "text"))
    [new] = import_standards(read("ST9901-v1.1.json"))
    assert new.created and new.standard.pk != old.standard.pk
    assert sorted(Standard.objects.values_list("reference", "version")) == [("ST9901", "1.0"), ("ST9901", "1.1")]
    assert list(old.standard.ksbs.values_list("pk", "text")) == before
    assert new.standard.earliest_start_date == datetime.date(2026, 2, 1)


def test_a_list_of_standards_is_imported_together(db):
    outcomes = import_standards(read("ST9901-both-versions.json"))
    assert [(o.standard.version, o.created) for o in outcomes] == [("1.0", True), ("1.1", True)]


def test_reimporting_fills_what_was_left_blank_and_nothing_else(db):
    [outcome] = import_standards(read("ST9901-v1.0.json"))
    standard = outcome.standard
    Standard.objects.filter(pk=standard.pk).update(title="Our own title", status="", max_funding=None)
    KSB.objects.filter(standard=standard, kind="K").update(external_id=None)
    standard.duties.all().delete()
    [again] = import_standards(read("ST9901-v1.0.json"))
    standard.refresh_from_db()
    assert again.created is False
    assert again.filled == ["status, max funding", "the identifiers of 5 KSBs", "4 duties"]
    assert standard.title == "Our own title"
    assert (standard.status, standard.max_funding) == ("Approved for delivery", 17000)
    assert standard.ksbs.filter(external_id__isnull=True).count() == 0
    assert standard.duties.count() == 4


# --- Refusals ------------------------------------------------------------------------------------


def refused(raw) -> list[str]:
    with pytest.raises(ImportRefused) as caught:
        import_standards(raw)
    return caught.value.problems


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("refused-not-json.json", ["The file is not JSON (Expecting value at line 1, column 1)."]),
        (
            "refused-missing-fields.json",
            [
                'The standard: "referenceNumber" is missing.',
                'The standard: "title" is missing.',
                'The standard: S2 has no "detail" (the statement\'s text).',
            ],
        ),
        (
            "refused-duty-maps-unknown-ksb.json",
            [
                'ST9901 1.0: duty 2 maps the skill 0b9d3f6e-6f4e-4c55-9d1a-5d0c8e2b7a11 in "mappedSkills", '
                "which is not one of the standard's KSBs."
            ],
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_problem(db, name, expected):
    assert refused(read(name)) == expected
    assert Standard.objects.count() == 0 and KSB.objects.count() == 0 and Duty.objects.count() == 0


def test_duplicate_identifiers_are_refused(db):
    document = api("refused-duplicate-ids.json")
    k1 = document["knowledges"][0]["knowledgeId"]
    duty = document["duties"][0]["dutyID"]
    problems = refused(read("refused-duplicate-ids.json"))
    assert f"ST9901 1.0: the identifier {k1} is used twice, by K1 and S4." in problems
    assert f"ST9901 1.0: the duty identifier {duty} is used twice." in problems
    assert Standard.objects.count() == 0


def test_nothing_is_half_imported_when_a_later_standard_is_bad(db):
    problems = refused(read("refused-second-of-two.json"))
    assert problems == ['Standard 2 in the list: "level" must be a whole number, not "three".']
    assert Standard.objects.count() == 0 and KSB.objects.count() == 0 and StandardOption.objects.count() == 0


def mutated(change) -> str:
    document = api("ST9901-v1.0.json")
    change(document)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(version="1.1"), '"version" (1.1) and "versionNumber" (1.0) disagree'),
        (lambda d: d.update(version=None, versionNumber=None), '"version" is missing'),
        (lambda d: d.update(version="v2", versionNumber="v2"), '"version" must be numbers separated by dots'),
        (lambda d: d.update(level=9), '"level" must be from 2 to 7, not 9'),
        (lambda d: d.pop("level"), '"level" is missing'),
        (lambda d: d.update(earliestStartDate="31/10/2016"), '"earliestStartDate" is not a date: "31/10/2016"'),
        (lambda d: d.update(latestEndDate="2016-02-30T00:00:00"), '"latestEndDate" is not a date'),
        (lambda d: d.update(standardPageUrl="javascript:alert(1)"), '"standardPageUrl" is not a web address'),
        (lambda d: d.update(regulated="no"), '"regulated" must be true or false'),
        (lambda d: d.pop("behaviours"), '"behaviours" is missing (an empty list is fine'),
        (lambda d: d.update(skills={"skillId": "x"}), '"skills" must be a list'),
        (lambda d: d["knowledges"][2].update(knowledgeId="K3"), '"knowledgeId" is not a GUID: "K3"'),
        (lambda d: d["knowledges"][2].pop("knowledgeId"), 'K3 has no "knowledgeId"'),
        (lambda d: d["options"].append(dict(d["options"][0])), "the option identifier"),
        (lambda d: d["duties"][1].update(mappedOptions=[str(uuid.uuid4())]), "not one of the standard's options"),
        (lambda d: d["duties"][0].update(dutyDetail=""), 'duty 1 has no "dutyDetail"'),
        (lambda d: d["duties"][0].update(isThisACoreDuty="yes"), '"isThisACoreDuty" must be 0 or 1'),
        (lambda d: d["duties"][0].update(mappedKnowledge="all"), '"mappedKnowledge" must be a list of GUIDs or null'),
        (lambda d: d.update(title="x" * 300), '"title" is longer than 255 characters'),
    ],
)
def test_each_kind_of_bad_field_is_refused_by_name(db, change, expected):
    problems = refused(mutated(change))
    assert any(expected in p for p in problems), problems
    assert Standard.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\xff\xfe\x00", "The file is not UTF-8 text"),
        (b"[]", "The file holds an empty list"),
        (b"42", "The file holds neither a standard nor a list of standards."),
        (b"[42]", "The standard is not a JSON object."),
        (b'{"referenceNumber": "ST\\u0000"}', "The file holds a NUL character"),
    ],
)
def test_files_that_are_not_standards_are_refused(db, raw, expected):
    assert any(expected in p for p in refused(raw))


def test_the_same_version_twice_in_one_file_is_refused(db):
    document = api("ST9901-v1.0.json")
    assert refused(json.dumps([document, document])) == ["ST9901 1.0 appears twice in the file."]


def test_a_version_on_record_with_other_statements_is_refused(st0220):
    before = catalogue_snapshot()
    document = api("ST0220-v1.0.json")
    document["knowledges"][2]["detail"] = "probity"
    document["skills"].append({"skillId": str(uuid.uuid4()), "detail": "A new skill"})
    problems = refused(json.dumps(document))
    assert problems == [
        "ST0220 1.0 is already in the catalogue with other statements (K3, S31 differ). A published version's "
        "KSBs do not change; a revised standard comes with a new version number."
    ]
    assert catalogue_snapshot() == before


def test_a_version_on_record_with_other_identifiers_is_refused(st0220):
    document = api("ST0220-v1.0.json")
    document["skills"][0]["skillId"] = str(uuid.uuid4())
    assert refused(json.dumps(document)) == [
        "ST0220 1.0 is already in the catalogue, but S1 carry other identifiers there."
    ]


def test_a_version_on_record_with_other_duties_is_refused(db):
    import_standards(read("ST9901-v1.0.json"))
    changed = mutated(lambda d: d["duties"][0].update(dutyDetail="Something else entirely."))
    assert refused(changed) == ["ST9901 1.0 is already in the catalogue with other duties."]


def test_a_long_list_of_problems_is_cut_short(db):
    document = api("ST9901-v1.0.json")
    document["knowledges"] = [{"knowledgeId": "nope", "detail": "x"}] * 30
    problems = refused(json.dumps(document))
    assert len(problems) == 21
    assert problems[-1].startswith("and ") and problems[-1].endswith(" more problems")


# --- The command ---------------------------------------------------------------------------------


def test_command_imports_and_says_what_it_did(db, capsys):
    call_command("import_standard", str(DATA / "ST0248-v1.1.json"))
    call_command("import_standard", str(DATA / "ST0248-v1.1.json"))
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "ST0248 Laboratory technician version 1.1: added with 22 knowledge, 19 skill and 8 behaviour statements "
        "and 11 duties.",
        "ST0248 Laboratory technician version 1.1: already in the catalogue, nothing changed.",
    ]


def test_command_refuses_a_bad_file_in_one_line(db):
    with pytest.raises(CommandError) as caught:
        call_command("import_standard", str(DATA / "refused-missing-fields.json"))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{DATA / 'refused-missing-fields.json'} was not imported: ")
    assert '"referenceNumber" is missing' in message
    assert Standard.objects.count() == 0


def test_command_names_a_file_it_cannot_read(db, tmp_path):
    with pytest.raises(CommandError, match="cannot be read"):
        call_command("import_standard", str(tmp_path / "missing.json"))
