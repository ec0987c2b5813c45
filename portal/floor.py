"""The floor of the benchmark: what any signed-in page costs before it does anything of its own.

`make bench` compares each key page with this view, which goes through the same middleware
(session, authentication, CSRF, CSP, the session lifetime checks) and the same sign-in check as
every page, then answers a few bytes without touching any table of ours.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache


@never_cache
@login_required
def floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")
