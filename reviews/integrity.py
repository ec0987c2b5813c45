"""Checks that what sign-offs relied on is still byte for byte what was signed.

A file erased with an apprentice's personal data is gone on purpose: it is reported as erased, with
the date, and not as changed, provided the audit log records its erasure. A file marked erased
that no erasure entry names is a problem like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from evidence.uploads import sha256_of
from portal.models import AuditEntry

from .erasure import ERASED_ACTION
from .models import SignedFile


@dataclass
class SignedFilesReport:
    problems: list[str]
    # One line per apprenticeship whose files behind live sign-offs were erased.
    erased: list[str]


def check_signed_files() -> SignedFilesReport:
    """Re-hashes every file behind a live sign-off; erased files are counted, not re-hashed."""
    problems = []
    erased: dict[tuple[str, str], int] = {}
    recorded = _files_recorded_as_erased()
    signed = SignedFile.objects.filter(sign_off__revoked_at__isnull=True).select_related(
        "file", "sign_off__ksb", "sign_off__apprenticeship__apprentice"
    )
    for entry in signed.order_by("sign_off_id", "pk").iterator(chunk_size=500):
        where = f"{entry.sign_off.ksb.code} of {entry.sign_off.apprenticeship.apprentice}"
        if entry.file.erased_at is not None:
            if entry.file_id in recorded:
                day = f"{timezone.localtime(entry.file.erased_at):%-d %b %Y}"
                key = (str(entry.sign_off.apprenticeship.apprentice), day)
                erased[key] = erased.get(key, 0) + 1
            else:
                problems.append(
                    f"File {entry.file_id} (sign-off of {where}) is marked erased, but no erasure in the audit log "
                    "names it."
                )
            continue
        try:
            with entry.file.file.open("rb") as handle:
                digest = sha256_of(handle)
        except FileNotFoundError:
            problems.append(f"{entry.file.original_name} (sign-off of {where}) is missing from storage.")
            continue
        if digest != entry.sha256:
            problems.append(
                f"{entry.file.original_name} (sign-off of {where}) has changed: signed {entry.sha256}, now {digest}."
            )
    lines = [
        f"{who}: {count} file{'s' if count != 1 else ''} behind live sign-offs erased on {day} "
        "with their personal data (not re-hashed; the SHA-256 at sign-off is kept)."
        for (who, day), count in sorted(erased.items())
    ]
    return SignedFilesReport(problems=problems, erased=lines)


def changed_signed_files() -> list[str]:
    """One line per file behind a live sign-off that is missing or no longer matches its hash."""
    return check_signed_files().problems


def _files_recorded_as_erased() -> set[int]:
    recorded: set[int] = set()
    for payload in AuditEntry.objects.filter(action=ERASED_ACTION).values_list("payload", flat=True):
        recorded.update(payload.get("files", []))
    return recorded
