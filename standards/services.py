"""Writes to the catalogue that people make in the browser (imports have their own module)."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from .models import Standard

logger = logging.getLogger(__name__)

# No standard asks for more: the longest run four years or so at about six hours a week.
MAX_MINIMUM_OTJ_HOURS = 2000


def may_import(user) -> bool:
    """Provider admins load standards for their cohorts; site administrators may too.

    The role is read by name: the catalogue depends on nothing else of ours.
    """
    return user.is_authenticated and (getattr(user, "role", "") == "provider_admin" or user.is_superuser)


@transaction.atomic
def set_minimum_otj_hours(*, standard: Standard, hours: int | None, by) -> Standard:
    """Records the minimum off-the-job hours published for a standard version, or clears it (None).

    The catalogue has no audit log of its own (that lives in the portal), so the change is logged.
    """
    if not may_import(by):
        raise PermissionDenied("Only a provider admin enters a standard's minimum off-the-job hours.")
    if hours is not None and not 1 <= hours <= MAX_MINIMUM_OTJ_HOURS:
        raise ValidationError(
            {"hours": f"Enter the published minimum as a whole number of hours from 1 to {MAX_MINIMUM_OTJ_HOURS}."}
        )
    standard = Standard.objects.select_for_update().get(pk=standard.pk)
    old = standard.minimum_otj_hours
    standard.minimum_otj_hours = hours
    standard.save(update_fields=["minimum_otj_hours"])
    logger.info(
        "Minimum off-the-job hours of %s v%s changed from %s to %s by user %s",
        standard.reference,
        standard.version,
        old,
        hours,
        by.pk,
    )
    return standard
