"""Request plumbing for the API: request ids, the body size limit, JSON for every /v1 error."""

from django.conf import settings
from django.http import HttpResponseNotFound, JsonResponse

from conversations.ids import new_request_id

from .exceptions import DATABASE_UNAVAILABLE, database_unavailable, error_response, server_error

API_PREFIX = "/v1/"


class RequestIdMiddleware:
    """Give every request an id, answer it in `x-request-id` (the SDK's `_request_id`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = new_request_id()
        response = self.get_response(request)
        response["x-request-id"] = request.request_id
        return response


class BodySizeLimitMiddleware:
    """Refuse bodies over CONVOSCOPE_MAX_BODY_BYTES with 413 before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.META.get("HTTP_TRANSFER_ENCODING") and not request.META.get("CONTENT_LENGTH"):
            # WSGI hands Django only Content-Length bytes: a chunked body would be read as empty and
            # a create would succeed without its items. Refuse it rather than lose it.
            return error_response(
                411, "A Content-Length header is required: chunked request bodies are not accepted.",
                code="length_required",
            )
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return error_response(400, f"Invalid Content-Length header: {raw!r}.", code="invalid_request")
        limit = settings.CONVOSCOPE_MAX_BODY_BYTES
        if length > limit:
            return error_response(
                413, f"The request body is {length} bytes; the limit is {limit} bytes.", code="request_too_large"
            )
        if length and len(request.body) < length:
            # The client hung up before its body ended (nginx drops such requests itself; this is for
            # gunicorn alone): a JSON prefix can parse, so never act on it.
            return error_response(
                400, f"The request body ended after {len(request.body)} of the {length} bytes its Content-Length "
                     "announced. Nothing was stored.", code="incomplete_body",
            )
        return self.get_response(request)


class EncodedSlashMiddleware:
    """A path parameter is one segment. The server decodes %2F before routing, so
    `delete("conv_A/items/msg_B")` reached the item route and deleted an item: a request line whose
    path holds an encoded `/` names no route (gunicorn passes that line as RAW_URI)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI") or ""
        if "%2f" not in raw.partition("?")[0].lower():
            return self.get_response(request)
        if request.path.startswith(API_PREFIX):
            return error_response(404, f"Unknown URL: {request.method} {request.path}: an id never contains '/'.",
                                  code="unknown_url")
        return HttpResponseNotFound("Not found: an id never contains '/'.")


class ApiErrorsMiddleware:
    """Under /v1, Django's own 404 pages and uncaught errors answer in OpenAI's error shape too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            (request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/"))
            and response.status_code == 404
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return error_response(404, f"Unknown URL: {request.method} {request.path}.", code="unknown_url")
        return response

    def process_exception(self, request, exception):
        if not request.path.startswith(API_PREFIX):
            return None
        if isinstance(exception, DATABASE_UNAVAILABLE):
            status, body, headers = database_unavailable(request)
        else:
            status, body, headers = server_error(request)
        return JsonResponse(body, status=status, headers=headers)
