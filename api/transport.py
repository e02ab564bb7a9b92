"""Browsers and bandwidth for /v1: CORS (django-cors-headers) and gzip, neither ever for the console."""

from corsheaders.conf import conf as cors_conf
from corsheaders.middleware import CorsMiddleware
from django.middleware.gzip import GZipMiddleware

from .middleware import API_PREFIX

# Smaller bodies are sent as they are: below about a kilobyte gzip saves a few hundred bytes at best.
GZIP_MIN_BYTES = 1024


class ApiCorsMiddleware(CorsMiddleware):
    """django-cors-headers under /v1 (CORS_URLS_REGEX), and only once CONVOSCOPE_CORS_ORIGINS names an
    origin: without one, /v1 answers exactly as it did before CORS existed (an OPTIONS is a 405)."""

    def is_enabled(self, request) -> bool:
        return bool(cors_conf.CORS_ALLOWED_ORIGINS) and super().is_enabled(request)


class ApiGZipMiddleware(GZipMiddleware):
    """Django's gzip, for /v1 only. The API authenticates with a bearer header the browser never adds
    by itself, so a cross-site page cannot make it answer with a victim's data; the console's pages
    are cookie-authenticated and carry CSRF tokens, the case BREACH exploits, so they stay plain.
    Django adds `Vary: Accept-Encoding` to every body it could have compressed."""

    def process_response(self, request, response):
        if not request.path.startswith(API_PREFIX):
            return response
        if not response.streaming and len(response.content) < GZIP_MIN_BYTES:
            return response
        return super().process_response(request, response)
