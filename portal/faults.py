"""The portal while its database is briefly away (restarting, failing over): a 503 page in words.

Without this, every request during a PostgreSQL restart ends in the 500 page and an error report,
although nothing is wrong that waiting will not mend. Each service writes in one transaction, so a
request cut off by the outage leaves nothing half-saved, and the page can say so. Once the
database is back the next request opens a new connection (and CONN_HEALTH_CHECKS replaces a
persistent one that died), so the portal recovers by itself.

Errors that waiting will not mend (a missing table, a bad query) stay 500s.
"""

from __future__ import annotations

import logging
import sqlite3
import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30

# PostgreSQL error classes (the first two characters of SQLSTATE) that pass by themselves: the
# connection was lost (08), a transaction lost a race and can run again (40), the server is out
# of a resource such as disk or connections (53), the server is shutting down or starting (57).
_PASSING_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57"})
_PASSING_SQLITE_ERRORS = (
    "database is locked",
    "database table is locked",
    "database or disk is full",
    "disk i/o error",
    "unable to open database file",
)

# Set on a request whose handling failed because of an outage anywhere: in a view, or in a
# middleware such as the session's, which the middleware below cannot otherwise see.
_OUTAGE = "_portal_database_outage"


def is_database_outage(error: BaseException) -> bool:
    """The database cannot be reached or cannot answer for now, as opposed to a fault of the code."""
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    cause = error.__cause__
    if isinstance(cause, sqlite3.Error):
        return str(cause).lower().startswith(_PASSING_SQLITE_ERRORS)
    # psycopg2 calls it pgcode, psycopg 3 sqlstate. None: the client lost its connection, or never got one.
    code = getattr(cause, "pgcode", None) or getattr(cause, "sqlstate", None)
    return code is None or code[:2] in _PASSING_SQLSTATE_CLASSES


def database_unavailable_response() -> HttpResponse:
    # Rendered without the request: its context processors would ask the database for the user.
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    # The clickjacking middleware is inside this one, so its header may not be added on the way out.
    response["X-Frame-Options"] = "DENY"
    return response


def _note_outage(sender, request: HttpRequest | None = None, **kwargs) -> None:
    """Django sends this signal, inside its `except` block, for an exception no middleware handled."""
    error = sys.exc_info()[1]
    if request is not None and error is not None and is_database_outage(error):
        setattr(request, _OUTAGE, True)


got_request_exception.connect(_note_outage, dispatch_uid="portal.faults.note_outage")


class DatabaseOutageMiddleware:
    """Answers 503 "the database is restarting, try again in a moment" instead of a 500.

    It sits outside the session and authentication middleware, since those are the first to touch
    the database: their exceptions become 500 responses before reaching any outer middleware, so
    it learns of them through `got_request_exception` and replaces that response.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, _OUTAGE, False):
            return database_unavailable_response()
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_outage(exception):
            return None
        log.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
        return database_unavailable_response()
