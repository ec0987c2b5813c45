"""Hardening to OWASP ASVS 4.0 level 2: passwords, sessions, sign-in lockout, the admin's second
factor, security headers on real responses, downloads, and `check --deploy` with production settings."""

import datetime
import json
import os
import re
import secrets
import subprocess
import sys
import time
from importlib import import_module
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import RequestFactory
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import PASSWORD
from evidence.tests.factories import evidence
from portal.audit import verify_chain
from portal.management.commands.seed_demo import DEMO_PASSWORD, SUPERUSER
from portal.middleware import LAST_SEEN, SIGNED_IN_AT, client_address
from portal.models import AuditEntry
from portal.tests.factories import UserFactory
from reviews import exports
from reviews.models import Export

PROJECT = Path(__file__).resolve().parents[2]
WRONG = "not the password at all"


def sign_in(client, email: str, password: str = PASSWORD, address: str = "10.0.0.1"):
    return client.post("/accounts/sign-in/", {"username": email, "password": password}, REMOTE_ADDR=address)


def run_django(env: dict[str, str], *, code: str = "", manage: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Runs Python code, or `manage.py` with arguments, in a fresh process with only these settings set."""
    ours = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "BEHIND_PROXY"}
    clean = {k: v for k, v in os.environ.items() if k not in ours and not k.startswith(("SESSION_", "SECURE_"))}
    command = [sys.executable, "manage.py", *manage] if manage else [sys.executable, "-c", code]
    return subprocess.run(
        command,
        cwd=PROJECT,
        env=clean | {"DJANGO_SETTINGS_MODULE": "portal.settings"} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production(tmp_path, **extra: str) -> dict[str, str]:
    """What a real deployment sets: DEBUG off, a strong secret key, its host name."""
    return {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "portal.example.org,testserver",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    } | extra


# --- Passwords ---------------------------------------------------------------------------------


@pytest.mark.parametrize("password", [DEMO_PASSWORD, PASSWORD, "a-brand-new-passphrase"])
def test_the_demo_and_test_passwords_pass_the_rules(password, apprentice):
    validate_password(password, user=apprentice)


@pytest.fixture
def reset_form_path(client, apprentice, django_capture_on_commit_callbacks) -> str:
    """The page of a real reset link, as the apprentice reaches it from the email."""
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/password-reset/", {"email": apprentice.email})
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/password-reset/" in line)
    response = client.get(link.split("testserver", 1)[1], follow=True)
    return response.redirect_chain[-1][0]


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pass1", "This password is too short. It must contain at least 12 characters."),
        ("peanutbutter", "This password is too common."),
    ],
)
def test_the_reset_form_refuses_short_and_common_passwords_saying_why(
    client, apprentice, reset_form_path, password, message
):
    response = client.post(reset_form_path, {"new_password1": password, "new_password2": password})
    assert response.status_code == 200
    assert message in response.content.decode()
    apprentice.refresh_from_db()
    assert apprentice.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("password", "message"),
    [("elevenchars", "at least 12 characters"), ("manchesterunited", "too common")],
)
def test_the_password_change_form_refuses_short_and_common_passwords(apprentice, password, message):
    form = PasswordChangeForm(
        apprentice, {"old_password": PASSWORD, "new_password1": password, "new_password2": password}
    )
    assert not form.is_valid()
    assert message in " ".join(form.errors["new_password2"])


# --- Sessions ----------------------------------------------------------------------------------

SessionStore = import_module(settings.SESSION_ENGINE).SessionStore


def session_key(client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def move_clocks(client, **seconds_ago: float) -> None:
    """Moves the session's stored timestamps into the past, as if that much time had gone by."""
    session = client.session
    names = {"signed_in": SIGNED_IN_AT, "last_seen": LAST_SEEN}
    for name, ago in seconds_ago.items():
        session[names[name]] = time.time() - ago
    session.save()


def test_signing_in_gives_a_new_session_key_and_drops_the_old_one(client, apprentice):
    planted = SessionStore()
    planted["planted"] = True
    planted.create()
    client.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key
    assert sign_in(client, apprentice.email).status_code == 302
    assert session_key(client) != planted.session_key
    assert not Session.objects.filter(session_key=planted.session_key).exists()


def test_signing_in_starts_both_clocks(client, apprentice):
    before = time.time()
    sign_in(client, apprentice.email)
    assert before <= client.session[SIGNED_IN_AT] <= time.time()
    assert client.session[LAST_SEEN] == client.session[SIGNED_IN_AT]


def test_signing_out_deletes_the_session_on_the_server(client, apprentice):
    sign_in(client, apprentice.email)
    old_key = session_key(client)
    assert client.get("/home/").status_code == 200
    client.post("/accounts/sign-out/")
    assert not Session.objects.filter(session_key=old_key).exists()
    client.cookies[settings.SESSION_COOKIE_NAME] = old_key  # replayed by whoever kept a copy
    response = client.get("/home/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/sign-in/?next=/home/"


def test_the_stored_session_expires_after_the_idle_limit(client, apprentice):
    sign_in(client, apprentice.email)
    expires = Session.objects.get(session_key=session_key(client)).expire_date.timestamp()
    assert expires == pytest.approx(time.time() + 30 * 60, abs=5)


def test_a_session_past_its_stored_expiry_is_gone(client, apprentice):
    sign_in(client, apprentice.email)
    Session.objects.filter(session_key=session_key(client)).update(
        expire_date=datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    )
    assert client.get("/home/")["Location"] == "/accounts/sign-in/?next=/home/"


def test_a_session_idle_for_more_than_30_minutes_ends(client, apprentice):
    sign_in(client, apprentice.email)
    key = session_key(client)
    move_clocks(client, last_seen=31 * 60)
    response = client.get("/home/")
    assert response["Location"] == "/accounts/sign-in/?next=/home/"
    assert not Session.objects.filter(session_key=key).exists()
    page = client.get(response["Location"]).content.decode()
    assert "nothing happened in it for 30 minutes" in page


def test_a_request_moves_the_idle_limit_on(client, apprentice):
    sign_in(client, apprentice.email)
    move_clocks(client, last_seen=25 * 60)
    Session.objects.filter(session_key=session_key(client)).update(
        expire_date=datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
    )
    assert client.get("/home/").status_code == 200
    assert client.session[LAST_SEEN] == pytest.approx(time.time(), abs=5)
    stored = Session.objects.get(session_key=session_key(client))
    assert stored.expire_date.timestamp() == pytest.approx(time.time() + 30 * 60, abs=5)


def test_requests_within_a_minute_do_not_write_the_session(client, apprentice):
    sign_in(client, apprentice.email)
    stored = Session.objects.get(session_key=session_key(client))
    client.get("/home/")
    client.get("/evidence/")
    assert Session.objects.get(pk=stored.pk).expire_date == stored.expire_date


def test_a_session_ends_12_hours_after_signing_in_however_busy(client, apprentice):
    sign_in(client, apprentice.email)
    key = session_key(client)
    move_clocks(client, signed_in=11 * 3600 + 59 * 60, last_seen=10)
    assert client.get("/home/").status_code == 200
    move_clocks(client, signed_in=12 * 3600 + 60, last_seen=10)
    response = client.get("/home/")
    assert response["Location"] == "/accounts/sign-in/?next=/home/"
    assert not Session.objects.filter(session_key=key).exists()
    page = client.get(response["Location"]).content.decode()
    assert "sessions last at most 12 hours after signing in" in page


def test_an_ended_session_sends_an_htmx_poll_to_the_sign_in_page(client, apprentice):
    sign_in(client, apprentice.email)
    move_clocks(client, signed_in=13 * 3600)
    response = client.get("/home/", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/accounts/sign-in/"


def test_a_form_posted_after_the_limit_goes_to_sign_in_without_coming_back(client, apprentice):
    sign_in(client, apprentice.email)
    move_clocks(client, last_seen=31 * 60)
    assert client.post("/notices/dismiss/")["Location"] == "/accounts/sign-in/"


def test_both_limits_come_from_the_environment(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_AGE, s.SESSION_IDLE_MINUTES, s.SESSION_MAX_HOURS)"
    )
    result = run_django({"SESSION_IDLE_MINUTES": "45", "SESSION_MAX_HOURS": "8"}, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2700", "45", "8"]
    refused = run_django({"SESSION_MAX_HOURS": "0"}, code=code)
    assert refused.returncode != 0
    assert "SESSION_MAX_HOURS must be greater than zero, not 0." in refused.stderr


# --- Sign-in lockout ---------------------------------------------------------------------------


def test_an_unknown_account_and_a_wrong_password_get_the_same_answer(client, apprentice):
    unknown = sign_in(client, "nobody@example.org", WRONG)
    wrong = sign_in(client, apprentice.email, WRONG)
    assert unknown.status_code == wrong.status_code == 200
    assert unknown.context["form"].non_field_errors() == wrong.context["form"].non_field_errors()
    assert "do not match an account" in wrong.content.decode()


@pytest.mark.parametrize("email", ["apprentice@example.org", "nobody@example.org"])
def test_an_account_is_paused_after_failures_from_any_addresses(client, apprentice, email):
    """Whether or not the account exists, so that the pause tells an attacker nothing either."""
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, email, WRONG, address=f"10.0.1.{n}").status_code == 200
    assert sign_in(client, email, WRONG, address="10.0.2.1").status_code == 429
    response = sign_in(client, apprentice.email, PASSWORD, address="10.0.3.1")
    assert response.status_code == (429 if email == apprentice.email else 302)


def test_changing_the_case_of_the_address_does_not_buy_more_attempts(client, apprentice):
    spellings = ["Apprentice@example.org", "APPRENTICE@EXAMPLE.ORG", "apprentice@Example.org", "aPPrentice@example.org"]
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, spellings[n % len(spellings)], WRONG, address=f"10.0.4.{n}")
    assert sign_in(client, apprentice.email, PASSWORD).status_code == 429


def test_an_address_is_paused_after_failures_across_accounts(client, apprentice, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 4
    for n in range(4):
        sign_in(client, f"guess{n}@example.org", WRONG, address="10.0.5.5")
    response = sign_in(client, apprentice.email, PASSWORD, address="10.0.5.5")
    assert response.status_code == 429
    assert "Signing in is paused" in response.content.decode()
    assert sign_in(client, apprentice.email, PASSWORD, address="10.0.5.6").status_code == 302


def test_signing_in_to_ones_own_account_clears_only_ones_own_failures(client, apprentice, other_apprentice, settings):
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 6
    for _ in range(3):
        sign_in(client, other_apprentice.email, WRONG)
    for n in range(2):
        sign_in(client, f"guess{n}@example.org", WRONG)
    # Five failures from here; the other apprentice's success clears only their own three.
    assert sign_in(client, other_apprentice.email).status_code == 302
    client.post("/accounts/sign-out/")
    for n in range(2, 5):
        assert sign_in(client, f"guess{n}@example.org", WRONG).status_code == 200
    # Had the success cleared the address's count, this would be its fourth failure, not its sixth.
    assert sign_in(client, "guess5@example.org", WRONG).status_code == 429
    assert sign_in(client, apprentice.email).status_code == 429


@pytest.mark.parametrize(
    ("behind_proxy", "forwarded", "expected"),
    [
        (False, "203.0.113.7", "10.9.9.9"),
        (True, "203.0.113.7", "203.0.113.7"),
        (True, "198.51.100.1, 203.0.113.7", "203.0.113.7"),
        (True, "not-an-address", "10.9.9.9"),
        (True, "", "10.9.9.9"),
    ],
)
def test_the_address_counted_is_the_one_our_proxy_saw(settings, behind_proxy, forwarded, expected):
    settings.BEHIND_PROXY = behind_proxy
    request = RequestFactory().get("/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


# --- Second factor for the admin ---------------------------------------------------------------


@pytest.fixture
def staff(db):
    return UserFactory(role="", organisation=None, is_staff=True, is_superuser=True, email="staff@example.org")


def totp_code(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def admin_sign_in(client, email: str, device, code: str, password: str = PASSWORD):
    """The admin's sign-in form as a browser sends it once the device has been picked from its list."""
    form = {"username": email, "password": password, "otp_device": device.persistent_id, "otp_token": code}
    return client.post("/admin/login/?next=/admin/", form | {"next": "/admin/"})


def test_staff_without_a_second_factor_get_the_admin_sign_in_form(client, staff):
    client.force_login(staff)
    response = client.get("/admin/")
    assert response["Location"] == "/admin/login/?next=/admin/"
    assert 'name="otp_token"' in client.get(response["Location"]).content.decode()


def test_a_password_alone_does_not_open_the_admin(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="Phone")
    response = admin_sign_in(client, staff.email, device, "")
    assert response.status_code == 200
    assert "Please enter your OTP token." in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_a_verified_authenticator_code_opens_the_admin(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="Phone")
    response = admin_sign_in(client, staff.email, device, totp_code(device))
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_wrong_authenticator_code_is_refused(client, staff):
    device = TOTPDevice.objects.create(user=staff, name="Phone")
    right = totp_code(device)
    wrong = f"{(int(right) + 1) % 10**device.digits:0{device.digits}d}"
    assert admin_sign_in(client, staff.email, device, wrong).status_code == 200
    assert client.get("/admin/").status_code == 302


def test_every_staff_member_manages_their_own_authenticators_only(client, db):
    me = UserFactory(role="", organisation=None, is_staff=True, email="me@example.org")
    colleague = UserFactory(role="", organisation=None, is_staff=True, email="colleague@example.org")
    theirs = TOTPDevice.objects.create(user=colleague, name="Colleague's phone")
    backup = StaticDevice.objects.create(user=me, name="Backup codes")
    backup.token_set.create(token="first-code")
    assert admin_sign_in(client, me.email, backup, "first-code")["Location"] == "/admin/"

    assert "Colleague" not in client.get("/admin/otp_totp/totpdevice/").content.decode()
    assert client.get(f"/admin/otp_totp/totpdevice/{theirs.pk}/config/").status_code == 403
    form = {"name": "My phone", "confirmed": "on", "key": "ab" * 20, "step": 30, "t0": 0, "digits": 6}
    response = client.post("/admin/otp_totp/totpdevice/add/", form | {"tolerance": 1, "drift": 0})
    assert response.status_code == 302, response.content.decode()
    mine = TOTPDevice.objects.get(name="My phone")
    assert mine.user == me
    assert client.get(f"/admin/otp_totp/totpdevice/{mine.pk}/config/").status_code == 200


def test_the_demo_superuser_gets_one_time_codes_for_the_admin(client, db, settings):
    settings.DEBUG = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    line = next(line for line in out.getvalue().splitlines() if "one-time code" in line)
    codes = line.rsplit(": ", 1)[1].split()
    assert len(codes) == 5
    device = StaticDevice.objects.get(user__email=SUPERUSER)
    assert admin_sign_in(client, SUPERUSER, device, codes[0], DEMO_PASSWORD)["Location"] == "/admin/"
    client.post("/admin/logout/")
    assert admin_sign_in(client, SUPERUSER, device, codes[0], DEMO_PASSWORD).status_code == 200, "a code works once"
    call_command("seed_demo", stdout=StringIO())
    assert not StaticToken.objects.filter(token__in=codes).exists(), "a new run replaces the codes"


# --- Headers on real responses -----------------------------------------------------------------

DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


def assert_page_headers(response) -> None:
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    directives = {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}
    assert directives["script-src"] == "script-src 'self'"
    assert directives["object-src"] == "object-src 'none'"
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def submitted(apprenticeship):
    return evidence(apprenticeship, files=("qc-chart.png", "sop.pdf", "results.csv"), submit=True)


@pytest.fixture
def finished_export(apprenticeship, assessor):
    export = exports.request_portfolio_export(apprenticeship=apprenticeship, by=assessor)
    export.file.save("portfolio.pdf", ContentFile(b"%PDF-1.7 finished"), save=False)
    Export.objects.filter(pk=export.pk).update(state=Export.State.DONE, file=export.file.name)
    export.refresh_from_db()
    return export


def test_an_html_page_carries_the_security_headers(client, submitted, assessor):
    client.force_login(assessor)
    response = client.get(f"/evidence/{submitted.pk}/")
    assert response.status_code == 200
    assert_page_headers(response)


def test_the_htmx_progress_fragment_carries_the_security_headers(client, apprenticeship, assessor):
    export = exports.request_portfolio_export(apprenticeship=apprenticeship, by=assessor)
    client.force_login(assessor)
    response = client.get(f"/exports/{export.pk}/", headers={"HX-Request": "true"})
    assert 'id="export-status"' in response.content.decode()
    assert_page_headers(response)


def test_evidence_pages_are_never_stored(client, submitted, apprentice):
    client.force_login(apprentice)
    for address in (
        "/evidence/",
        "/evidence/new/",
        f"/evidence/{submitted.pk}/",
        f"/evidence/{submitted.pk}/versions/1/",
    ):
        response = client.get(address)
        assert response.status_code == 200, address
        assert "no-store" in response["Cache-Control"], address
    client.post(f"/evidence/{submitted.pk}/withdraw/")
    response = client.get(f"/evidence/{submitted.pk}/edit/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_a_file_download_carries_the_download_headers_and_is_recorded(client, submitted, assessor):
    stored = submitted.versions.get().files.get(original_name="results.csv")
    client.force_login(assessor)
    response = client.get(f"/evidence/files/{stored.pk}/")
    assert response["Content-Disposition"] == 'attachment; filename="results.csv"'
    for name, value in DOWNLOAD_HEADERS.items():
        assert response[name] == value, name
    entry = AuditEntry.objects.get(action="file.downloaded")
    assert entry.actor == assessor
    assert entry.payload == {
        "apprenticeship": submitted.apprenticeship_id,
        "file": stored.pk,
        "sha256": stored.sha256,
    }
    client.get(f"/evidence/files/{stored.pk}/")
    assert AuditEntry.objects.filter(action="file.downloaded").count() == 2, "every download"
    assert verify_chain().intact


def test_a_preview_may_be_framed_by_our_own_page_only_and_is_recorded_once_a_session(client, submitted, assessor):
    stored = submitted.versions.get().files.get(original_name="sop.pdf")
    client.force_login(assessor)
    for _ in range(2):
        response = client.get(f"/evidence/files/{stored.pk}/", {"preview": "1"})
        assert response["Content-Disposition"].startswith("inline")
        assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'self'; sandbox"
        assert response["X-Frame-Options"] == "SAMEORIGIN"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Cache-Control"] == "no-store"
    assert AuditEntry.objects.filter(action="file.previewed").count() == 1
    client.logout()
    client.force_login(assessor)  # a new session
    client.get(f"/evidence/files/{stored.pk}/", {"preview": "1"})
    assert AuditEntry.objects.filter(action="file.previewed").count() == 2


def test_a_file_that_cannot_be_previewed_is_a_recorded_download_even_when_asked_for_a_preview(
    client, submitted, assessor
):
    stored = submitted.versions.get().files.get(original_name="results.csv")
    client.force_login(assessor)
    response = client.get(f"/evidence/files/{stored.pk}/", {"preview": "1"})
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Security-Policy"] == DOWNLOAD_HEADERS["Content-Security-Policy"]
    assert AuditEntry.objects.filter(action="file.downloaded").count() == 1


def test_an_export_download_carries_the_download_headers_and_is_recorded(client, finished_export, provider_admin):
    client.force_login(provider_admin)
    response = client.get(f"/exports/{finished_export.pk}/download/")
    assert response["Content-Disposition"].startswith("attachment")
    for name, value in DOWNLOAD_HEADERS.items():
        assert response[name] == value, name
    entry = AuditEntry.objects.get(action="export.downloaded")
    assert entry.actor == provider_admin
    assert entry.payload["apprenticeship"] == finished_export.apprenticeship_id
    assert entry.payload["export"] == finished_export.pk
    assert verify_chain().intact


def test_a_refused_download_is_not_recorded(client, submitted, finished_export, outsider):
    client.force_login(outsider)
    stored = submitted.versions.get().files.first()
    assert client.get(f"/evidence/files/{stored.pk}/").status_code == 404
    assert client.get(f"/exports/{finished_export.pk}/download/").status_code == 404
    assert not AuditEntry.objects.filter(action__endswith=".downloaded").exists()


# --- Production settings -----------------------------------------------------------------------


CHECK_DEPLOY = ("check", "--deploy", "--fail-level", "WARNING")


def test_check_deploy_reports_nothing_with_production_settings(tmp_path):
    result = run_django(production(tmp_path), manage=CHECK_DEPLOY)
    assert result.returncode == 0, result.stderr + result.stdout


def test_check_deploy_fails_when_a_production_safeguard_is_turned_off(tmp_path):
    """The check above would pass vacuously if warnings did not fail it."""
    weaker = production(tmp_path, SECURE_HSTS_INCLUDE_SUBDOMAINS="false")
    result = run_django(weaker, manage=CHECK_DEPLOY)
    assert result.returncode != 0
    assert "security.W005" in result.stderr + result.stdout


PRODUCTION_RESPONSE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import override_settings
# Production serves static files from collectstatic's manifest, which is not built here.
static = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
with override_settings(STORAGES=static):
    response = Client().get("/accounts/sign-in/", secure=True)
cookie = response.cookies[settings.CSRF_COOKIE_NAME]
print(json.dumps({
    "status": response.status_code,
    "headers": dict(response.headers),
    "csrf_cookie": {"name": settings.CSRF_COOKIE_NAME, "secure": cookie["secure"], "httponly": cookie["httponly"]},
    "session_cookie": {
        "name": settings.SESSION_COOKIE_NAME,
        "secure": settings.SESSION_COOKIE_SECURE,
        "httponly": settings.SESSION_COOKIE_HTTPONLY,
    },
}))
"""


@pytest.fixture(scope="module")
def production_response(tmp_path_factory) -> dict:
    result = run_django(production(tmp_path_factory.mktemp("production")), code=PRODUCTION_RESPONSE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_sends_hsts_for_a_year_with_subdomains(production_response):
    assert production_response["status"] == 200
    hsts = production_response["headers"]["Strict-Transport-Security"]
    assert re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts)
    assert int(hsts.split("=")[1].split(";")[0]) >= 365 * 24 * 3600


def test_production_pages_carry_the_other_security_headers(production_response):
    headers = production_response["headers"]
    policy = headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_production_cookies_are_secure_and_http_only(production_response):
    assert production_response["csrf_cookie"] == {"name": "__Host-csrftoken", "secure": True, "httponly": True}
    assert production_response["session_cookie"] == {"name": "__Host-sessionid", "secure": True, "httponly": True}


def test_a_session_cookie_with_the_production_settings_is_secure_and_http_only(
    client, apprentice, settings, production_response
):
    settings.SESSION_COOKIE_NAME = production_response["session_cookie"]["name"]
    settings.SESSION_COOKIE_SECURE = production_response["session_cookie"]["secure"]
    response = client.post("/accounts/sign-in/", {"username": apprentice.email, "password": PASSWORD}, secure=True)
    cookie = response.cookies["__Host-sessionid"]
    assert cookie["secure"] is True and cookie["httponly"] is True and cookie["path"] == "/"
    assert not cookie["domain"] and not cookie["max-age"], "for this host only, gone when the browser closes"


def test_expired_sessions_are_cleared_every_night(client, apprentice, other_apprentice):
    from django.test import Client

    from portal.tasks import clear_expired_sessions

    sign_in(client, apprentice.email)
    other = Client()
    sign_in(other, other_apprentice.email)
    Session.objects.filter(session_key=session_key(other)).update(
        expire_date=datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    )
    clear_expired_sessions.delay()
    assert list(Session.objects.values_list("session_key", flat=True)) == [session_key(client)]
    assert settings.CELERY_BEAT_SCHEDULE["clear-expired-sessions"]["task"] == "portal.tasks.clear_expired_sessions"
