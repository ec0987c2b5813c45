"""`{% link %}` gives the address `{% url %}` would, for every pattern of the portal, and fails the same way."""

import pytest
from django.template import engines
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse, set_script_prefix

from portal.templatetags.links import fast_reverse, fast_reverse_last

SAMPLES = {"int": [0, 7, 123456], "str": ["K1", "a b%", "café", "S18"]}


def _named_patterns(resolver: URLResolver, namespace: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _named_patterns(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", entry


def _argument_sets(pattern: URLPattern):
    converters = [type(c).__name__.removesuffix("Converter").lower() for c in pattern.pattern.converters.values()]
    if any(kind not in SAMPLES for kind in converters):
        return []
    return [[SAMPLES[kind][n % len(SAMPLES[kind])] for kind in converters] for n in range(3)]


def test_every_named_pattern_gives_the_same_address_as_reverse():
    checked = 0
    for name, pattern in _named_patterns(get_resolver()):
        if name.startswith("admin:"):
            continue
        for arguments in _argument_sets(pattern):
            try:
                expected = reverse(name, args=arguments)
            except NoReverseMatch:
                continue
            assert fast_reverse(name, *arguments) == expected, name
            if arguments:
                assert fast_reverse_last(name, *arguments[:-1])(arguments[-1]) == expected, name
            checked += 1
    assert checked > 100


def test_the_script_prefix_is_part_of_the_address():
    try:
        set_script_prefix("/portal/")
        assert fast_reverse("reviews:ksb", 5, "K1") == "/portal/apprenticeships/5/ksbs/K1/"
        assert fast_reverse_last("reviews:ksb", 5)("K1") == "/portal/apprenticeships/5/ksbs/K1/"
    finally:
        set_script_prefix("/")
    assert fast_reverse("reviews:ksb", 5, "K1") == "/apprenticeships/5/ksbs/K1/"


@pytest.mark.parametrize("arguments", [(-1, "K1"), (5, ""), (5, "a/b"), (True, "K1"), (None, "K1")])
def test_a_value_the_pattern_cannot_take_fails_as_url_would(arguments):
    with pytest.raises(NoReverseMatch):
        reverse("reviews:ksb", args=arguments)
    with pytest.raises(NoReverseMatch):
        fast_reverse("reviews:ksb", *arguments)
    with pytest.raises(NoReverseMatch):
        fast_reverse_last("reviews:ksb", arguments[0])(arguments[1])


def test_the_tag_escapes_the_address_as_url_does():
    link = engines["django"].from_string("{% load links %}{% link 'reviews:ksb' 5 code %}")
    url = engines["django"].from_string("{% url 'reviews:ksb' 5 code %}")
    for code in ("K&1", "K'1", 'K"1', "K<1>"):
        assert link.render({"code": code}) == url.render({"code": code})
    assert link.render({"code": "K&1"}) == "/apprenticeships/5/ksbs/K&amp;1/"
