"""Safeguards around each request and each sign-in attempt.

`SessionLifetimeMiddleware` ends a session after SESSION_IDLE_MINUTES without a request and
SESSION_MAX_HOURS after signing in, however busy it is. The rest is how django-axes counts failed
sign-ins: per account and per address, each against its own limit.
"""

from __future__ import annotations

import ipaddress
import time

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url

# When this session signed in, and when it was last renewed, as seconds since the epoch.
SIGNED_IN_AT = "portal_signed_in_at"
LAST_SEEN = "portal_last_seen"
# The session is written back (and its stored expiry moved on) at most this often.
RENEW_EVERY_SECONDS = 60


def stamp_sign_in(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """Starts both clocks when someone signs in, by any route (the form, the admin, force_login).

    Connected to `user_logged_in` in portal/apps.py. Stamping here rather than on the next request
    costs no extra write: signing in saves the session anyway.
    """
    session = getattr(request, "session", None)
    if session is not None:
        now = time.time()
        session[SIGNED_IN_AT] = now
        session[LAST_SEEN] = now


class SessionLifetimeMiddleware:
    """Signs a person out after SESSION_IDLE_MINUTES idle or SESSION_MAX_HOURS in all.

    LAST_SEEN is renewed at most once a RENEW_EVERY_SECONDS, so a session may end up to that much
    before a full idle period since its very last request: early, never late.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            session = request.session
            now = time.time()
            signed_in_at, last_seen = session.get(SIGNED_IN_AT), session.get(LAST_SEEN)
            if signed_in_at is None or last_seen is None:
                # A session from before these limits: its clocks start now.
                stamp_sign_in(None, request, request.user)
            elif now - signed_in_at > settings.SESSION_MAX_HOURS * 3600:
                return self.end_session(
                    request, f"sessions last at most {settings.SESSION_MAX_HOURS} hours after signing in"
                )
            elif now - last_seen > settings.SESSION_IDLE_MINUTES * 60:
                return self.end_session(request, f"nothing happened in it for {settings.SESSION_IDLE_MINUTES} minutes")
            elif now - last_seen > RENEW_EVERY_SECONDS:
                session[LAST_SEEN] = now
        return self.get_response(request)

    @staticmethod
    def end_session(request: HttpRequest, why: str) -> HttpResponse:
        # logout() deletes the session from the store, not just the cookie.
        logout(request)
        messages.info(request, f"You have been signed out because {why}. Sign in again to carry on.")
        if request.headers.get("HX-Request"):
            # A fragment that reloads itself would otherwise swap the sign-in page into the page.
            response = HttpResponse(status=204)
            response["HX-Redirect"] = resolve_url(settings.LOGIN_URL)
            return response
        if request.method == "GET":
            return redirect_to_login(request.get_full_path())
        # Coming back to a form's address after signing in would only answer "method not allowed".
        return redirect(settings.LOGIN_URL)


def sign_in_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The account a sign-in attempt is for, spelt as it is stored (addresses are kept lower-case),
    so that changing the case of an address does not buy an attacker more attempts."""
    field = settings.AXES_USERNAME_FORM_FIELD
    raw = credentials.get(field) if credentials else getattr(request, "data", request.POST).get(field)
    return raw.strip().lower() if isinstance(raw, str) else raw


def client_address(request: HttpRequest) -> str | None:
    """The address a request comes from: behind our proxy (BEHIND_PROXY), the one it appended last
    to X-Forwarded-For, since anything before that was written by the client."""
    if settings.BEHIND_PROXY:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if hops:
            try:
                return str(ipaddress.ip_address(hops[-1]))
            except ValueError:
                pass
    return request.META.get("REMOTE_ADDR")


class SignInAttemptHandler(AxesDatabaseHandler):
    """django-axes's database handler, with an allowance per address apart from the one per account.

    axes compares a single count with AXES_FAILURE_LIMIT. The count given here is the larger of
    the account's failures and the address's failures scaled so that they reach AXES_FAILURE_LIMIT
    exactly when the address reaches LOGIN_FAILURE_LIMIT_PER_ADDRESS.
    """

    def get_failures(self, request, credentials: dict | None = None) -> int:
        # One queryset per entry of AXES_LOCKOUT_PARAMETERS: the account's, then the address's.
        by_account, by_address = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        limit = get_failure_limit(request, credentials)
        return max(by_account, by_address * limit // settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS)

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        # axes would clear every failure matching either parameter, so signing in to one's own
        # account would wipe the failures against other accounts from the same address. Clear only
        # the failures this success explains: this account, from this address.
        deleted, _ = AccessAttempt.objects.filter(
            username=get_client_username(request, credentials), ip_address=request.axes_ip_address
        ).delete()
        return deleted
