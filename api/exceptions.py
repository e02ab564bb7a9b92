"""The one exception handler: every error under /v1 becomes OpenAI's error shape.

    {"error": {"message": "...", "type": "invalid_request_error", "param": "...", "code": "..."}}
"""

import logging

import psycopg
from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from conversations.errors import DomainError, NotFound

logger = logging.getLogger(__name__)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

# Every 401 names the scheme it wants (RFC 9110 §11.6.1); DRF's own handler adds it, ours must too.
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="api"'}

# The database went away (restarted, connection killed, unreachable) or could not answer: Django
# wraps the driver's errors in its own classes, and psycopg's are listed for any path it does not.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)


def error_body(message: str, *, type: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def error_response(status: int, message: str, *, headers: dict | None = None, **kwargs) -> JsonResponse:
    """For errors raised outside DRF (middleware): the same body as the handler's."""
    return JsonResponse(error_body(message, **kwargs), status=status, headers=headers)


def _describe(exc: Exception, request) -> tuple[int, dict, dict]:
    """(status, body, headers) for an exception."""
    if isinstance(exc, DomainError):
        status = 404 if isinstance(exc, NotFound) else 400
        return status, error_body(exc.message, param=exc.param, code=exc.code), {}
    if isinstance(exc, Http404):
        return 404, error_body("Not found.", code="not_found"), {}
    if isinstance(exc, PermissionDenied):
        return 403, error_body("You do not have permission to do this.", code="permission_denied"), {}
    if isinstance(exc, RequestDataTooBig):
        return 413, error_body("The request body is too large.", code="request_too_large"), {}
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return 400, error_body(f"Too many parameters: at most {limit} are accepted.", code="too_many_parameters"), {}
    if isinstance(exc, SuspiciousOperation):
        return 400, error_body("The request was refused as malformed.", code="invalid_request"), {}
    if isinstance(exc, drf.NotAuthenticated):
        message = ("You didn't provide an API key. You need to provide your API key in an Authorization "
                   "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
        return 401, error_body(message, code="invalid_api_key"), BEARER_CHALLENGE
    if isinstance(exc, drf.AuthenticationFailed):
        return 401, error_body(str(exc.detail), code="invalid_api_key"), BEARER_CHALLENGE
    if isinstance(exc, drf.ParseError):
        message = ("We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                   f"using your HTTP library correctly. The details: {exc.detail})")
        return 400, error_body(message, code="invalid_json"), {}
    if isinstance(exc, drf.ValidationError):
        return 400, _validation_body(exc.detail), {}
    if isinstance(exc, drf.MethodNotAllowed):
        return 405, error_body(f"Method {request.method} is not allowed on {request.path}.",
                               code="method_not_allowed"), {}
    if isinstance(exc, drf.Throttled):
        wait = max(int(exc.wait or 1), 1)  # type: ignore[attr-defined]  # DRF sets it; its stubs omit it
        message = f"Rate limit reached for requests with this API key. Please try again in {wait} seconds."
        return 429, error_body(message, type="requests", code="rate_limit_exceeded"), {"retry-after": str(wait)}
    if isinstance(exc, drf.APIException):
        headers: dict[str, str] = {}
        seconds = getattr(exc, "wait", None)
        if seconds:
            headers["Retry-After"] = str(int(seconds) + 1)
        return exc.status_code, error_body(str(exc.detail), code=exc.default_code), headers
    if isinstance(exc, DATABASE_UNAVAILABLE):
        return database_unavailable(request)
    return server_error(request)


def server_error(request) -> tuple[int, dict, dict]:
    logger.exception("Unexpected error on %s %s", request.method, request.path)
    headers = {}
    if not _may_be_repeated(request):
        # We cannot tell whether a write was committed: the SDK must not retry and write twice.
        headers["x-should-retry"] = "false"
    body = error_body("The server had an error while processing your request.", type="server_error",
                      code="server_error")
    return 500, body, headers


def database_unavailable(request) -> tuple[int, dict, dict]:
    """503: the database failed under this request. A read may simply be retried (the SDK does), and
    so may a write sent with an Idempotency-Key; any other write may or may not have been committed,
    so the SDK is told not to repeat it (spec §6.3)."""
    logger.error("Database unavailable on %s %s", request.method, request.path, exc_info=True)
    if request.method in SAFE_METHODS:
        message = "The database is unavailable right now. Please try again shortly."
        headers: dict[str, str] = {}
    elif _may_be_repeated(request):
        message = ("The database became unavailable while processing your request. Repeat it with the same "
                   "Idempotency-Key: it is applied at most once.")
        headers = {}
    else:
        message = ("The database became unavailable while processing your request, so it may or may not "
                   "have been applied. Check before repeating it.")
        headers = {"x-should-retry": "false"}
    return 503, error_body(message, type="server_error", code="database_unavailable"), headers


def _may_be_repeated(request) -> bool:
    """A read, or a write sent with an Idempotency-Key (api.idempotency): repeating it cannot write twice."""
    return request.method in SAFE_METHODS or getattr(request, "idempotency_key", None) is not None


def _validation_body(detail) -> dict:
    """A serializer's errors: the first field becomes `param`."""
    if isinstance(detail, dict) and detail:
        field, messages = next(iter(detail.items()))
        message = messages[0] if isinstance(messages, list) and messages else messages
        param = None if field == "non_field_errors" else field
        code = getattr(message, "code", None)
        if code == "required":
            return error_body(f"Missing required parameter: '{field}'.", param=param,
                              code="missing_required_parameter")
        if param is None:
            return error_body(f"Invalid request body: {message}", code="invalid_type")
        return error_body(f"Invalid '{field}': {message}", param=param, code="invalid_value")
    message = detail[0] if isinstance(detail, list) and detail else detail
    return error_body(f"Invalid request: {message}", code="invalid_value")


def openai_exception_handler(exc, context):
    request = context["request"]
    status, body, headers = _describe(exc, request)
    return Response(body, status=status, headers=headers)

