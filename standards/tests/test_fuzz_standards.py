"""Bad input on the catalogue: standard imports of random JSON and bytes, the KSB search, the minimum
off-the-job hours form and any address. Never a 5xx, nothing saved changes, refusals say why.
See portal/tests/fuzz.py for the properties and how examples are isolated."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from portal.tests import fuzz
from portal.tests.fuzz import report_examples  # noqa: F401 (the fixture that prints the count)

pytestmark = pytest.mark.usefixtures("report_examples")

VALID = json.loads((Path(__file__).parent / "data" / "ST9901-v1.0.json").read_bytes())

# Files that broke parsers before: each must be refused with a reason, never answered with a 500.
NASTY_FILES = {
    "deeply nested list": b"[" * 100_000 + b"]" * 100_000,
    "nested just under the recursion limit": b"[" * 900 + b"]" * 900,
    "an integer of 5,000 digits": b'{"level": ' + b"9" * 5000 + b"}",
    "a lone surrogate in the title": json.dumps({**VALID, "title": "\ud800"}).encode(),
    "a lone surrogate in a statement": json.dumps(
        {**VALID, "knowledges": [{**VALID["knowledges"][0], "detail": "Safe \udfff practice"}]}
    ).encode(),
    "a lone surrogate as the version": json.dumps({**VALID, "version": "\udc80"}).encode(),
    "a superscript digit as the level": json.dumps({**VALID, "level": "²"}).encode(),
    "a superscript digit as the LARS code": json.dumps({**VALID, "larsCode": "¹²"}).encode(),
    "NaN and Infinity": json.dumps({**VALID, "level": float("nan"), "maxFunding": float("inf")}).encode(),
    "a NUL in a key": json.dumps({**VALID, "ti\x00tle": "x"}).encode(),
    "UTF-16": json.dumps(VALID).encode("utf-16"),
    "Latin-1": json.dumps({**VALID, "title": "Café"}, ensure_ascii=False).encode("latin-1"),
    "a slash in the reference": json.dumps({**VALID, "referenceNumber": "ST/9901"}).encode(),
    "a reference that grows when upper-cased": json.dumps({**VALID, "referenceNumber": "ßßßßßßßß"}).encode(),
    "Arabic-Indic digits as the version": json.dumps({**VALID, "version": "١.٠", "versionNumber": None}).encode(),
    "empty": b"",
    "only whitespace": b" \n\t ",
    "a list of nulls": b"[null, null]",
    "the string null": b"null",
}


def json_values(max_leaves: int = 20) -> st.SearchStrategy:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        fuzz.hostile_text(80),
        # Lone surrogates: JSON may escape them (\\ud800), though no UTF-8 text can hold one.
        st.text(st.characters(categories=["Cs", "L"]), max_size=10),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=5), st.dictionaries(fuzz.hostile_text(20), children, max_size=5)
        ),
        max_leaves=max_leaves,
    )


def _paths(value, prefix=()):
    """Every place in a JSON document where a value sits."""
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


@st.composite
def mutated_standard(draw) -> dict:
    """The valid ST9901 file with a few values replaced by random JSON, or removed."""
    document = json.loads(json.dumps(VALID))
    paths = [p for p in _paths(document) if p]
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths))
        parent = document
        try:
            for step in path[:-1]:
                parent = parent[step]
            if draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(json_values(8))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed that place
    return document


def import_files() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.tuples(mutated_standard(), st.booleans()).map(
            lambda t: json.dumps(t[0], ensure_ascii=t[1]).encode("utf-8", "surrogatepass")
        ),
        json_values().map(lambda d: json.dumps(d).encode()),
        st.sampled_from(sorted(NASTY_FILES)).map(NASTY_FILES.get),
        st.binary(max_size=512),
        fuzz.file_content(),
    )


@fuzz.fuzz_settings()
@given(content=import_files(), name=fuzz.file_name())
def test_importing_any_file_never_fails_and_a_refusal_changes_nothing(provider_admin, st0220, content, name):
    with fuzz.isolated():
        client = fuzz.client_for(provider_admin)
        before = fuzz.snapshot()
        response = fuzz.post_raw(client, "/standards/import/", [("file", (name, content))])
        fuzz.assert_no_server_error(response, content[:200])
        after = fuzz.snapshot()
        if response.status_code == 302:
            # A new version is added beside the others; one already loaded only has blanks filled in.
            diff = fuzz.differences(before, after)
            assert not diff["removed"]
            for key in diff["changed"]:
                for field, old in before[key].items():
                    assert after[key][field] == old or old in ("", None), f"{key}.{field} was {old!r}"
        else:
            fuzz.assert_unchanged(before, after, what=content[:200])
            if content:
                fuzz.assert_explained(response, content[:200])


@pytest.mark.parametrize("label", sorted(NASTY_FILES))
def test_known_troublesome_files_are_refused_with_a_reason(client, provider_admin, st0220, label):
    client.raise_request_exception = False
    client.force_login(provider_admin)
    before = fuzz.snapshot()
    response = fuzz.post_raw(client, "/standards/import/", [("file", ("standard.json", NASTY_FILES[label]))])
    fuzz.assert_no_server_error(response, label)
    assert response.status_code == 200
    fuzz.assert_explained(response, label)
    fuzz.assert_unchanged(before, what=label)


@fuzz.fuzz_settings(0.5)
@example(query="K²", extra={})
@example(query="S" + "9" * 40, extra={})
@example(query="b\x00", extra={})
@given(query=fuzz.hostile_text(300), extra=st.dictionaries(fuzz.hostile_text(10), fuzz.hostile_text(30), max_size=3))
def test_the_ksb_search_takes_any_query(apprentice, st0220, query, extra):
    with fuzz.isolated():
        client = fuzz.client_for(apprentice)
        before = fuzz.snapshot()
        response = client.get("/standards/ST0220/1.0/", {**extra, "q": query})
        fuzz.assert_no_server_error(response, query)
        assert response.status_code == 200
        fuzz.assert_unchanged(before, what=query)


@fuzz.fuzz_settings(0.5)
@given(hours=st.one_of(fuzz.id_like(), fuzz.hostile_text(20)), who=st.sampled_from(["provider_admin", "assessor"]))
def test_the_minimum_hours_form_takes_any_input(request, st0220, hours, who):
    user = request.getfixturevalue(who)  # outside the example's savepoint, so that it outlives it
    with fuzz.isolated():
        client = fuzz.client_for(user)
        before = fuzz.snapshot()
        response = client.post("/standards/ST0220/1.0/otj-hours/", {"hours": hours})
        fuzz.assert_no_server_error(response, hours)
        if response.status_code == 302:
            after = fuzz.snapshot()
            fuzz.assert_kept(before, after, may_change=[("standards.Standard", st0220.pk)], what=hours)
            minimum = after[("standards.Standard", st0220.pk)]["minimum_otj_hours"]
            assert minimum is None or 1 <= minimum <= 2000
        else:
            fuzz.assert_unchanged(before, what=hours)
            fuzz.assert_explained(response, hours)


@fuzz.fuzz_settings(0.5)
@given(reference=fuzz.hostile_text(30), version=fuzz.hostile_text(20), other=fuzz.hostile_text(20))
def test_catalogue_addresses_take_any_reference_and_version(apprentice, st0220, reference, version, other):
    with fuzz.isolated():
        client = fuzz.client_for(apprentice)
        ref, ver, oth = (quote(part, safe="") or "x" for part in (reference, version, other))
        for path in (
            f"/standards/{ref}/{ver}/",
            f"/standards/{ref}/compare/{ver}/{oth}/",
            f"/standards/ST0220/compare/1.0/{oth}/",
            f"/standards/ST0220/{ver}/",
        ):
            fuzz.assert_no_server_error(client.get(path), path)
