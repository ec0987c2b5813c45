"""Shared pieces of the property-based tests (`test_fuzz_*.py`): hostile input, and the three properties.

Every form and upload is fed random, huge, malformed and hostile input through the real views,
and three things must hold for each example:

1. the response is never a server error (`assert_no_server_error`);
2. nothing already saved changes (`snapshot` before and after, then `assert_unchanged` or
   `assert_kept`), and a refused upload leaves no file behind (`media_files`);
3. refused input is answered with words the person can act on (`assert_explained`).

The tests are plain pytest functions with the persona fixtures, so the fixtures' rows are made
once per test while hypothesis calls the body many times. Each example therefore runs inside
`isolated()`, a savepoint that is always rolled back: one example never sees another's writes,
on SQLite and PostgreSQL alike. (hypothesis' own `hypothesis.extra.django.TestCase` does the same
per example, but only for unittest-style classes, which cannot take the persona fixtures.)

How many examples each property runs is `HYPOTHESIS_EXAMPLES` (default 40); the number actually
run is counted and printed at the end of the pytest run.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.db import transaction
from django.forms import BaseForm, BaseFormSet
from django.test import Client
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from evidence.tests.samples import CONTENT

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "40"))
# Shrinking a failure through the whole stack can take minutes; HYPOTHESIS_SHRINK=0 reports the
# first failing example as found.
SHRINK = os.environ.get("HYPOTHESIS_SHRINK", "1") != "0"

# Examples run, by test; printed at the end of the run (see `report_examples`).
RUN: Counter[str] = Counter()


def fuzz_settings(share: float = 1.0) -> settings:
    """hypothesis settings for one property: `share` of HYPOTHESIS_EXAMPLES examples, no deadline.

    Fixtures are function-scoped on purpose (each example is isolated by `isolated()` instead), and
    a request through the whole stack is slow by hypothesis' standards. No example database: the
    failing example is printed, and nothing is written into the working tree.
    """
    return settings(
        max_examples=max(1, round(EXAMPLES * share)),
        deadline=None,
        database=None,
        print_blob=True,
        phases=[phase for phase in Phase if SHRINK or phase not in (Phase.shrink, Phase.explain)],
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )


class _RolledBack(Exception):
    """Raised at the end of every example so that its savepoint is rolled back."""


@contextmanager
def isolated() -> Iterator[None]:
    """Runs one example in a savepoint that is always rolled back, and counts it."""
    RUN[os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]] += 1
    try:
        with transaction.atomic():
            yield
            raise _RolledBack
    except _RolledBack:
        pass


@pytest.fixture(scope="session")
def report_examples(request):
    """Prints how many examples each file of properties ran, and the total, after the test summary."""

    class Report:
        @staticmethod
        def pytest_terminal_summary(terminalreporter):
            if not RUN:
                return
            by_file: Counter[str] = Counter()
            for test, count in RUN.items():
                by_file[test.split("::")[0]] += count
            terminalreporter.section("hypothesis examples run")
            for path, count in sorted(by_file.items()):
                terminalreporter.write_line(f"{path}: {count} examples")
            terminalreporter.write_line(
                f"{sum(RUN.values())} examples over {len(RUN)} properties (HYPOTHESIS_EXAMPLES={EXAMPLES})"
            )

    if not request.config.pluginmanager.has_plugin("fuzz-report"):
        request.config.pluginmanager.register(Report(), "fuzz-report")


# --- Clients and requests ------------------------------------------------------------------------


def client_for(user=None) -> Client:
    """A fresh client (so no message or cookie carries over from another example) that returns
    server errors as responses, so that the property can say which input caused one."""
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


BOUNDARY = "fuzzBoundary7MA4YWxkTrZu0gW"


def multipart(fields: Iterable[tuple[str | bytes, Any]]) -> tuple[bytes, str]:
    """A multipart/form-data body written byte by byte, as a hostile client could send it.

    Each field is (name, value): a str or bytes value is a form field; a (filename, content) pair
    is a file, with the filename sent as given (path parts, NUL, any bytes), which Django's test
    client would otherwise reduce to a base name before the server ever saw it.
    """
    lines: list[bytes] = []
    for name, value in fields:
        name_bytes = name if isinstance(name, bytes) else name.encode("utf-8")
        lines.append(b"--" + BOUNDARY.encode())
        if isinstance(value, tuple):
            filename, content = value
            filename_bytes = filename if isinstance(filename, bytes) else filename.encode("utf-8", "surrogatepass")
            lines.append(
                b'Content-Disposition: form-data; name="' + name_bytes + b'"; filename="' + filename_bytes + b'"'
            )
            lines.append(b"Content-Type: application/octet-stream")
            lines.append(b"")
            lines.append(content)
        else:
            value_bytes = value if isinstance(value, bytes) else value.encode("utf-8")
            lines.append(b'Content-Disposition: form-data; name="' + name_bytes + b'"')
            lines.append(b"")
            lines.append(value_bytes)
    lines.append(b"--" + BOUNDARY.encode() + b"--")
    lines.append(b"")
    return b"\r\n".join(lines), f"multipart/form-data; boundary={BOUNDARY}"


def post_raw(client: Client, path: str, fields: Iterable[tuple[str | bytes, Any]]):
    body, content_type = multipart(fields)
    return client.post(path, data=body, content_type=content_type)


# --- The three properties -------------------------------------------------------------------------


def assert_no_server_error(response, what: Any = "") -> None:
    """The first property: whatever was sent, the answer is not a 5xx."""
    if response.status_code < 500:
        return
    detail = ""
    if getattr(response, "exc_info", None):
        import traceback

        detail = "".join(traceback.format_exception(*response.exc_info))
    shown = repr(what)
    raise AssertionError(f"{response.status_code} for {shown[:300]}{'...' if len(shown) > 300 else ''}\n{detail}")


def _models() -> list:
    """Every table of the portal's own apps, with the many-to-many tables between them."""
    found = []
    for label in ("standards", "portal", "evidence", "reviews"):
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            found.append(model)
    return found


