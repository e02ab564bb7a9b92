"""Request plumbing for the API: request ids, the body size limit, JSON for every /v1 error."""

from django.conf import settings
from django.http import HttpResponseBadRequest, HttpResponseNotFound, JsonResponse
from django.urls import Resolver404, resolve

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
        return self.get_response(request)


class PathGuardMiddleware:
    """A path parameter is one segment (an encoded `/` never reaches another route), and no NUL
    character reaches a lookup: PostgreSQL text cannot hold one, so an id like `msg_%00` was a 500
    there. No id, key prefix or filter contains one, so a path with NUL is a URL that cannot exist (404)
    and a query string or form field with NUL is a malformed request (400).
    The one guard every route goes through, API and console alike."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        api = request.path.startswith(API_PREFIX)
        if _encoded_slash(request):
            # The server decodes %2F before routing: `delete("conv_A/items/msg_B")` reached the item
            # route and deleted an item. A path parameter is one segment, so such a URL does not exist.
            if api:
                return error_response(404, f"Unknown URL: {request.method} {request.path}: an id never "
                                      "contains '/'.", code="unknown_url")
            return HttpResponseNotFound("Not found: an id never contains '/'.")
        if "\x00" in request.path:
            if api:
                return error_response(404, "No such object: an id never contains a NUL character.",
                                      param=_nul_path_param(request), code="not_found")
            return HttpResponseNotFound("Not found: the path contains a NUL character.")
        if _has_nul(request.META.get("QUERY_STRING", "")) or (not api and _form_has_nul(request)):
            if api:
                param = next((name for name, values in request.GET.lists()
                              if "\x00" in name or any("\x00" in value for value in values)), None)
                return error_response(400, f"Invalid '{param}': it contains a NUL character.", param=param,
                                      code="invalid_value")
            return HttpResponseBadRequest("Bad request: a parameter contains a NUL character.")
        return self.get_response(request)


def _nul_path_param(request) -> str | None:
    """The name of the path parameter holding the NUL (`conversation_id`, `item_id`), as the SDK reports it."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    return next((name for name, value in match.kwargs.items() if "\x00" in str(value)), None)


def _encoded_slash(request) -> bool:
    """The raw request line (gunicorn's RAW_URI, REQUEST_URI elsewhere) had %2F in its path."""
    raw = request.META.get("RAW_URI") or request.META.get("REQUEST_URI") or ""
    return "%2f" in raw.partition("?")[0].lower()


def _has_nul(raw: str) -> bool:
    return "\x00" in raw or "%00" in raw


def _form_has_nul(request) -> bool:
    """A console form (urlencoded or multipart) with NUL in a field name or value."""
    if request.method != "POST":
        return False
    return any("\x00" in name or any("\x00" in value for value in values) for name, values in request.POST.lists())


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
