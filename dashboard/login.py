"""Login throttling. Failed logins are counted three ways, each within a window of
CONVOSCOPE_LOGIN_LOCKOUT_SECONDS that opens at the first failure:

- per username from one address (CONVOSCOPE_LOGIN_FAILURES_PER_USER_AND_IP, default 5): guessing
  one account from one place. Failures from elsewhere never lock the user out of their own address.
- per address, across usernames (CONVOSCOPE_LOGIN_FAILURES_PER_IP, default 50): one place trying
  many accounts.
- per username, across every address (CONVOSCOPE_LOGIN_FAILURES_PER_USER, default 30): a ceiling for
  guessing spread over many addresses. It does not apply to a browser that has logged in as that
  user before (a signed "device cookie", as OWASP's "Slow Down Online Guessing Attacks with Device
  Cookies" describes), so an attacker can shut out new browsers, never the user's own.

Past a limit, every attempt it covers is refused, whatever the password, until its lockout (as long
as the window) ends; refused attempts check no password, so they count for nothing and do not
prolong it. IPv6 addresses count per /64, the block one host is given. The client's address is
REMOTE_ADDR, or behind CONVOSCOPE_NUM_PROXIES reverse proxies the entry they appended to
X-Forwarded-For (as DRF's NUM_PROXIES reads it); what a client writes there itself is ignored.

Every login goes through django.contrib.auth.authenticate() (the console's form, the admin's, test
clients), so the refusal is an authentication backend placed first in AUTHENTICATION_BACKENDS, and
failures are counted from the user_login_failed signal. The console's login view also says plainly
why it refuses, with a 429, and sets the device cookie on success.

The counts live in Django's cache: per process with the default local-memory cache, so with several
gunicorn workers each counts on its own unless REDIS_URL is set.
"""

import hashlib
import ipaddress
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
DEVICE_COOKIE = "convoscope_device"
DEVICE_COOKIE_SALT = "dashboard.login.device"
DEVICE_COOKIE_MAX_AGE = 365 * 24 * 3600

# The three scopes, in the order their refusal is explained when several apply.
USER_AND_ADDRESS, ADDRESS, USER = "user+ip", "ip", "user"


def _digest(value: str) -> str:
    # Hashed: a username or an address may hold characters a cache backend refuses in keys.
    return hashlib.sha256(value.encode()).hexdigest()


def _username(username: str) -> str:
    return username.strip().lower()


def client_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or with CONVOSCOPE_NUM_PROXIES = N the N-th entry of
    X-Forwarded-For from the right (the one the outermost trusted proxy appended). An IPv6 address
    stands for its /64."""
    address = request.META.get("REMOTE_ADDR")
    proxies = settings.CONVOSCOPE_NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies and forwarded:
        entries = [entry.strip() for entry in forwarded.split(",")]
        address = entries[-min(proxies, len(entries))]
    if not address:
        return None
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an address (a misconfigured proxy): still counted, as written
    if parsed.version == 6:
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)  # ::ffff:192.0.2.1 is 192.0.2.1
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _known_browser(request, username: str | None) -> bool:
    """Whether this browser has logged in as this username before (a valid signed cookie says so)."""
    if request is None or not username:
        return False
    value = request.get_signed_cookie(DEVICE_COOKIE, default=None, salt=DEVICE_COOKIE_SALT,
                                      max_age=DEVICE_COOKIE_MAX_AGE)
    return value == _digest(_username(username))


def _scopes(request, username: str | None, *, counting: bool) -> list[tuple[str, str, int]]:
    """(kind, cache key suffix, failure limit) for each limit this attempt falls under. A browser
    known for this username is still counted under the username's ceiling, but not held by it."""
    address = client_address(request) if request is not None else None
    user = _digest(_username(username)) if username else None
    scopes = []
    if user and address and settings.CONVOSCOPE_LOGIN_FAILURES_PER_USER_AND_IP:
        scopes.append((USER_AND_ADDRESS, f"user+ip:{user}:{_digest(address)}",
                       settings.CONVOSCOPE_LOGIN_FAILURES_PER_USER_AND_IP))
    if address and settings.CONVOSCOPE_LOGIN_FAILURES_PER_IP:
        scopes.append((ADDRESS, f"ip:{_digest(address)}", settings.CONVOSCOPE_LOGIN_FAILURES_PER_IP))
    if user and settings.CONVOSCOPE_LOGIN_FAILURES_PER_USER and (counting or not _known_browser(request, username)):
        scopes.append((USER, f"user:{user}", settings.CONVOSCOPE_LOGIN_FAILURES_PER_USER))
    return scopes


