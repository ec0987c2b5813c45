"""The evidence workflow: draft → submitted → accepted or returned → (revised) draft."""

import pytest

from evidence.models import EvidenceItem, IllegalTransition

S = EvidenceItem.Status
METHODS = {
    "submit": "submit",
    "withdraw": "withdraw",
    "accept": "accept",
    "return": "return_for_revision",
    "revise": "revise",
}
LEGAL = {
    (S.DRAFT, "submit"): S.SUBMITTED,
    (S.SUBMITTED, "withdraw"): S.DRAFT,
    (S.SUBMITTED, "accept"): S.ACCEPTED,
    (S.SUBMITTED, "return"): S.RETURNED,
    (S.RETURNED, "revise"): S.DRAFT,
}
ALL = [(status, transition) for status in S for transition in METHODS]


@pytest.mark.parametrize(("start", "transition"), list(LEGAL))
def test_legal_transition_moves_the_item(start, transition):
    item = EvidenceItem(status=start)
    getattr(item, METHODS[transition])()
    assert item.status == LEGAL[(start, transition)]


@pytest.mark.parametrize(("start", "transition"), [pair for pair in ALL if pair not in LEGAL])
def test_illegal_transition_is_refused_and_changes_nothing(start, transition):
    item = EvidenceItem(status=start)
    with pytest.raises(IllegalTransition, match=f"Cannot {transition} evidence that is {start.label.lower()}"):
        getattr(item, METHODS[transition])()
    assert item.status == start


def test_only_drafts_are_editable():
    assert EvidenceItem(status=S.DRAFT).is_editable
    assert not any(EvidenceItem(status=s).is_editable for s in (S.SUBMITTED, S.ACCEPTED, S.RETURNED))
