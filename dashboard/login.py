"""Login throttling: after too many failed logins for one username, or from one IP address, every
further attempt is refused, whatever the password, until the lockout period has passed.

Every login goes through django.contrib.auth.authenticate() (the console's form, the admin's, test
clients), so the refusal is an authentication backend placed first in AUTHENTICATION_BACKENDS, and
failures are counted from the user_login_failed signal. The console's login view also says plainly
why it refuses, with a 429.

The counts live in Django's cache: per process with the default local-memory cache, so with several
gunicorn workers each counts on its own unless a shared cache is configured.
"""

import hashlib
import math
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.views.decorators.debug import sensitive_variables

KEY_PREFIX = "login-throttle"


def _scopes(request, username: str | None) -> list[tuple[str, int]]:
    """(cache key suffix, failure limit) for each limit this attempt falls under."""
    scopes = []
    if username and settings.CONVOSCOPE_LOGIN_FAILURES_PER_USER:
        # Hashed: a username may hold characters a cache backend refuses in keys.
        digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()
        scopes.append((f"user:{digest}", settings.CONVOSCOPE_LOGIN_FAILURES_PER_USER))
    address = request.META.get("REMOTE_ADDR") if request is not None else None
    if address and settings.CONVOSCOPE_LOGIN_FAILURES_PER_IP:
        scopes.append((f"ip:{address}", settings.CONVOSCOPE_LOGIN_FAILURES_PER_IP))
    return scopes


def locked_until(request, username: str | None) -> float | None:
    """The unix time at which this attempt's lockout ends, or None when it is not locked out."""
    keys = [f"{KEY_PREFIX}:locked:{scope}" for scope, _ in _scopes(request, username)]
    ends = [end for end in cache.get_many(keys).values() if end and end > time.time()]
    return max(ends, default=None)


def record_failure(request, username: str | None) -> None:
    if locked_until(request, username):
        return  # attempts refused during a lockout do not prolong it
    lockout = settings.CONVOSCOPE_LOGIN_LOCKOUT_SECONDS
    for scope, limit in _scopes(request, username):
        key = f"{KEY_PREFIX}:failures:{scope}"
        cache.add(key, 0, timeout=lockout)  # the window opens at the first failure
        try:
            failures = cache.incr(key)
        except ValueError:  # the window closed between add and incr
            failures = 1
            cache.set(key, failures, timeout=lockout)
        if failures >= limit:
            cache.set(f"{KEY_PREFIX}:locked:{scope}", time.time() + lockout, timeout=lockout)
            cache.delete(key)


def forget_failures(username: str) -> None:
    """A successful login clears its username's count (not its address's: one attacker could
    otherwise reset the count by logging into an account of their own)."""
    for scope, _ in _scopes(None, username):
        cache.delete(f"{KEY_PREFIX}:failures:{scope}")


def on_login_failed(sender, credentials, request=None, **kwargs):
    record_failure(request, credentials.get(get_user_model().USERNAME_FIELD))


def on_logged_in(sender, request, user, **kwargs):
    forget_failures(user.get_username())


class LoginThrottleBackend:
    """Refuses every attempt while its username or address is locked out, before any password is
    checked. It never authenticates anyone, and has no get_user(), so no session names it."""

    def authenticate(self, request, username=None, **credentials):
        if username is None:
            username = credentials.get(get_user_model().USERNAME_FIELD)
        if locked_until(request, username):
            raise PermissionDenied  # authenticate() stops here and reports a failed login
        return None


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your username and password didn't match. Please try again.",
        "throttled": "Too many failed logins for this account or from this address. "
                     "Try again in %(minutes)s minute(s).",
    }

    @sensitive_variables()
    def clean(self):
        username = self.cleaned_data.get("username")
        self._refuse_if_locked(username)
        try:
            return super().clean()
        except ValidationError:
            self._refuse_if_locked(username)  # that may have been the last attempt allowed
            raise

    def _refuse_if_locked(self, username) -> None:
        until = locked_until(self.request, username)
        if until:
            self.retry_after = math.ceil(until - time.time())
            raise ValidationError(self.error_messages["throttled"], code="throttled",
                                  params={"minutes": math.ceil(self.retry_after / 60)})


class LoginView(auth_views.LoginView):
    """Django's login view with the throttled form; a refused attempt answers 429 + Retry-After."""

    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "throttled"):
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response
