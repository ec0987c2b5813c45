"""Comparing two versions of a standard: statements paired by text, not by code."""

from pathlib import Path

import pytest

from standards.diff import REWORDED_THRESHOLD, compare_ksbs, compare_versions
from standards.importer import import_standards
from standards.models import KSB
from standards.tests.factories import StandardFactory

DATA = Path(__file__).parent / "data"


@pytest.fixture
def st9901(db):
    """ST9901 1.0 and its revision 1.1, from the generated files."""
    [old] = import_standards((DATA / "ST9901-v1.0.json").read_bytes())
    [new] = import_standards((DATA / "ST9901-v1.1.json").read_bytes())
    return old.standard, new.standard


def codes(pairs):
    return [(p.old.code, p.new.code) for p in pairs]


def test_version_diff_finds_unchanged_renumbered_reworded_removed_and_added(st9901):
    diff = compare_versions(*st9901)
    changes = diff.changes
    assert codes(changes.unchanged) == [
        ("K1", "K1"),
        ("K3", "K2"),
        ("K5", "K4"),
        ("S1", "S1"),
        ("S3", "S3"),
        ("B1", "B1"),
        ("B2", "B2"),
    ]
    assert codes(changes.renumbered) == [("K3", "K2"), ("K5", "K4")]
    # K4 moved up to K3 and was reworded; S2 was reworded where it stood.
    assert codes(changes.reworded) == [("K4", "K3"), ("S2", "S2")]
    assert all(REWORDED_THRESHOLD <= p.similarity < 1 for p in changes.reworded)
    # S4 was replaced by an unrelated statement: not a rewording.
    assert [k.code for k in changes.removed] == ["K2", "S4"]
    assert [k.code for k in changes.added] == ["K5", "S4"]
    assert changes.has_changes


def test_every_statement_lands_in_exactly_one_place(st9901):
    old, new = st9901
    changes = compare_versions(old, new).changes
    old_ids = [p.old.pk for p in changes.unchanged + changes.reworded] + [k.pk for k in changes.removed]
    new_ids = [p.new.pk for p in changes.unchanged + changes.reworded] + [k.pk for k in changes.added]
    assert sorted(old_ids) == sorted(old.ksbs.values_list("pk", flat=True))
    assert sorted(new_ids) == sorted(new.ksbs.values_list("pk", flat=True))


def test_a_version_compared_with_itself_has_no_changes(st0220):
    changes = compare_versions(st0220, st0220).changes
    assert len(changes.unchanged) == 65
    assert not changes.has_changes


def make(standard, kind, number, text):
    return KSB.objects.create(standard=standard, kind=kind, number=number, text=text)


def test_spacing_alone_is_no_change_and_case_alone_is_a_rewording(db):
    old, new = StandardFactory(version="1.0"), StandardFactory(reference="ST9999", version="1.1")
    a1 = make(old, "K", 1, "the standards of\xa0GSP\xa0for  practice")
    a2 = make(old, "K", 2, "Team working")
    b1 = make(new, "K", 1, "the standards of GSP for practice")
    b2 = make(new, "K", 2, "team working")
    changes = compare_ksbs([a1, a2], [b1, b2])
    assert codes(changes.unchanged) == [("K1", "K1")]
    assert codes(changes.reworded) == [("K2", "K2")]


def test_identical_statements_keep_their_own_codes(db):
    old, new = StandardFactory(version="1.0"), StandardFactory(reference="ST9998", version="1.1")
    olds = [make(old, "S", n, "Work safely") for n in (1, 2)]
    news = [make(new, "S", n, "Work safely") for n in (1, 2)]
    assert codes(compare_ksbs(olds, news).unchanged) == [("S1", "S1"), ("S2", "S2")]


def test_statements_are_only_paired_within_their_kind(db):
    old, new = StandardFactory(version="1.0"), StandardFactory(reference="ST9997", version="1.1")
    k = make(old, "K", 1, "Communicate clearly with patients")
    s = make(new, "S", 1, "Communicate clearly with patients")
    changes = compare_ksbs([k], [s])
    assert changes.removed == [k] and changes.added == [s]
