"""Bandwidth for /v1: gzip, never for the console."""

from django.middleware.gzip import GZipMiddleware

from .middleware import API_PREFIX

# Smaller bodies are sent as they are: below about a kilobyte gzip saves a few hundred bytes at best.
GZIP_MIN_BYTES = 1024


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
