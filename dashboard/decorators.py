"""Role checks for console views, on top of Django's permissions."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django_htmx.http import HttpResponseClientRedirect


def requires(permission: str):
    """Log in first (anonymous users go to the login page), then hold `permission` or get 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                login = redirect_to_login(request.get_full_path())
                # htmx would swap the login page into the results: send the browser there instead.
                return HttpResponseClientRedirect(login["Location"]) if request.htmx else login
            if not request.user.has_perm(permission):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
