"""`Idempotency-Key` on every POST and DELETE under /v1 (api/idempotency.py): the same key and the
same request within 24 hours answer the first response without writing again."""

import threading
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from api import urls as api_urls
from api.models import IdempotencyRecord
from conversations import services
from conversations.models import AuditEvent, Conversation, Item
from tests.factories import make_api_key, make_conversation, make_project

LOST = OperationalError("server closed the connection unexpectedly")


def key() -> str:
    return str(uuid.uuid4())


def send(api, method: str, path: str, body=None, *, idempotency_key: str | None = None, **extra):
    if idempotency_key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
    return getattr(api, method.lower())(path, body, format="json", **extra)


def state() -> tuple:
    """Everything a write changes: rows, counters, the audit log."""
    return (
        sorted(Conversation.objects.values_list("public_id", "metadata", "item_count", "next_position")),
        sorted(Item.objects.values_list("public_id", "position")),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def conversation(project):
    return make_conversation(project, items=[{"role": "user", "content": "first"},
                                             {"role": "user", "content": "second"}])


def write_requests(conversation) -> dict:
    """Every POST and DELETE route under /v1, with a body that works."""
    conversation_path = f"/v1/conversations/{conversation.public_id}"
    item_id = Item.objects.filter(conversation=conversation).order_by("position").first().public_id
    return {
        "conversations.create": ("POST", "/v1/conversations", {"items": [{"role": "user", "content": "hi"}],
                                                                "metadata": {"user": "u1"}}),
        "conversations.update": ("POST", conversation_path, {"metadata": {"plan": "pro"}}),
        "items.create": ("POST", f"{conversation_path}/items", {"items": [{"role": "user", "content": "a"},
                                                                          {"role": "user", "content": "b"}]}),
        "items.delete": ("DELETE", f"{conversation_path}/items/{item_id}", None),
        "conversations.delete": ("DELETE", conversation_path, None),
    }


WRITES = ["conversations.create", "conversations.update", "items.create", "items.delete", "conversations.delete"]


# --- the same request again --------------------------------------------------------------------


@pytest.mark.parametrize("call", WRITES)
def test_a_repeated_write_answers_the_first_response_and_writes_nothing(api, conversation, call):
    method, path, body = write_requests(conversation)[call]
    idempotency_key = key()
    first = send(api, method, path, body, idempotency_key=idempotency_key)
    assert first.status_code == 200, first.content
    after_first = state()

    again = send(api, method, path, body, idempotency_key=idempotency_key)
    assert state() == after_first
    assert again.status_code == 200
    assert again.content == first.content
    assert again["Content-Type"] == first["Content-Type"] == "application/json"
    assert (first["Idempotent-Replayed"], again["Idempotent-Replayed"]) == ("false", "true")
    assert again["Original-Request-Id"] == first["x-request-id"]
    assert again["x-request-id"].startswith("req_") and again["x-request-id"] != first["x-request-id"]


@pytest.mark.parametrize("call", WRITES)
def test_without_a_key_the_same_write_happens_again(api, conversation, call):
    """What a retry did before the header was honoured (and still does without it)."""
    method, path, body = write_requests(conversation)[call]
    first = send(api, method, path, body)
    after_first = state()
    again = send(api, method, path, body)
    assert "Idempotent-Replayed" not in first and "Idempotent-Replayed" not in again
    if method == "DELETE":
        assert again.status_code == 404  # already gone: a retry reports a delete that succeeded as failed
    elif call == "conversations.update":
        assert state()[2] == after_first[2] + 1  # audited twice
    else:
        assert state() != after_first  # a second conversation, or the batch appended twice
    assert not IdempotencyRecord.objects.exists()


def test_every_post_and_delete_route_honours_the_key():
    for pattern in api_urls.urlpatterns:
        view = pattern.callback
        for method, action in view.actions.items():
            handler = getattr(view.cls, action)
            assert getattr(handler, "__wrapped__", None) is not None or method not in {"post", "delete"}, \
                f"{method.upper()} {pattern.pattern} ({view.cls.__name__}.{action}) ignores Idempotency-Key"
            if method == "get":
                assert not hasattr(handler, "__wrapped__")


# --- another request with the same key ------------------------------------------------------------


@pytest.mark.parametrize("change", ["another body", "another conversation", "another query string", "another method"])
def test_the_same_key_for_another_request_answers_400_idempotency_key_reused(api, project, conversation, change):
    other = make_conversation(project)
    idempotency_key = key()
    path = f"/v1/conversations/{conversation.public_id}/items"
    assert send(api, "POST", path, {"items": [{"role": "user", "content": "a"}]},
                idempotency_key=idempotency_key).status_code == 200
    before = state()
    method, body = "POST", {"items": [{"role": "user", "content": "a"}]}
    if change == "another body":
        body = {"items": [{"role": "user", "content": "b"}]}
    elif change == "another conversation":
        path = f"/v1/conversations/{other.public_id}/items"
    elif change == "another query string":
        path += "?include[]=message.input_image.image_url"
    else:
        method, path, body = "DELETE", f"/v1/conversations/{conversation.public_id}", None

    response = send(api, method, path, body, idempotency_key=idempotency_key)
    assert response.status_code == 400  # never 409: the SDK retries those
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error", "idempotency_key_reused", "Idempotency-Key")
    assert f"POST /v1/conversations/{conversation.public_id}/items" in error["message"]
    assert "x-should-retry" not in response
    assert state() == before


# --- keys ------------------------------------------------------------------------------------------


def test_keys_belong_to_their_api_key(api, other_api, project):
    idempotency_key = key()
    body = {"metadata": {"who": "me"}}
    mine = send(api, "POST", "/v1/conversations", body, idempotency_key=idempotency_key)
    theirs = send(other_api, "POST", "/v1/conversations", body, idempotency_key=idempotency_key)
    assert theirs["Idempotent-Replayed"] == "false"  # another tenant's response is never replayed
    assert theirs.json()["id"] != mine.json()["id"]
    assert Conversation.objects.get(public_id=theirs.json()["id"]).project.name == "globex"

    # A second key of the same project is another caller too.
    second = APIClient()
    second.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(project, name='second')[1]}")
    again = send(second, "POST", "/v1/conversations", body, idempotency_key=idempotency_key)
    assert again["Idempotent-Replayed"] == "false"
    assert Conversation.objects.filter(project=project).count() == 2


