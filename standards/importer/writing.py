"""Writing checked standards to the catalogue: all of a file in one transaction, or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from ..models import KSB, Duty, Standard, StandardOption
from .reading import KIND_NOUN, ImportRefused, StandardData, parse


@dataclass
class ImportOutcome:
    standard: Standard
    created: bool
    filled: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        standard = self.standard
        name = f"{standard.reference} {standard.title} version {standard.version}"
        if self.created:
            counts = {kind: 0 for kind in KIND_NOUN}
            for ksb in standard.ksbs.all():
                counts[ksb.kind] += 1
            duties = standard.duties.count()
            return (
                f"{name}: added with {counts['K']} knowledge, {counts['S']} skill and {counts['B']} behaviour "
                f"statements and {duties} dut{'y' if duties == 1 else 'ies'}."
            )
        if self.filled:
            return f"{name}: already in the catalogue; filled in {', '.join(self.filled)}."
        return f"{name}: already in the catalogue, nothing changed."


def import_standards(raw: bytes | str) -> list[ImportOutcome]:
    """Checks the whole file, then writes it in one transaction; ImportRefused says why not."""
    standards = parse(raw)
    try:
        return _write(standards)
    except IntegrityError:
        # Only a second import of the same version at the same moment gets here.
        raise ImportRefused(
            ["Another import changed the same standards at the same moment; nothing was imported. Try again."]
        ) from None


@transaction.atomic
def _write(standards: list[StandardData]) -> list[ImportOutcome]:
    plans: list[tuple[StandardData, Standard | None]] = []
    problems: list[str] = []
    for data in standards:
        existing = Standard.objects.select_for_update().filter(reference=data.reference, version=data.version).first()
        if existing:
            problems.extend(_conflicts(existing, data))
        plans.append((data, existing))
    if problems:
        raise ImportRefused(problems)
    return [_fill(existing, data) if existing else _create(data) for data, existing in plans]


def _create(data: StandardData) -> ImportOutcome:
    standard = Standard.objects.create(**data.fields)
    KSB.objects.bulk_create(
        KSB(standard=standard, kind=s.kind, number=s.number, text=s.text, external_id=s.external_id) for s in data.ksbs
    )
    _add_options(standard, data)
    _add_duties(standard, data)
    return ImportOutcome(standard=standard, created=True)


def _add_options(standard: Standard, data: StandardData) -> None:
    StandardOption.objects.bulk_create(
        StandardOption(standard=standard, number=o.number, title=o.title, external_id=o.external_id)
        for o in data.options
    )


def _add_duties(standard: Standard, data: StandardData) -> None:
    if not data.duties:
        return
    ksbs = {ksb.code: ksb.pk for ksb in standard.ksbs.all()}
    options = {option.number: option.pk for option in standard.options.all()}
    duties = Duty.objects.bulk_create(
        Duty(
            standard=standard,
            number=d.number,
            text=d.text,
            is_core=d.is_core,
            criteria=d.criteria,
            external_id=d.external_id,
        )
        for d in data.duties
    )
    Duty.ksbs.through.objects.bulk_create(
        Duty.ksbs.through(duty_id=duty.pk, ksb_id=ksbs[code])
        for duty, d in zip(duties, data.duties, strict=True)
        for code in d.ksb_codes
    )
    Duty.options.through.objects.bulk_create(
        Duty.options.through(duty_id=duty.pk, standardoption_id=options[n])
        for duty, d in zip(duties, data.duties, strict=True)
        for n in d.option_numbers
    )


def _is_blank(value: Any) -> bool:
    return value is None or value == ""


def _conflicts(standard: Standard, data: StandardData) -> list[str]:
    """Why the file cannot stand beside the version on record; empty when it agrees with it."""
    stored = {ksb.code: ksb for ksb in standard.ksbs.all()}
    incoming = {s.code: s for s in data.ksbs}
    # A version on record without statements has nothing anyone relies on yet: the file fills it.
    differing = (
        [
            code
            for code in sorted(set(stored) | set(incoming), key=_code_order)
            if code not in stored or code not in incoming or stored[code].text != incoming[code].text
        ]
        if stored
        else []
    )
    other_ids = [
        code
        for code, s in incoming.items()
        if code in stored and stored[code].external_id and stored[code].external_id != s.external_id
    ]
    problems = []
    if differing:
        shown = ", ".join(differing[:8]) + (" and more" if len(differing) > 8 else "")
        problems.append(
            f"{data.label} is already in the catalogue with other statements ({shown} differ). A published "
            "version's KSBs do not change; a revised standard comes with a new version number."
        )
    if other_ids:
        problems.append(
            f"{data.label} is already in the catalogue, but {', '.join(sorted(other_ids, key=_code_order))} "
            "carry other identifiers there."
        )
    if standard.duties.exists() and data.duties and _duty_signature(standard) != _incoming_duty_signature(data):
        problems.append(f"{data.label} is already in the catalogue with other duties.")
    stored_options = [(o.number, o.title) for o in standard.options.all()]
    if stored_options and data.options and stored_options != [(o.number, o.title) for o in data.options]:
        problems.append(f"{data.label} is already in the catalogue with other options.")
    return problems


def _code_order(code: str) -> tuple[int, int]:
    return ("KSB".index(code[0]), int(code[1:]))


def _duty_signature(standard: Standard) -> list[tuple]:
    return [
        (duty.number, duty.text, sorted(k.code for k in duty.ksbs.all()))
        for duty in standard.duties.prefetch_related("ksbs")
    ]


def _incoming_duty_signature(data: StandardData) -> list[tuple]:
    return [(d.number, d.text, sorted(d.ksb_codes)) for d in data.duties]


def _fill(standard: Standard, data: StandardData) -> ImportOutcome:
    """Completes a version already on record without changing anything it holds."""
    filled: list[str] = []
    changed_fields = []
    for name, value in data.fields.items():
        if _is_blank(getattr(standard, name)) and not _is_blank(value):
            setattr(standard, name, value)
            changed_fields.append(name)
    if changed_fields:
        standard.save(update_fields=changed_fields)
        filled.append(", ".join(Standard._meta.get_field(name).verbose_name for name in changed_fields))

    stored = list(standard.ksbs.all())
    if not stored and data.ksbs:
        KSB.objects.bulk_create(
            KSB(standard=standard, kind=s.kind, number=s.number, text=s.text, external_id=s.external_id)
            for s in data.ksbs
        )
        filled.append(f"{len(data.ksbs)} KSBs")
    else:
        ids = {s.code: s.external_id for s in data.ksbs}
        missing_ids = [ksb for ksb in stored if ksb.external_id is None and ksb.code in ids]
        for ksb in missing_ids:
            ksb.external_id = ids[ksb.code]
        if missing_ids:
            KSB.objects.bulk_update(missing_ids, ["external_id"])
            filled.append(f"the identifiers of {len(missing_ids)} KSBs")

    if data.options and not standard.options.exists():
        _add_options(standard, data)
        filled.append(f"{len(data.options)} options")
    if data.duties and not standard.duties.exists():
        _add_duties(standard, data)
        filled.append(f"{len(data.duties)} duties")
    return ImportOutcome(standard=standard, created=False, filled=filled)
