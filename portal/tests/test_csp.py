"""The Content Security Policy: sent on every page, and no template relies on what it forbids."""

import re
from pathlib import Path

from django.conf import settings

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# The portfolio PDF's templates are read by WeasyPrint, never by a browser.
BROWSER_TEMPLATES = [p for p in TEMPLATES.rglob("*.html") if "pdf" not in p.relative_to(TEMPLATES).parts]


def _policy(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


def test_sign_in_page_sends_a_policy_that_forbids_inline_script(client, db):
    policy = _policy(client.get("/accounts/sign-in/"))
    assert policy["script-src"] == "script-src 'self'"
    assert policy["style-src"] == "style-src 'self'"
    assert policy["default-src"] == "default-src 'self'"
    assert policy["object-src"] == "object-src 'none'"
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert policy["form-action"] == "form-action 'self'"
    assert policy["base-uri"] == "base-uri 'self'"
    assert policy["img-src"] == "img-src 'self' data:"


def test_signed_in_pages_send_the_policy(client, apprenticeship):
    client.force_login(apprenticeship.apprentice)
    for address in ("/portfolio/", "/evidence/new/", "/standards/"):
        response = client.get(address)
        assert response.status_code == 200, address
        assert "script-src 'self'" in response.headers["Content-Security-Policy"], address


def test_no_browser_template_has_inline_script_handlers_or_styles():
    offenders = []
    for path in BROWSER_TEMPLATES:
        text = path.read_text()
        if (
            re.search(r"\son[a-z]+\s*=", text)
            or re.search(r"\sstyle\s*=", text)
            or re.search(r"<script(?![^>]*\ssrc=)", text)
        ):
            offenders.append(str(path.relative_to(TEMPLATES)))
    assert offenders == []