def _locks(scopes) -> dict[str, float]:
    """Scope key suffix -> unix time its lockout ends, for the scopes locked now."""
    locks = cache.get_many([f"{KEY_PREFIX}:locked:{key}" for _, key, _ in scopes])
    now = time.time()
    return {key: end for _, key, _ in scopes if (end := locks.get(f"{KEY_PREFIX}:locked:{key}")) and end > now}


def lockout(request, username: str | None) -> tuple[str, float] | None:
    """(kind, unix time it ends) of the first lockout holding this attempt, or None."""
    scopes = _scopes(request, username, counting=False)
    locks = _locks(scopes)
    return next(((kind, locks[key]) for kind, key, _ in scopes if key in locks), None)


def record_failure(request, username: str | None) -> None:
    if lockout(request, username):
        return  # attempts refused during a lockout checked no password: they do not count or prolong it
    period = settings.CONVOSCOPE_LOGIN_LOCKOUT_SECONDS
    scopes = _scopes(request, username, counting=True)
    locked = _locks(scopes)  # a ceiling this browser is spared: its failures do not prolong it either
    for _, scope, limit in scopes:
        if scope in locked:
            continue
        key = f"{KEY_PREFIX}:failures:{scope}"
        cache.add(key, 0, timeout=period)  # the window opens at the first failure
        try:
            failures = cache.incr(key)
        except ValueError:  # the window closed between add and incr
            failures = 1
            cache.set(key, failures, timeout=period)
        if failures >= limit:
            cache.set(f"{KEY_PREFIX}:locked:{scope}", time.time() + period, timeout=period)
            cache.delete(key)


def forget_failures(request, username: str) -> None:
    """A successful login clears the count for its username from its address only: not its address's
    (an attacker could reset that by logging into an account of their own), nor the username's
    ceiling (an attacker elsewhere would get a fresh budget whenever the user logs in)."""
    for kind, scope, _ in _scopes(request, username, counting=True):
        if kind == USER_AND_ADDRESS:
            cache.delete(f"{KEY_PREFIX}:failures:{scope}")


def on_login_failed(sender, credentials, request=None, **kwargs):
    record_failure(request, credentials.get(get_user_model().USERNAME_FIELD))


def on_logged_in(sender, request, user, **kwargs):
    if request is not None:
        forget_failures(request, user.get_username())


class LoginThrottleBackend:
    """Refuses every attempt while a limit covering it is locked, before any password is checked.
    It never authenticates anyone, and has no get_user(), so no session names it."""

    def authenticate(self, request, username=None, **credentials):
        if username is None:
            username = credentials.get(get_user_model().USERNAME_FIELD)
        if lockout(request, username):
            raise PermissionDenied  # authenticate() stops here and reports a failed login
        return None


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your username and password didn't match. Please try again.",
        USER_AND_ADDRESS: "Too many failed logins for this account from your address. "
                          "Try again in %(minutes)s minute(s).",
        ADDRESS: "Too many failed logins from your address. Try again in %(minutes)s minute(s).",
        USER: "Too many failed logins for this account from new browsers. Log in from a browser you "
              "have logged in with before, or try again in %(minutes)s minute(s).",
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
        locked = lockout(self.request, username)
        if locked:
            kind, until = locked
            self.retry_after = math.ceil(until - time.time())
            raise ValidationError(self.error_messages[kind], code="throttled",
                                  params={"minutes": math.ceil(self.retry_after / 60)})


class LoginView(auth_views.LoginView):
    """Django's login view with the throttled form; a refused attempt answers 429 + Retry-After.
    A successful login marks the browser as known for that username (the device cookie)."""

    authentication_form = ThrottledAuthenticationForm

    def form_valid(self, form):
        response = super().form_valid(form)
        response.set_signed_cookie(DEVICE_COOKIE, _digest(_username(form.get_user().get_username())),
                                   salt=DEVICE_COOKIE_SALT, max_age=DEVICE_COOKIE_MAX_AGE,
                                   secure=settings.SESSION_COOKIE_SECURE, httponly=True, samesite="Lax")
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "throttled"):
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response
