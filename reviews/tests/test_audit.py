"""The audit log is append-only and `verify_audit` proves it, down to the files signed off."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from portal import audit
from portal.models import AuditEntry
from reviews.tests.helpers import signed_off


def verify() -> str:
    out = StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


@pytest.fixture
def history(apprenticeship):
    signed_off(apprenticeship, "K1")
    signed_off(apprenticeship, "S18", files=("sop.pdf",))
    return AuditEntry.objects.order_by("sequence")


def test_every_decision_and_sign_off_is_chained(history):
    entries = list(history)
    assert [e.action for e in entries] == ["evidence.accepted", "ksb.signed_off", "evidence.accepted", "ksb.signed_off"]
    assert entries[0].previous_hash == audit.GENESIS
    for before, after in zip(entries, entries[1:], strict=False):
        assert after.previous_hash == before.hash
        assert after.sequence == before.sequence + 1


def test_verify_audit_passes_on_an_intact_log(history):
    output = verify()
    assert "Audit log intact: 4 entries." in output
    assert "all match their hashes" in output


def test_verify_audit_names_the_first_tampered_entry(history):
    second = history[1]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE portal_auditentry SET payload = %s WHERE id = %s", ['{"ksb": "K2"}', second.pk])
    with pytest.raises(CommandError, match="Audit log broken at entry 2: its content does not match its hash."):
        verify()


def test_verify_audit_notices_a_deleted_entry(history):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM portal_auditentry WHERE sequence = 3")
    with pytest.raises(CommandError, match="Audit log broken at entry 3: entry 3 is missing"):
        verify()


def test_verify_audit_notices_a_removed_last_entry(history):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM portal_auditentry WHERE sequence = 4")
    with pytest.raises(CommandError, match="should hold 4 entries but holds 3"):
        verify()


def test_verify_audit_reports_a_file_changed_after_sign_off(history, apprenticeship):
    sign_off = apprenticeship.sign_offs.get(ksb__number=18)
    stored = sign_off.signed_files.get().file
    Path(stored.file.path).write_bytes(b"%PDF-1.4 a different document")
    with pytest.raises(CommandError, match=r"sop.pdf \(sign-off of S18 of .*\) has changed"):
        verify()


def test_verify_audit_reports_a_missing_file(history, apprenticeship):
    stored = apprenticeship.sign_offs.get(ksb__number=1).signed_files.get().file
    Path(stored.file.path).unlink()
    with pytest.raises(CommandError, match="chart.png .* is missing from storage"):
        verify()


def test_a_revoked_sign_offs_files_are_not_checked(history, apprenticeship, assessor):
    from reviews.services import revoke_sign_off

    sign_off = apprenticeship.sign_offs.get(ksb__number=1)
    revoke_sign_off(sign_off=sign_off, by=assessor, reason="Wrong evidence")
    Path(sign_off.signed_files.get().file.file.path).unlink()
    assert "all match" in verify()


def test_entries_cannot_be_changed_or_deleted_through_the_orm(history):
    entry = history[0]
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(TypeError):
        AuditEntry.objects.all().delete()


def test_entries_are_only_written_inside_the_change_they_record(transactional_db):
    with pytest.raises(RuntimeError, match="same transaction"):
        audit.record(action="x", actor=None)
