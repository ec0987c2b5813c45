"""Progress is cached under each apprenticeship's evidence stamp: every change to what it counts renews it.

Each step of the workflow below is taken through its service after both views of progress (the
apprentice's, with drafts, and staff's, without) and the heatmap's drawing of the staff view were
read and so cached. What is read afterwards must equal what the database says, and must differ
from before, so a service that forgot to renew the stamp fails here.
"""

import re

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from evidence import services as evidence_services
from evidence.tests.factories import evidence
from portal.models import Apprenticeship, User
from reviews import services
from reviews.progress import progress_of
from reviews.templatetags.coverage_cells import drawn_rows
from reviews.tests.helpers import ksb, signed_off
from reviews.versions import move_apprenticeship

from .test_versions import on_old, st9901  # noqa: F401 - fixtures


def shown(apprenticeship, *, drafts: bool):
    """Progress as a page reads it, from the cache where the stamp allows; for staff, with the
    heatmap row drawn before the cells are built, as the heatmap draws it."""
    coverage = progress_of(Apprenticeship.objects.get(pk=apprenticeship.pk), drafts=drafts)
    drawn = None if drafts else drawn_rows([coverage])[0]
    cells = [(c.ksb.code, c.state, dict(c.counts), c.signed_at, c.signed_by, c.summary) for c in coverage.cells]
    return coverage.last_activity, cells, drawn


def from_the_database(apprenticeship, *, drafts: bool):
    """Progress read and drawn afresh: nothing cached can answer."""
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}):
        return shown(apprenticeship, drafts=drafts)


class Watch:
    """Reads both views before a step, then checks both after it against the database."""

    def __init__(self, apprenticeship):
        self.apprenticeship = apprenticeship

    def __enter__(self):
        self.before = {drafts: shown(self.apprenticeship, drafts=drafts) for drafts in (True, False)}
        return self

    def __exit__(self, *exc):
        if exc[0]:
            return False
        after = {drafts: shown(self.apprenticeship, drafts=drafts) for drafts in (True, False)}
        truth = {drafts: from_the_database(self.apprenticeship, drafts=drafts) for drafts in (True, False)}
        assert after == truth
        assert after != self.before, "the step changed nothing progress shows: it proves nothing"
        return False


def test_every_change_to_evidence_decisions_and_sign_offs_shows_at_once(apprenticeship):
    apprentice, assessor = apprenticeship.apprentice, apprenticeship.assessor
    with Watch(apprenticeship):
        item = evidence(apprenticeship, codes=("K1",))
    with Watch(apprenticeship):
        version = item.versions.get()
        evidence_services.update_draft(
            item=item,
            by=apprentice,
            title=version.title,
            activity_date=version.activity_date,
            evidence_type=version.evidence_type,
            reflection=version.reflection,
            mappings={ksb(apprenticeship, "K2"): "Shows K2", ksb(apprenticeship, "S1"): "Shows S1"},
        )
    with Watch(apprenticeship):
        evidence_services.submit_evidence(item=item, by=apprentice)
    with Watch(apprenticeship):
        evidence_services.withdraw_evidence(item=item, by=apprentice)
    evidence_services.submit_evidence(item=item, by=apprentice)
    with Watch(apprenticeship):
        services.return_evidence(item=item, by=assessor, feedback="Say what the QC chart showed.")
    with Watch(apprenticeship):
        evidence_services.revise_evidence(item=item, by=apprentice)
    evidence_services.submit_evidence(item=item, by=apprentice)
    with Watch(apprenticeship):
        mappings = item.versions.order_by("-number").first().mappings.select_related("ksb")
        services.accept_evidence(item=item, by=assessor, judgements={m.pk: (m.ksb.code == "K2", "") for m in mappings})
    with Watch(apprenticeship):
        sign_off = services.sign_off_ksb(
            apprenticeship=apprenticeship,
            ksb=ksb(apprenticeship, "K2"),
            versions=[item.versions.order_by("-number").first()],
            by=assessor,
            comment="The QC record shows K2.",
        )
    with Watch(apprenticeship):
        services.revoke_sign_off(sign_off=sign_off, by=assessor, reason="Signed off on the wrong item.")
    draft = evidence(apprenticeship, codes=("B1",))
    with Watch(apprenticeship):
        evidence_services.delete_draft(item=draft, by=apprentice)


def test_a_move_to_a_newer_version_shows_at_once(on_old, st9901, provider_admin):  # noqa: F811
    signed_off(on_old, "K1")
    evidence(on_old, codes=("K2", "K5"))
    with Watch(on_old):
        move_apprenticeship(apprenticeship=on_old, to_standard=st9901[1], by=provider_admin)


def test_a_refused_change_leaves_the_cache_standing(apprenticeship):
    item = evidence(apprenticeship, codes=("K1",), submit=True)
    before = shown(apprenticeship, drafts=False)
    stamp = Apprenticeship.objects.get(pk=apprenticeship.pk).evidence_stamp
    with pytest.raises(Exception, match="feedback"):
        services.return_evidence(item=item, by=apprenticeship.assessor, feedback=" ")
    assert Apprenticeship.objects.get(pk=apprenticeship.pk).evidence_stamp == stamp
    assert shown(apprenticeship, drafts=False) == before


def test_progress_seen_again_reads_no_evidence_and_names_the_signer_as_now(apprenticeship):
    signed_off(apprenticeship, "K1")
    shown(apprenticeship, drafts=False)
    User.objects.filter(pk=apprenticeship.assessor_id).update(first_name="Dana", last_name="Okafor-Smith")
    with CaptureQueriesContext(connection) as queries:
        _, cells, drawn = shown(apprenticeship, drafts=False)
    # The apprenticeship, its KSBs, its stamp and the signer's name: nothing from evidence or sign-offs.
    assert len(queries) == 4
    assert not [q for q in queries if re.search(r'(FROM|JOIN) "(evidence_|reviews_signoff)', q["sql"])]
    k1 = next(cell for cell in cells if cell[0] == "K1")
    assert k1[4] == "Dana Okafor-Smith"
    assert "by Dana Okafor-Smith" in drawn.strip


def test_a_heatmap_row_seen_again_is_read_as_drawn_without_building_its_cells(apprenticeship):
    signed_off(apprenticeship, "K1")
    evidence(apprenticeship, codes=("S2",), submit=True)
    first = shown(apprenticeship, drafts=False)[2]
    coverage = progress_of(Apprenticeship.objects.get(pk=apprenticeship.pk), drafts=False)
    (again,) = drawn_rows([coverage])
    assert again == first
    assert (again.signed_off, again.total, again.percent_signed_off) == (1, 65, 2)
    assert "cells" not in vars(coverage), "a row read back needs no cells"
    assert 'title="K1: Signed off ' in again.strip and "1 submitted" in again.counts


def test_each_view_is_cached_apart(apprenticeship):
    evidence(apprenticeship, codes=("K1",))  # a draft: the apprentice sees it, staff do not
    apprentice_view = dict((c[0], c[1]) for c in shown(apprenticeship, drafts=True)[1])
    staff_view = dict((c[0], c[1]) for c in shown(apprenticeship, drafts=False)[1])
    assert apprentice_view["K1"].css == "draft"
    assert staff_view["K1"].css == "none"
    assert dict((c[0], c[1]) for c in shown(apprenticeship, drafts=True)[1]) == apprentice_view
