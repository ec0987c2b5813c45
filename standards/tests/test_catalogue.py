"""The ST0220 catalogue as published, loaded from `fixtures/st0220.json`."""

import re
from pathlib import Path

import pytest
from django.core.management import call_command

from standards.models import KSB, AlignedQualification, Standard

PUBLISHED_TEXT = Path(__file__).parent / "data" / "ST0220-occupational-standard.txt"


def published_statements() -> dict[str, str]:
    """Code -> statement from the published page, without the page's 'Back to Duty' link text."""
    text = PUBLISHED_TEXT.read_text(encoding="utf-8")
    return {m[1]: m[2] for m in re.finditer(r"^([KSB]\d+): (.*?) Back to Duty\s*$", text, re.MULTILINE)}


def test_loading_st0220_gives_34_knowledge_30_skill_and_1_behaviour_statement(st0220):
    assert st0220.ksbs.filter(kind="K").count() == 34
    assert st0220.ksbs.filter(kind="S").count() == 30
    assert st0220.ksbs.filter(kind="B").count() == 1


def test_every_statement_matches_the_published_text_word_for_word(st0220):
    published = published_statements()
    assert len(published) == 65
    loaded = {ksb.code: ksb.text for ksb in st0220.ksbs.all()}
    assert loaded == published


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("K1", "the requirements of the NHS Constitution/GSPfor ‘person centred care and support’"),
        (
            "K34",
            "The principles of leading teams/individuals based on the healthcare NHS Leadership Model. "
            "Common models, and examples of leadership and team-working",
        ),
        # Published split across two codes; assessors cite them as they stand.
        ("S13", "where appropriate, perform a range of equipment management"),
        ("S14", "skills, e.g. fault-finding/preventative maintenance/calibration/repair"),
        ("S18", "analyse/interpret/record/present accurately HCS technical data"),
    ],
)
def test_sample_statements_are_verbatim(st0220, code, text):
    kind, number = KSB.parse_code(code)
    assert st0220.ksbs.get(kind=kind, number=number).text == text


def test_behaviour_keeps_the_published_non_breaking_spaces(st0220):
    b1 = st0220.ksbs.get(kind="B", number=1)
    assert b1.text.startswith(
        "You will be compassionate; honest; conscientious and adhere to the standards of\xa0GSP\xa0"
    )
    assert "Back to Duty" not in b1.text


def test_standard_carries_its_key_information_and_api_identifiers(st0220):
    assert (st0220.reference, st0220.version, st0220.level, st0220.lars_code) == ("ST0220", "1.0", 4, 150)
    assert st0220.title == "Healthcare science associate"
    assert st0220.route == "Health and science"
    assert st0220.regulated is False
    assert str(st0220.date_updated) == "2024-02-14"
    # GUIDs as the public standards API gives them, so an import recognises the same KSBs.
    assert str(st0220.ksbs.get(kind="K", number=1).external_id) == "635715d0-40cc-4d0b-9719-9d55cdcd06a0"
    assert str(st0220.ksbs.get(kind="S", number=1).external_id) == "b6b1333b-dbe4-45b4-a553-41f7e31f4a0b"
    assert str(st0220.ksbs.get(kind="B", number=1).external_id) == "217b5496-409c-4754-83fa-d06123d9b1a9"
    assert st0220.ksbs.filter(external_id__isnull=True).count() == 0


def test_aligned_qualifications_are_recorded(st0220):
    quals = {q.awarding_body: q for q in st0220.aligned_qualifications.all()}
    assert set(quals) == {"Birmingham City University", "NCFE/CACHE"}
    assert quals["Birmingham City University"].title == "CertHE Healthcare Science Associate (Level 4)"
    assert quals["Birmingham City University"].level == 5
    assert quals["NCFE/CACHE"].level == 4
    assert {str(q.approval_date) for q in quals.values()} == {"2022-07-08"}


def test_loading_twice_changes_nothing(st0220):
    before = list(KSB.objects.order_by("pk").values_list("pk", "kind", "number", "text", "external_id"))
    call_command("loaddata", "st0220", verbosity=0)
    assert Standard.objects.count() == 1
    assert AlignedQualification.objects.count() == 2
    assert list(KSB.objects.order_by("pk").values_list("pk", "kind", "number", "text", "external_id")) == before


def test_ksbs_come_in_published_order(st0220):
    codes = [ksb.code for ksb in st0220.ksbs.all()]
    assert codes[:3] == ["K1", "K2", "K3"]
    assert codes[33:36] == ["K34", "S1", "S2"]
    assert codes[-1] == "B1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("K1", ("K", 1)), ("s18", ("S", 18)), (" B1 ", ("B", 1)), ("K0", None), ("X1", None), ("K", None), ("care", None)],
)
def test_parse_code(text, expected):
    assert KSB.parse_code(text) == expected


def test_search_by_code_or_words(st0220):
    assert [k.code for k in st0220.ksbs.search("s18")] == ["S18"]
    assert [k.code for k in st0220.ksbs.search("infection control")] == ["K13", "S11"]
    assert st0220.ksbs.search("").count() == 65
