"""`{% link 'reviews:ksb' a.pk code %}`: `{% url %}` for the links a list repeats on every row.

Django's `reverse()` walks the URL patterns each time, about 150 µs on our servers: a heatmap
page of 50 rows with three links each, or an assessor's KSBs waiting for a sign-off, spent tens
of milliseconds on it. Here a name is reversed once per process with stand-in arguments, and
later calls fill the real ones into that address. Only plain `int` and `str` path arguments
(which is all our patterns use) are filled in; any other value goes through `reverse()`, so a
bad argument fails exactly as `{% url %}` would.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from urllib.parse import quote

from django import template
from django.urls import get_script_prefix, reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString

register = template.Library()

# Stand-ins that no real address contains and that both `int` and `str` converters accept.
_STAND_IN = "9876543210{}0123456789"

# What `reverse()` leaves unquoted in a path argument (django.urls.resolvers).
_SAFE = "!$&'()*+,;=/~:@"


@lru_cache(maxsize=256)
def _address(name: str, arguments: int, prefix: str) -> tuple[str, ...] | None:
    """The address of `name` cut around its arguments, or None when it cannot be cut safely."""
    stand_ins = [_STAND_IN.format(n) for n in range(arguments)]
    address = reverse(name, args=stand_ins)
    pieces = []
    for stand_in in stand_ins:
        before, found, address = address.partition(stand_in)
        if not found or stand_in in address:
            return None
        pieces.append(before)
    pieces.append(address)
    return tuple(pieces)


def _fits(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, str) and value != "" and "/" not in value


def fast_reverse(name: str, *args: object) -> str:
    """`reverse(name, args=args)`, by filling in a cached address where it can."""
    pieces = _address(name, len(args), get_script_prefix()) if all(_fits(a) for a in args) else None
    if pieces is None:
        return reverse(name, args=args)
    parts = [pieces[0]]
    for value, piece in zip(args, pieces[1:], strict=True):
        parts.append(quote(str(value), safe=_SAFE))
        parts.append(piece)
    return "".join(parts)


def fast_reverse_last(name: str, *args: object) -> Callable[[object], str]:
    """`fast_reverse(name, *args, last)` as a function of `last`, for a row that links once per item
    (each KSB of an apprenticeship): the address around the last argument is worked out once."""
    pieces = _address(name, len(args) + 1, get_script_prefix()) if all(_fits(a) for a in args) else None
    if pieces is None:
        return lambda last: fast_reverse(name, *args, last)
    head = pieces[0] + "".join(quote(str(a), safe=_SAFE) + piece for a, piece in zip(args, pieces[1:-1], strict=True))
    tail = pieces[-1]
    return lambda last: (
        f"{head}{quote(str(last), safe=_SAFE)}{tail}" if _fits(last) else reverse(name, args=(*args, last))
    )


@register.simple_tag
def link(name: str, *args: object) -> SafeString:
    return conditional_escape(fast_reverse(name, *args))