@pytest.mark.parametrize("bad", ["", "x" * 256, "caf\u00e9", "tab\there", "del\x7f"],
                         ids=["empty", "256 characters", "not ASCII", "a tab", "a control character"])
def test_a_malformed_key_answers_400_naming_the_header(api, bad):
    response = send(api, "POST", "/v1/conversations", {}, idempotency_key=bad)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_idempotency_key", "Idempotency-Key")
    assert "Idempotency-Key" in error["message"]
    assert not Conversation.objects.exists()


def test_a_key_of_255_printable_characters_is_accepted(api):
    idempotency_key = "".join(chr(32 + n % 95) for n in range(255))
    first = send(api, "POST", "/v1/conversations", {}, idempotency_key=idempotency_key)
    again = send(api, "POST", "/v1/conversations", {}, idempotency_key=idempotency_key)
    assert (first.status_code, again["Idempotent-Replayed"]) == (200, "true")
    assert Conversation.objects.count() == 1


@pytest.mark.parametrize("path", ["/v1/conversations", "conversation", "items"])
def test_reads_ignore_the_header(api, conversation, path):
    path = {"conversation": f"/v1/conversations/{conversation.public_id}",
            "items": f"/v1/conversations/{conversation.public_id}/items"}.get(path, path)
    for value in ("", "caf\u00e9", key()):
        response = api.get(path, HTTP_IDEMPOTENCY_KEY=value)
        assert response.status_code == 200
        assert "Idempotent-Replayed" not in response
    assert not IdempotencyRecord.objects.exists()


# --- 24 hours -------------------------------------------------------------------------------------


def age(hours: float, **extra) -> None:
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=hours, **extra))


def test_a_key_is_honoured_for_24_hours_then_runs_again(api):
    idempotency_key = key()
    first = send(api, "POST", "/v1/conversations", {}, idempotency_key=idempotency_key)
    age(24, seconds=-60)
    assert send(api, "POST", "/v1/conversations", {}, idempotency_key=idempotency_key).content == first.content
    age(24, seconds=1)
    later = send(api, "POST", "/v1/conversations", {}, idempotency_key=idempotency_key)
    assert later["Idempotent-Replayed"] == "false"
    assert later.json()["id"] != first.json()["id"]
    assert Conversation.objects.count() == 2
    # The key now stands for the new request, for the next 24 hours.
    assert send(api, "POST", "/v1/conversations", {}, idempotency_key=idempotency_key).content == later.content


def test_expired_rows_are_deleted_by_later_keyed_writes(api, other_api):
    for _ in range(3):
        send(other_api, "POST", "/v1/conversations", {}, idempotency_key=key())
    age(25)
    send(api, "POST", "/v1/conversations", {}, idempotency_key=key())
    assert IdempotencyRecord.objects.count() == 1


def test_a_different_request_may_use_an_expired_key(api):
    idempotency_key = key()
    send(api, "POST", "/v1/conversations", {}, idempotency_key=idempotency_key)
    age(25)
    response = send(api, "POST", "/v1/conversations", {"metadata": {"a": "b"}}, idempotency_key=idempotency_key)
    assert (response.status_code, response.json()["metadata"]) == (200, {"a": "b"})


# --- failures keep nothing ------------------------------------------------------------------------