def snapshot(*models) -> dict[tuple[str, Any], dict[str, Any]]:
    """Every row of the given models (default: all of the portal's), as field values by (model, pk).

    Sessions, sign-in attempts and `last_login` are left out: they change with every sign-in
    by design, and they are nobody's record.
    """
    rows: dict[tuple[str, Any], dict[str, Any]] = {}
    for model in models or _models():
        names = [f.attname for f in model._meta.concrete_fields if f.attname != "last_login"]
        for values in model._base_manager.order_by("pk").values(*names):
            rows[(model._meta.label, values[model._meta.pk.attname])] = values
    return rows


def differences(before: dict, after: dict) -> dict[str, list]:
    changed = [key for key in before.keys() & after.keys() if before[key] != after[key]]
    return {
        "added": sorted(after.keys() - before.keys(), key=str),
        "removed": sorted(before.keys() - after.keys(), key=str),
        "changed": sorted(changed, key=str),
    }


def _describe(before: dict, after: dict, keys: Iterable) -> str:
    lines = []
    for key in keys:
        old, new = before.get(key, {}), after.get(key, {})
        fields = {name for name in {*old, *new} if old.get(name) != new.get(name)}
        lines.append(f"{key}: " + ", ".join(f"{n}: {old.get(n)!r} -> {new.get(n)!r}" for n in sorted(fields)))
    return "\n".join(lines)


def assert_unchanged(before: dict, after: dict | None = None, what: Any = "") -> None:
    """Nothing was added, removed or changed: what a refused request must leave behind."""
    after = snapshot() if after is None else after
    diff = differences(before, after)
    if any(diff.values()):
        raise AssertionError(
            f"a refused request changed the database for {what!r}: {diff}\n"
            + _describe(before, after, diff["changed"] + diff["added"][:5])
        )


def assert_kept(before: dict, after: dict | None = None, *, may_change: Iterable = (), what: Any = "") -> None:
    """No row that existed was changed or removed, except those listed in `may_change` (keys or
    model labels). New rows are allowed: an accepted request adds what it records."""
    after = snapshot() if after is None else after
    # The audit log's head moves with every entry appended; the entries themselves never change.
    allowed = {*may_change, "portal.AuditChainHead"}
    diff = differences(before, after)
    broken = [key for key in diff["changed"] + diff["removed"] if key not in allowed and key[0] not in allowed]
    if broken:
        raise AssertionError(f"saved rows changed for {what!r}:\n" + _describe(before, after, broken))


def added(before: dict, after: dict, label: str) -> list:
    """The primary keys of the rows of one model that are new."""
    return [pk for (model, pk) in after.keys() - before.keys() if model == label]


