"""Convoscope settings: one module, everything from the environment.

Defaults suit a laptop (SQLite file beside manage.py, DEBUG off unless asked for).
A malformed value stops start-up with ImproperlyConfigured rather than being guessed at.
"""

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    import os

    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = env(name).strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true/false (or 1/0), not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = env(name).strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None
    if value < 0:
        raise ImproperlyConfigured(f"{name} must not be negative, not {raw!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env(name).strip()
    if not raw:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def env_origins(name: str) -> list[str]:
    """Comma-separated web origins, each exactly as a browser sends it in `Origin`: scheme://host[:port]."""
    origins = []
    for raw in env_list(name, []):
        try:
            url = urlsplit(raw)
            port = url.port
        except ValueError:
            url = port = None  # type: ignore[assignment]  # None: not an origin; refused below
        origin = None
        if url is not None and url.scheme in {"http", "https"} and url.hostname:
            host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
            origin = f"{url.scheme}://{host}" + (f":{port}" if port else "")
        if origin is None or raw.rstrip("/").lower() != origin or port == {"http": 80, "https": 443}[url.scheme]:
            raise ImproperlyConfigured(
                f'{name} must be comma-separated origins like "https://app.example.com" (http or https, a host, '
                f"a port only if not the default, no path), not {raw!r}"
            )
        origins.append(origin)
    return origins


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and env_bool("DJANGO_REQUIRE_SECRET_KEY", False):
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production")
    # Good enough for a laptop or a test run; production sets DJANGO_SECRET_KEY.
    SECRET_KEY = "convoscope-insecure-development-key-change-me"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "template_partials",
    "csp",
    "corsheaders",
    "conversations",
    "api",
    "dashboard",
]

MIDDLEWARE = [
    "api.middleware.RequestIdMiddleware",
    "api.transport.ApiGZipMiddleware",
    "api.transport.ApiCorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "api.middleware.BodySizeLimitMiddleware",
    "api.middleware.EncodedSlashMiddleware",
    "api.middleware.ApiErrorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # The console's domain errors, answered once (404 page, 400, or a message after a form).
    "dashboard.errors.DomainErrorsMiddleware",
]

ROOT_URLCONF = "convoscope.urls"
WSGI_APPLICATION = "convoscope.wsgi.application"
# The OpenAI SDK turns a redirected POST into a GET: never redirect to add a slash.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL picks the database; the default is a SQLite file beside manage.py.
DATABASE_URL = env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'convoscope.sqlite3'}")
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue behind one another instead of failing with "database is locked":
    # IMMEDIATE takes the write lock when the transaction starts, busy_timeout waits for it.
    # Connections persist like PostgreSQL's (CONN_MAX_AGE above; one per gunicorn thread), so
    # init_command's PRAGMAs run once per connection, not per request, and SQLite's page and
    # schema caches survive between requests (a new connection per request doubled a retrieve).
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif _db["ENGINE"] == "django.db.backends.postgresql":
    # No JIT: it compiles big-looking plans for tens of milliseconds, and every query here is
    # short (measured: a 10M-item text search went from 42 ms to 24 ms without it).
    _db.setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
else:
    raise ImproperlyConfigured(f"DATABASE_URL must point at SQLite or PostgreSQL, not {_db['ENGINE']}")
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Security -------------------------------------------------------------------------------
# DJANGO_SECURE (default: on unless DEBUG) means "served over HTTPS": cookies only travel over
# HTTPS and browsers are told to use HTTPS for a year (HSTS, sent on HTTPS responses only).
# Set DJANGO_SECURE=0 to serve plain http without DEBUG (a LAN demo); `make run` has DEBUG on.
SECURE = env_bool("DJANGO_SECURE", not DEBUG)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
# htmx takes the CSRF token from the page (hx-headers on <body>), never from the cookie.
CSRF_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 365 * 24 * 3600 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
# The http -> https redirect is the TLS proxy's job by default: a redirect here would turn an SDK's
# POST into a GET (spec §3). gunicorn trusts X-Forwarded-Proto from FORWARDED_ALLOW_IPS (default
# 127.0.0.1), so behind a local proxy requests count as HTTPS. DJANGO_SECURE_SSL_REDIRECT=1 turns
# the redirect on (the API is never redirected).
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^v1(/|$)"]
SILENCED_SYSTEM_CHECKS = [] if SECURE_SSL_REDIRECT else ["security.W008"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts, styles, fonts and requests only from this site; no
# inline script or style, no eval, no plugins, no framing. Images may also be data: URIs (Pico's
# icons) and http(s) URLs (previews of images attached to items, opened on demand).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:", "http:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Console login throttling (dashboard/login.py) ------------------------------------------
# Failed logins are counted within a window of CONVOSCOPE_LOGIN_LOCKOUT_SECONDS: per username from
# one address, per address across usernames, and per username across all addresses (a ceiling that
# spares browsers which have logged in as that user before). Past a limit, the attempts it covers
# are refused until the lockout, as long as the window, ends. 0 turns a limit off.
CONVOSCOPE_LOGIN_FAILURES_PER_USER_AND_IP = env_int("CONVOSCOPE_LOGIN_FAILURES_PER_USER_AND_IP", 5)
CONVOSCOPE_LOGIN_FAILURES_PER_IP = env_int("CONVOSCOPE_LOGIN_FAILURES_PER_IP", 50)
CONVOSCOPE_LOGIN_FAILURES_PER_USER = env_int("CONVOSCOPE_LOGIN_FAILURES_PER_USER", 30)
CONVOSCOPE_LOGIN_LOCKOUT_SECONDS = env_int("CONVOSCOPE_LOGIN_LOCKOUT_SECONDS", 15 * 60)
# How many reverse proxies (nginx...) in front of gunicorn append the address they saw to
# X-Forwarded-For. 0 (the default): the client's address is REMOTE_ADDR and X-Forwarded-For is
# ignored. N: the N-th entry from the right. Set it only when every request comes through them.
CONVOSCOPE_NUM_PROXIES = env_int("CONVOSCOPE_NUM_PROXIES", 0)
AUTHENTICATION_BACKENDS = [
    "dashboard.login.LoginThrottleBackend",  # first: refuses locked-out attempts before any password check
    "django.contrib.auth.backends.ModelBackend",
]

# --- Cache ----------------------------------------------------------------------------------
# Holds the API's rate-limit counts and the console's failed-login counts. With REDIS_URL
# (redis://host:6379/0) every process and server shares them; without it each process keeps its own.
REDIS_URL = env("REDIS_URL").strip()
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://, not {REDIS_URL!r}")
# REDIS_KEY_PREFIX starts every key, so several Convoscope instances can share one Redis.
REDIS_KEY_PREFIX = env("REDIS_KEY_PREFIX").strip() or "convoscope"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                "KEY_PREFIX": REDIS_KEY_PREFIX}
    if REDIS_URL else
    {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "convoscope"}
}

