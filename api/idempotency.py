"""`Idempotency-Key` on the API's writes (every POST and DELETE under /v1): a retry cannot write twice.

The SDK retries a write whose answer it did not get (timeout, connection lost, 5xx), and the first
attempt may have written by then (issue 10). A write sent with `Idempotency-Key: <1-255 printable
ASCII characters>` is done at most once per API key and key for 24 hours:

- A repeat of the same request (method, path, query string and body, byte for byte) is answered
  with the first response (status, body, content type) and `Idempotent-Replayed: true`, plus
  `Original-Request-Id` naming the first request; its own `x-request-id` is new, as on every
  response. The first response carries `Idempotent-Replayed: false`.
- The same key with another request answers 400 `idempotency_key_reused` (never 409: the SDK
  retries 409s).
- Only a success is kept. A write that fails (400, 404, 5xx, the database lost) has written
  nothing, so it keeps nothing either: its retry simply runs again.
- The key is claimed by inserting its row in the write's own transaction, and the response is
  stored in that transaction too: a crash in between leaves neither. A concurrent duplicate waits
  for the first one's transaction (PostgreSQL: on the unique index; SQLite: on the write lock every
  write takes), then answers with its response, or runs itself if the first one failed.
- Rows older than 24 hours are ignored, replaced when their key comes back, and deleted a batch
  at a time by later keyed writes; deleting a conversation deletes the responses that show it.

Requests without the header are untouched: no extra query, no extra transaction.
"""

import functools
import hashlib
import re
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from conversations.errors import InvalidInput
from conversations.models import Conversation
from conversations.validators import storable

from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
LIFETIME = timedelta(hours=24)
VALID_KEY = re.compile(r"[\x20-\x7e]{1,255}")
EXPIRED_BATCH = 100  # expired rows deleted by each keyed write, at most


def idempotent(action):
    """For a viewset's write actions: honour the request's `Idempotency-Key`, if it has one."""

    @functools.wraps(action)
    def wrapper(view, request, *args, **kwargs):
        key = request.META.get("HTTP_IDEMPOTENCY_KEY")
        if key is None:
            return action(view, request, *args, **kwargs)
        if not VALID_KEY.fullmatch(key):
            raise InvalidInput(f"Invalid '{HEADER}' header: use 1 to 255 printable ASCII characters, such as "
                               "a UUID.", param=HEADER, code="invalid_idempotency_key")
        # With a key, a write that failed may be retried: api.exceptions no longer forbids it.
        request._request.idempotency_key = key
        return _once(request, key, lambda: action(view, request, *args, **kwargs), kwargs)

    return wrapper


def _once(request, key: str, write, kwargs) -> HttpResponse:
    fingerprint = _fingerprint(request)
    for _ in range(3):  # a row can vanish between two looks (deleted with its conversation)
        cutoff = timezone.now() - LIFETIME
        found = IdempotencyRecord.objects.filter(api_key=request.auth, key=key).first()
        if found is not None and found.created_at >= cutoff:
            return _replay(found, fingerprint)
        with transaction.atomic():
            if found is not None:  # expired: the key is free again
                IdempotencyRecord.objects.filter(pk=found.pk, created_at__lt=cutoff).delete()
            record = _claim(request, key, fingerprint)
            if record is not None:
                response = write()
                _keep(record, response, request, kwargs)
                _delete_expired(cutoff)
                return response
        # Another request holding this key committed while this one waited for it.
    raise InvalidInput(f"This {HEADER} is being used and released by other requests all the time; use a new key.",
                       param=HEADER, code="idempotency_key_in_use")


def _claim(request, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """Insert this key's row, or None when another request's committed row holds it. A row still
    being written by another transaction makes this wait until that transaction ends."""
    request_line = f"{request.method} {request.path}"
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                api_key=request.auth, key=key, fingerprint=fingerprint,
                request_line=request_line if storable(request_line) else ascii(request_line),
            )
    except IntegrityError:
        return None


def _keep(record: IdempotencyRecord, response, request, kwargs) -> None:
    """Store a success as it will be sent; anything else is not kept, so a retry runs again."""
    if not isinstance(response, Response) or not 200 <= response.status_code < 300:
        record.delete()
        return
    record.status = response.status_code
    # The bytes DRF's renderer will send (the API's only renderer, spec §12).
    record.body = JSONRenderer().render(response.data).decode()
    record.headers = {"content-type": JSONRenderer.media_type, "x-request-id": request.request_id}
    record.conversation_id = _conversation_pk(request, response.data, kwargs)
    record.save(update_fields=["status", "body", "headers", "conversation"])
    response["Idempotent-Replayed"] = "false"


def _conversation_pk(request, data, kwargs) -> int | None:
    """The conversation the response shows: the path's, or the one just created. None once deleted."""
    public_id = kwargs.get("conversation_id")
    if public_id is None and isinstance(data, dict) and data.get("object") == "conversation":
        public_id = data.get("id")
    if public_id is None:
        return None
    return (Conversation.objects.for_project(request.auth.project_id).where(public_id=public_id)
            .values_list("pk", flat=True).first())


def _replay(record: IdempotencyRecord, fingerprint: str) -> HttpResponse:
    if record.fingerprint != fingerprint:
        raise InvalidInput(
            f"This {HEADER} was already used for another request ({record.request_line}, or the same path "
            "with another body or query) within the last 24 hours. Use a new key for a new request.",
            param=HEADER, code="idempotency_key_reused",
        )
    response = HttpResponse(record.body, status=record.status, content_type=record.headers["content-type"])
    response["Idempotent-Replayed"] = "true"
    response["Original-Request-Id"] = record.headers["x-request-id"]
    return response


def _fingerprint(request) -> str:
    """What makes two requests "the same": method, path, query string and the body's bytes."""
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.META.get("QUERY_STRING", "")):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\n")
    digest.update(request._request.body)
    return digest.hexdigest()


def _delete_expired(cutoff) -> None:
    """A batch of rows past their 24 hours, any API key's; rows another transaction is deleting are
    skipped (PostgreSQL), so concurrent writes never queue behind each other here."""
    expired = IdempotencyRecord.objects.filter(created_at__lt=cutoff).order_by("created_at").values("pk")
    if connection.features.has_select_for_update_skip_locked:
        expired = expired.select_for_update(skip_locked=True)
    IdempotencyRecord.objects.filter(pk__in=expired[:EXPIRED_BATCH]).delete()
