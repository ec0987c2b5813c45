"""How much of their storage quota an apprentice has used, for the evidence form."""

from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from evidence.services import storage_used
from portal.models import Apprenticeship

register = template.Library()


@dataclass(frozen=True)
class StorageUse:
    used: int
    limit: int

    @property
    def left_text(self) -> str:
        """Room left when it is getting short (under a tenth), so nobody meets the limit unwarned."""
        left = max(self.limit - self.used, 0)
        return f"{filesizeformat(left)} left" if left < self.limit / 10 else ""


@register.simple_tag
def storage_use(apprenticeship: Apprenticeship) -> StorageUse:
    return StorageUse(used=storage_used(apprenticeship.apprentice), limit=settings.STORAGE_QUOTA)
