from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


def role_required(*roles: str) -> Callable:
    """Signed in, and acting in one of these roles; anyone else gets the 403 page."""

    def decorator(view: Callable) -> Callable:
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.user.role not in roles:
                raise PermissionDenied("This page is for another role.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
