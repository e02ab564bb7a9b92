"""When the database fails under a request, the answer is a clear 503, never a bare 500 page: JSON in
OpenAI's shape under /v1 (with `x-should-retry: false` on writes, which may have been committed: spec
§6.3), a plain page in the console. Here the failure is injected; test_database_outage.py kills real
PostgreSQL connections under a running server."""

from unittest import mock

import psycopg
import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client

from conversations import queries, services
from conversations.models import AuditEvent, Conversation, Item
from tests.factories import make_conversation, make_user

pytestmark = pytest.mark.django_db

LOST = OperationalError("server closed the connection unexpectedly")


def assert_database_unavailable(response, *, write: bool):
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"], error["param"]) == ("server_error", "database_unavailable", None)
    if write:
        assert response["x-should-retry"] == "false"
        assert "may or may not have been applied" in error["message"]
    else:
        assert "x-should-retry" not in response  # a read is safe to retry: the SDK does
    assert response["x-request-id"]


@pytest.fixture
def conversation(project):
    return make_conversation(project, items=[{"role": "user", "content": "first"}])


@pytest.mark.parametrize("error", [LOST, InterfaceError("connection already closed"),
                                   psycopg.OperationalError("consuming input failed"),
                                   psycopg.InterfaceError("the connection is closed")],
                         ids=["django-operational", "django-interface", "psycopg-operational", "psycopg-interface"])
def test_a_read_that_loses_the_database_is_a_retryable_503(api, conversation, error):
    with mock.patch.object(queries, "item_page", side_effect=error):
        response = api.get(f"/v1/conversations/{conversation.public_id}/items")
    assert_database_unavailable(response, write=False)


@pytest.mark.parametrize("method", ["post", "delete"])
def test_a_write_that_loses_the_database_is_a_503_the_sdk_must_not_repeat(api, conversation, method):
    target = "conversation_update" if method == "post" else "conversation_delete"
    with mock.patch.object(services, target, side_effect=LOST):
        response = getattr(api, method)(f"/v1/conversations/{conversation.public_id}", {"metadata": {}},
                                        format="json")
    assert_database_unavailable(response, write=True)


def test_losing_the_database_mid_batch_is_a_503_and_leaves_nothing_behind(api, conversation):
    original = Item.objects.bulk_create

    def half_then_lost(rows, *args, **kwargs):
        original(rows[: len(rows) // 2], *args, **kwargs)
        raise LOST

    before = (Item.objects.count(), AuditEvent.objects.count(), Conversation.objects.get().next_position)
    items = [{"role": "user", "content": f"m{n}"} for n in range(6)]
    with mock.patch.object(Item.objects, "bulk_create", side_effect=half_then_lost):
        response = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": items}, format="json")
    assert_database_unavailable(response, write=True)
    assert (Item.objects.count(), AuditEvent.objects.count(), Conversation.objects.get().next_position) == before


def test_authentication_losing_the_database_is_a_503_too(api):
    with mock.patch.object(services, "apikey_authenticate", side_effect=LOST):
        assert_database_unavailable(api.get("/v1/conversations"), write=False)
        assert_database_unavailable(api.post("/v1/conversations", {}, format="json"), write=True)


def test_an_error_outside_drf_under_v1_is_json_too(project):
    """Errors that escape a view or a middleware reach handler500, which answers JSON under /v1."""
    client = Client(raise_request_exception=False)
    with mock.patch("api.middleware.BodySizeLimitMiddleware.__call__", side_effect=LOST, autospec=True):
        response = client.post("/v1/conversations", "{}", content_type="application/json")
    assert_database_unavailable(response, write=True)


def test_other_unexpected_errors_stay_500s(api, conversation):
    with mock.patch.object(queries, "item_page", side_effect=RuntimeError("bug")):
        response = api.get(f"/v1/conversations/{conversation.public_id}/items")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"


# --- the console ---------------------------------------------------------------------------------


@pytest.fixture
def console(db):
    client = Client(raise_request_exception=False)
    client.force_login(make_user("otto", "operator"))
    return client


def test_a_console_page_that_loses_the_database_answers_a_friendly_503(console, conversation):
    with mock.patch.object(queries, "item_page", side_effect=LOST):
        response = console.get(f"/conversations/{conversation.public_id}/")
    assert response.status_code == 503
    page = response.content.decode()
    assert "<h1>Database unavailable</h1>" in page
    assert "may or may not have been saved" not in page
    assert "Content-Security-Policy" in response


def test_a_console_write_that_loses_the_database_says_it_may_not_have_been_saved(console, conversation):
    with mock.patch.object(services, "conversation_delete", side_effect=LOST):
        response = console.post(f"/conversations/{conversation.public_id}/delete/")
    assert response.status_code == 503
    assert "Your change may or may not have been saved." in response.content.decode()


def test_the_503_page_needs_no_database_even_to_know_who_is_logged_in(console, conversation):
    """The session itself cannot be read: the page still renders (it asks nothing of the database)."""
    with mock.patch("django.contrib.sessions.backends.db.SessionStore.load", side_effect=LOST):
        response = console.get("/")
    assert response.status_code == 503
    assert "Database unavailable" in response.content.decode()
