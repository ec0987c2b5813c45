"""Writes to people and apprenticeships. Views, admin actions and commands call these."""

from __future__ import annotations

import datetime

from django.db import transaction

from standards.models import Standard

from .models import Apprenticeship, Organisation, User


@transaction.atomic
def enrol_apprentice(
    *,
    apprentice: User,
    standard: Standard,
    employer: Organisation,
    assessor: User,
    mentor: User | None = None,
    start_date: datetime.date,
    planned_end_date: datetime.date,
) -> Apprenticeship:
    """Enrols an apprentice on a standard version with their own provider.

    Raises ValidationError when the people and organisations do not fit together.
    """
    apprenticeship = Apprenticeship(
        apprentice=apprentice,
        standard=standard,
        provider=apprentice.organisation,
        employer=employer,
        assessor=assessor,
        mentor=mentor,
        start_date=start_date,
        planned_end_date=planned_end_date,
    )
    apprenticeship.full_clean()
    apprenticeship.save()
    return apprenticeship
