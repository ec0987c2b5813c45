"""The audit log: an append-only hash chain of everything that decides an apprentice's record.

Each entry's hash covers its own content and the hash of the entry before it, so changing or
removing any entry breaks every hash after it; `verify_chain` finds the first one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from .models import Apprenticeship, AuditChainHead, AuditEntry, User

GENESIS = "0" * 64


def entry_hash(*, sequence: int, created_at, actor_id, action: str, apprenticeship_id, payload, previous_hash: str):
    content = {
        "sequence": sequence,
        "created_at": created_at.isoformat(),
        "actor": actor_id,
        "action": action,
        "apprenticeship": apprenticeship_id,
        "payload": payload,
        "previous": previous_hash,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record(
    *, action: str, actor: User | None, apprenticeship: Apprenticeship | None = None, payload: dict | None = None
) -> AuditEntry:
    """Appends one entry. Must run inside the transaction that makes the change it records."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Audit entries are written in the same transaction as the change they record.")
    # The head row serialises appends: two writers cannot both chain onto the same entry.
    head = AuditChainHead.objects.select_for_update().get_or_create(pk=1, defaults={"last_hash": GENESIS})[0]
    payload = json.loads(json.dumps(payload or {}, cls=DjangoJSONEncoder))
    entry = AuditEntry(
        sequence=head.length + 1,
        actor=actor,
        action=action,
        apprenticeship=apprenticeship,
        payload=payload,
        previous_hash=head.last_hash,
        created_at=timezone.now(),
    )
    entry.hash = entry_hash(
        sequence=entry.sequence,
        created_at=entry.created_at,
        actor_id=entry.actor_id,
        action=action,
        apprenticeship_id=entry.apprenticeship_id,
        payload=payload,
        previous_hash=entry.previous_hash,
    )
    AuditEntry.objects.bulk_create([entry])
    AuditChainHead.objects.filter(pk=head.pk).update(last_hash=entry.hash, length=entry.sequence)
    return entry


@dataclass
class ChainReport:
    checked: int
    first_bad: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.first_bad is None


def verify_chain() -> ChainReport:
    """Recomputes every hash in order; reports the first entry that does not fit."""
    previous = GENESIS
    expected_sequence = 1
    checked = 0
    for entry in AuditEntry.objects.order_by("sequence").iterator(chunk_size=2000):
        if entry.sequence != expected_sequence:
            return ChainReport(checked, expected_sequence, f"entry {expected_sequence} is missing")
        if entry.previous_hash != previous:
            return ChainReport(checked, entry.sequence, "it does not point at the entry before it")
        recomputed = entry_hash(
            sequence=entry.sequence,
            created_at=entry.created_at,
            actor_id=entry.actor_id,
            action=entry.action,
            apprenticeship_id=entry.apprenticeship_id,
            payload=entry.payload,
            previous_hash=entry.previous_hash,
        )
        if recomputed != entry.hash:
            return ChainReport(checked, entry.sequence, "its content does not match its hash")
        previous = entry.hash
        expected_sequence += 1
        checked += 1
    head = AuditChainHead.objects.filter(pk=1).first()
    if head and head.length != checked:
        return ChainReport(checked, checked + 1, f"the log should hold {head.length} entries but holds {checked}")
    return ChainReport(checked)