def media_files() -> dict[str, str]:
    """Every stored file (relative path -> SHA-256) under MEDIA_ROOT."""
    root = Path(django_settings.MEDIA_ROOT)
    if not root.exists():
        return {}
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file()
    }


def _forms_in(context) -> list:
    """The forms and formsets of every template the response rendered."""
    if context is None:
        return []
    contexts = context if isinstance(context, list) else [context]
    found, seen = [], set()
    for each in contexts:
        for value in each.flatten().values():
            if isinstance(value, BaseForm | BaseFormSet) and id(value) not in seen:
                seen.add(id(value))
                found.append(value)
    return found


def explanations(response) -> list[str]:
    """What the page says was wrong: form and formset errors, and messages shown or queued."""
    said: list[str] = []
    for form in _forms_in(response.context):
        if isinstance(form, BaseFormSet):
            if form.is_bound:
                said.extend(str(e) for e in form.non_form_errors())
                for member in form.forms:
                    said.extend(str(m) for errors in member.errors.values() for m in errors)
        elif form.is_bound:
            said.extend(str(m) for errors in form.errors.values() for m in errors)
    storage = getattr(response.wsgi_request, "_messages", None)
    if storage is not None:
        said.extend(str(m) for m in [*getattr(storage, "_loaded_data", []), *storage._queued_messages])
    return [s for s in said if s.strip()]


def assert_explained(response, what: Any = "") -> None:
    """A refused request is answered with what went wrong (a form error, a message, or for a 400 the
    page that says to reload and try again), never with a bare page."""
    if response.status_code == 400:
        assert b"try again" in response.content, f"a 400 without a way forward for {what!r}"
        return
    if response.status_code in (403, 404, 405):
        # The error pages say what happened and link home; nothing of the input is kept to explain.
        return
    said = explanations(response)
    assert said, f"refused without a word for {what!r} (status {response.status_code})"
    for message in said:
        # A message says what to do or what is wrong in words, not a bare code.
        assert len(message) >= 10, f"{message!r} is too short to act on, for {what!r}"


# --- Hostile text ---------------------------------------------------------------------------------

NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\r\n\r\n",
    "\t\x0b\x0c",
    "\x1b[31mred",
    "\u202eevil\u202c",
    "\ufeffBOM",
    "\u200b\u200c\u200d",
    "﷽",
    "𝕳𝖊𝖑𝖑𝖔",
    "👩🏽‍⚕️🧪",
    "Ω≈ç√∫",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7|add:7 }}{% now 'Y' %}",
    "' OR '1'='1' --",
    "%s%s%n%x",
    "../../../../etc/passwd",
    "null",
    "NaN",
    "-1",
    "0",
    "99999999999999999999999999999999",
    "1e309",
    "K²",
    "S١٢",
]


def control_text(max_size: int = 50) -> st.SearchStrategy[str]:
    """Text made mostly of control characters, NUL among them."""
    return st.text(
        alphabet=st.one_of(st.characters(categories=["Cc", "Cf", "Zl", "Zp"]), st.sampled_from("\x00\x7f")),
        max_size=max_size,
    )