def test_a_refused_write_keeps_nothing_so_the_corrected_request_may_use_its_key(api, conversation):
    idempotency_key = key()
    path = f"/v1/conversations/{conversation.public_id}/items"
    refused = send(api, "POST", path, {"items": []}, idempotency_key=idempotency_key)
    assert refused.status_code == 400
    missing = send(api, "POST", "/v1/conversations/conv_missing/items", {"items": [{"role": "user", "content": "a"}]},
                   idempotency_key=idempotency_key)
    assert missing.status_code == 404
    assert not IdempotencyRecord.objects.exists()
    accepted = send(api, "POST", path, {"items": [{"role": "user", "content": "a"}]}, idempotency_key=idempotency_key)
    assert (accepted.status_code, accepted["Idempotent-Replayed"]) == (200, "false")


def test_a_keyed_write_that_loses_the_database_may_be_retried_and_is_written_once(api, conversation):
    idempotency_key = key()
    path = f"/v1/conversations/{conversation.public_id}/items"
    body = {"items": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}
    before = state()
    original = Item.objects.bulk_create

    def half_then_lost(rows, *args, **kwargs):
        original(rows[:1], *args, **kwargs)
        raise LOST

    with mock.patch.object(Item.objects, "bulk_create", side_effect=half_then_lost):
        lost = send(api, "POST", path, body, idempotency_key=idempotency_key)
    assert lost.status_code == 503
    # Nothing was kept, the key included: the SDK may retry (no `x-should-retry: false`).
    assert "x-should-retry" not in lost
    assert "same Idempotency-Key" in lost.json()["error"]["message"]
    assert state() == before
    retried = send(api, "POST", path, body, idempotency_key=idempotency_key)
    assert (retried.status_code, retried["Idempotent-Replayed"]) == (200, "false")
    assert Item.objects.filter(conversation=conversation).count() == 4


def test_an_unkeyed_write_that_loses_the_database_still_forbids_a_retry(api, conversation):
    with mock.patch.object(services, "items_append", side_effect=LOST):
        lost = send(api, "POST", f"/v1/conversations/{conversation.public_id}/items",
                    {"items": [{"role": "user", "content": "a"}]})
    assert (lost.status_code, lost["x-should-retry"]) == (503, "false")


# --- what is kept ---------------------------------------------------------------------------------


def test_deleting_a_conversation_deletes_the_responses_that_show_it(api, conversation):
    conversation_path = f"/v1/conversations/{conversation.public_id}"
    send(api, "POST", conversation_path, {"metadata": {"email": "someone@example.com"}}, idempotency_key=key())
    send(api, "POST", f"{conversation_path}/items", {"items": [{"role": "user", "content": "my address is ..."}]},
         idempotency_key=key())
    other = send(api, "POST", "/v1/conversations", {"metadata": {"kept": "yes"}}, idempotency_key=key())
    assert IdempotencyRecord.objects.count() == 3

    services.conversation_delete(conversation=conversation, actor=services.SYSTEM)  # as the console does
    assert [record.body for record in IdempotencyRecord.objects.all()] == [other.content.decode()]


# --- concurrent duplicates ------------------------------------------------------------------------


class HeldCreate:
    """conversations.create whose first call waits (inside its transaction) until released, and
    then writes, or fails with the database lost."""

    def __init__(self, *, then_fail: bool = False):
        self.entered, self.release, self.then_fail = threading.Event(), threading.Event(), then_fail
        self.real, self.calls = services.conversation_create, 0

    def __call__(self, **kwargs):
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            assert self.release.wait(60)
            if self.then_fail:
                raise LOST
        return self.real(**kwargs)


def waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0] >= 1


def wait_for(predicate) -> None:
    import time

    deadline = time.monotonic() + 60
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def concurrent_duplicates(held: HeldCreate) -> tuple:
    project = make_project("acme")
    secret = make_api_key(project)[1]
    idempotency_key, responses = key(), {}

    def post(name: str) -> None:
        try:
            responses[name] = Client().post("/v1/conversations", {"metadata": {"n": "1"}},
                                            content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}",
                                            HTTP_IDEMPOTENCY_KEY=idempotency_key)
        finally:
            connection.close()

    with mock.patch.object(services, "conversation_create", side_effect=held):
        first = threading.Thread(target=post, args=("first",))
        first.start()
        assert held.entered.wait(60)
        second = threading.Thread(target=post, args=("second",))
        second.start()
        wait_for(waiting_on_a_lock)  # the duplicate waits for the first one's transaction
        held.release.set()
        first.join()
        second.join()
    return responses["first"], responses["second"]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_duplicate_waits_for_the_first_and_answers_its_response():
    held = HeldCreate()
    first, second = concurrent_duplicates(held)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.content == first.content
    assert (first["Idempotent-Replayed"], second["Idempotent-Replayed"]) == ("false", "true")
    assert held.calls == 1
    assert Conversation.objects.count() == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_duplicate_runs_itself_when_the_first_fails():
    held = HeldCreate(then_fail=True)
    first, second = concurrent_duplicates(held)
    assert (first.status_code, second.status_code) == (503, 200)
    assert second["Idempotent-Replayed"] == "false"
    assert held.calls == 2
    assert Conversation.objects.get().public_id == second.json()["id"]
