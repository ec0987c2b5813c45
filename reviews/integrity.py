"""Checks that what sign-offs relied on is still byte for byte what was signed."""

from evidence.uploads import sha256_of

from .models import SignedFile


def changed_signed_files() -> list[str]:
    """One line per file behind a live sign-off that is missing or no longer matches its hash."""
    problems = []
    signed = SignedFile.objects.filter(sign_off__revoked_at__isnull=True).select_related(
        "file", "sign_off__ksb", "sign_off__apprenticeship__apprentice"
    )
    for entry in signed.order_by("sign_off_id", "pk").iterator(chunk_size=500):
        where = f"{entry.sign_off.ksb.code} of {entry.sign_off.apprenticeship.apprentice}"
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
    return problems