def huge_text(*, smallest: int = 10_000, largest: int = 300_000) -> st.SearchStrategy[str]:
    """A long text built by repeating a short random piece (cheap to generate, heavy to handle)."""
    return st.builds(
        lambda piece, size: (piece * (size // len(piece) + 1))[:size],
        st.text(min_size=1, max_size=8),
        st.integers(smallest, largest),
    )


def hostile_text(max_size: int = 300) -> st.SearchStrategy[str]:
    """Any text a person or a script could type: ordinary, unicode, control characters, known
    trouble-makers, and now and then something very long."""
    return st.one_of(
        st.text(max_size=max_size),
        control_text(),
        st.sampled_from(NASTY_STRINGS),
        st.builds(lambda a, b: a + b, st.sampled_from(NASTY_STRINGS), st.text(max_size=20)),
        huge_text(smallest=max_size, largest=max(max_size * 10, 20_000)),
    )


def sensible_text(max_size: int = 200) -> st.SearchStrategy[str]:
    """Text a form would accept: printable, no NUL, something besides spaces."""
    return st.text(st.characters(categories=["L", "N", "P", "Zs", "S"]), min_size=1, max_size=max_size).filter(
        lambda s: s.strip()
    )


def id_like() -> st.SearchStrategy[str]:
    """What a client might send where an id belongs."""
    return st.one_of(
        st.integers(-(2**63), 2**70).map(str),
        st.integers(0, 50).map(str),
        st.sampled_from(["", "abc", "1.5", "1e3", "0x10", " 1", "١", "²", "NaN", "None", "null", "[]", "-0", "\x00"]),
        st.text(max_size=30),
    )


def date_like() -> st.SearchStrategy[str]:
    """Dates that exist, far ones, and strings that only look like dates."""
    return st.one_of(
        st.dates().map(lambda d: d.isoformat()),
        st.dates().map(lambda d: f"{d:%d/%m/%Y}"),
        st.sampled_from(
            ["", "2025-02-30", "0000-00-00", "0001-01-01", "9999-12-31", "2025-13-01", "31/12/2025", "tomorrow"]
        ),
        st.text(max_size=20),
    )


def choice_like(valid: Iterable[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(list(valid)), hostile_text(40))


# --- Hostile files --------------------------------------------------------------------------------


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


HTML = CONTENT["html"]
SVG = CONTENT["svg"]
POLYGLOTS = {
    # A PDF header glued to a zip: libmagic reads the header, the archive is still there.
    "pdf+zip": CONTENT["pdf"] + CONTENT["zip"],
    "zip+pdf": CONTENT["zip"] + CONTENT["pdf"],
    # Image bytes, then a page: browsers sniffing for HTML must never get the chance.
    "jpeg+html": CONTENT["jpg"] + HTML,
    "png+html": CONTENT["png"] + HTML,
    "gif+script": b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=alert(1);//;",
    "html+pdf": HTML + CONTENT["pdf"],
    "svg-as-xml": b'<?xml version="1.0"?>\n<!DOCTYPE svg><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    "svg-bare": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "html-bare": b"<html><script>alert(1)</script>",
    "html-utf16": "<!DOCTYPE html><script>alert(1)</script>".encode("utf-16"),
    "xhtml": b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
    "docx-with-html": _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>", "x.html": HTML}),
    "odt-claims-html": _zip({"mimetype": b"text/html", "content.xml": b"<x/>"}),
    "zip-bomb-ish": _zip({f"{n}.txt": b"0" * 100_000 for n in range(5)}),
    "heic-truncated": struct.pack(">I", 24) + b"ftypheic",
    "text-with-nul": b"notes\x00\x00\x00more notes",
    "latin1-text": "résumé of my week".encode("latin-1"),
    "surrogate-bytes": b"\xed\xa0\x80\xed\xb0\x80 text",
}


def file_content() -> st.SearchStrategy[bytes]:
    """Real files, truncated files, polyglots, HTML and SVG, empty files and random bytes."""
    real = st.sampled_from(sorted(CONTENT))
    return st.one_of(
        real.map(CONTENT.get),
        st.tuples(real, st.integers(0, 64)).map(lambda t: CONTENT[t[0]][: t[1]]),
        st.sampled_from(sorted(POLYGLOTS)).map(POLYGLOTS.get),
        st.just(b""),
        st.binary(max_size=2048),
        st.tuples(real, st.binary(min_size=1, max_size=64)).map(lambda t: CONTENT[t[0]] + t[1]),
    )


NASTY_NAMES = [
    "../../x.pdf",
    "..\\..\\x.pdf",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    "evidence/../../settings.py",
    "x\x00.pdf",
    "x.pdf\x00.html",
    "CON",
    "nul.txt",
    "PRN.pdf",
    "COM1.jpg",
    "LPT1",
    ".htaccess",
    ".",
    "..",
    "",
    " ",
    "a" * 300 + ".pdf",
    "é" * 200 + ".png",
    "evil\u202efdp.exe",
    "résumé 📄.pdf",
    "photo.JPG",
    "report.pdf.html",
    "image.svg",
    "page.html",
    'quote".pdf',
    "semi;colon.pdf",
    "new\nline.pdf",
    "tab\t.csv",
]


def file_name() -> st.SearchStrategy[str | bytes]:
    """Names with path parts, NUL, reserved device names, very long and unicode, and raw bytes."""
    extensions = [".pdf", ".docx", ".png", ".jpg", ".txt", ".csv", ".html", ".svg", ".exe", ".zip", ""]
    return st.one_of(
        st.sampled_from(NASTY_NAMES),
        st.tuples(st.text(max_size=40), st.sampled_from(extensions)).map("".join),
        st.binary(max_size=40).map(lambda b: b.replace(b'"', b"").replace(b"\r", b"").replace(b"\n", b"")),
    )