# --- API ------------------------------------------------------------------------------------
# Largest request body accepted (bytes); bigger bodies answer 413 before any parsing.
CONVOSCOPE_MAX_BODY_BYTES = env_int("CONVOSCOPE_MAX_BODY_BYTES", 32 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = CONVOSCOPE_MAX_BODY_BYTES


def env_rate(name: str, default: str) -> str | None:
    """A rate like 600/minute (per s, sec, second, m, min, minute, h, hour, d or day); 0 or off: None."""
    raw = env(name).strip().lower() or default
    if raw in {"0", "off"}:
        return None
    count, _, period = raw.partition("/")
    if not count.isdigit() or int(count) < 1 or period not in {"s", "sec", "second", "m", "min", "minute",
                                                                "h", "hour", "d", "day"}:
        raise ImproperlyConfigured(f'{name} must look like "600/minute" (or "off"), not {raw!r}')
    return f"{int(count)}/{period}"


# Requests per API key (api/throttling.py); over it, 429 with retry-after.
CONVOSCOPE_API_RATE_LIMIT = env_rate("CONVOSCOPE_API_RATE_LIMIT", "1200/minute")

# CORS (api/transport.py): pages from these origins may call /v1 from a browser (the SDK's browser
# build needs `dangerouslyAllowBrowser`); none by default. Preflights are answered before any key
# is checked. The console and /api are never cross-origin; no cookies are involved (no credentials).
CORS_ALLOWED_ORIGINS = env_origins("CONVOSCOPE_CORS_ORIGINS")
CORS_URLS_REGEX = r"^/v1/"
CORS_ALLOW_METHODS = ["GET", "POST", "DELETE"]
# What the openai SDKs send (Python and Node; the stainless headers describe the client), and
# Idempotency-Key for retried writes.
CORS_ALLOW_HEADERS = [
    "accept", "authorization", "content-type", "user-agent", "idempotency-key",
    "openai-organization", "openai-project", "openai-beta",
    "x-stainless-arch", "x-stainless-async", "x-stainless-lang", "x-stainless-os", "x-stainless-package-version",
    "x-stainless-runtime", "x-stainless-runtime-version", "x-stainless-retry-count", "x-stainless-read-timeout",
    "x-stainless-timeout", "x-stainless-helper-method", "x-stainless-raw-response",
]
# What the SDKs read: `_request_id`, and whether and when to retry.
CORS_EXPOSE_HEADERS = ["x-request-id", "retry-after", "x-should-retry", "idempotent-replayed", "original-request-id"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONBodyParser"],
    "EXCEPTION_HANDLER": "api.exceptions.openai_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ApiKeyRateThrottle"],
}

# The OpenAPI schema (/api/schema/) and its docs (/api/docs/), Swagger UI served from our own
# static files (drf-spectacular-sidecar), never a CDN. See api/schema.py.
SPECTACULAR_SETTINGS = {
    "TITLE": "Convoscope API",
    "DESCRIPTION": "OpenAI-compatible Conversations API (all eight calls of the `openai` SDK), plus "
                   "`GET /v1/conversations` to list and search a project's conversations.",
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.postprocess"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", "WARNING")},
}
