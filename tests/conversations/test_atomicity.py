"""No half-writes: a write that fails part-way (the batch insert half done, the audit row refused, the
connection killed mid-batch) leaves nothing behind. No items, no conversation, no audit row; positions,
next_position and item_count as they were. These tests commit for real (transaction=True): what they
check is what another connection would see."""

from unittest import mock

import pytest
from django.db import OperationalError, connection
from rest_framework.test import APIClient

from conversations import services
from conversations.models import AuditEvent, Conversation, Item
from tests.factories import make_api_key, make_conversation, make_project

pytestmark = pytest.mark.django_db(transaction=True)


class Killed(Exception):
    """The process dying part-way through a request."""


def snapshot() -> tuple:
    """Everything a conversation write could change."""
    return (
        list(Conversation.objects.order_by("pk").values_list("public_id", "metadata", "next_position", "item_count",
                                                             "updated_at")),
        list(Item.objects.order_by("pk").values_list("conversation_id", "public_id", "position")),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def conversation():
    return make_conversation(make_project("acme"), metadata={"a": "1"},
                             items=[{"role": "user", "content": f"seed {n}"} for n in range(3)])


def half_then(error):
    """A bulk_create that inserts the first half of the rows, then fails."""
    original = Item.objects.bulk_create

    def bulk_create(rows, *args, **kwargs):
        original(rows[: max(1, len(rows) // 2)], *args, **kwargs)
        raise error

    return mock.patch.object(Item.objects, "bulk_create", side_effect=bulk_create)


def audit_fails():
    return mock.patch.object(AuditEvent.objects, "create", side_effect=Killed)


def messages(count: int, prefix: str = "new") -> list[dict]:
    return [{"role": "user", "content": f"{prefix} {n}"} for n in range(count)]


def test_an_append_that_dies_mid_batch_leaves_nothing(conversation):
    before = snapshot()
    with half_then(Killed), pytest.raises(Killed):
        services.items_append(conversation=conversation, actor=services.SYSTEM, items=messages(20))
    assert snapshot() == before


def test_an_append_whose_audit_row_fails_leaves_nothing(conversation):
    before = snapshot()
    with audit_fails(), pytest.raises(Killed):
        services.items_append(conversation=conversation, actor=services.SYSTEM, items=messages(5))
    assert snapshot() == before


def test_after_a_failed_append_the_next_one_continues_the_positions_densely(conversation):
    with half_then(Killed), pytest.raises(Killed):
        services.items_append(conversation=conversation, actor=services.SYSTEM, items=messages(4, "lost"))
    services.items_append(conversation=conversation, actor=services.SYSTEM, items=messages(2))
    rows = list(Item.objects.filter(conversation=conversation).order_by("position").values_list("position", "text"))
    assert rows == [(0, "seed 0"), (1, "seed 1"), (2, "seed 2"), (3, "new 0"), (4, "new 1")]
    assert Conversation.objects.values_list("next_position", "item_count").get() == (5, 5)


def test_a_create_that_dies_mid_batch_leaves_no_conversation(conversation):
    before = snapshot()
    with half_then(Killed), pytest.raises(Killed):
        services.conversation_create(project=conversation.project, actor=services.SYSTEM, items=messages(20),
                                     metadata={"b": "2"})
    assert snapshot() == before


def test_a_create_whose_audit_row_fails_leaves_no_conversation(conversation):
    before = snapshot()
    with audit_fails(), pytest.raises(Killed):
        services.conversation_create(project=conversation.project, actor=services.SYSTEM, items=messages(3))
    assert snapshot() == before


def test_a_metadata_update_whose_audit_row_fails_changes_nothing(conversation):
    before = snapshot()
    with audit_fails(), pytest.raises(Killed):
        services.conversation_update(conversation=conversation, actor=services.SYSTEM, metadata={"z": "9"})
    assert snapshot() == before


def test_an_item_delete_whose_audit_row_fails_keeps_the_item(conversation):
    before = snapshot()
    item = Item.objects.filter(conversation=conversation).first()
    with audit_fails(), pytest.raises(Killed):
        services.item_delete(conversation=conversation, actor=services.SYSTEM, item_id=item.public_id)
    assert snapshot() == before


def test_a_conversation_delete_whose_audit_row_fails_keeps_everything(conversation):
    before = snapshot()
    with audit_fails(), pytest.raises(Killed):
        services.conversation_delete(conversation=conversation, actor=services.SYSTEM)
    assert snapshot() == before


# --- through the API -------------------------------------------------------------------------------------


@pytest.fixture
def api(conversation):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_api_key(conversation.project)[1]}")
    return client


@pytest.mark.parametrize("path", ["items", "create"])
def test_an_api_write_that_dies_mid_batch_answers_an_error_the_sdk_will_not_repeat(api, conversation, path):
    before = snapshot()
    url = (f"/v1/conversations/{conversation.public_id}/items" if path == "items" else "/v1/conversations")
    with half_then(Killed):
        response = api.post(url, {"items": messages(10)}, format="json")
    assert response.status_code == 500
    assert response["x-should-retry"] == "false"
    assert response.json()["error"]["type"] == "server_error"
    assert snapshot() == before


@pytest.mark.postgres_only
def test_an_append_whose_connection_is_killed_mid_batch_leaves_nothing_and_answers_503(api, conversation):
    """For real: half the rows are inserted, then PostgreSQL terminates the request's connection."""
    import psycopg

    settings = connection.settings_dict
    original = Item.objects.bulk_create

    def insert_half_then_get_killed(rows, *args, **kwargs):
        original(rows[: len(rows) // 2], *args, **kwargs)
        pid = connection.connection.info.backend_pid
        with psycopg.connect(dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"] or None,
                             host=settings["HOST"], port=settings["PORT"], autocommit=True) as side:
            side.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid = %s", [pid])
        return original(rows[len(rows) // 2:], *args, **kwargs)  # the connection is gone: this fails

    before = snapshot()
    with mock.patch.object(Item.objects, "bulk_create", side_effect=insert_half_then_get_killed):
        response = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": messages(10)},
                            format="json")
    assert response.status_code == 503
    assert response["x-should-retry"] == "false"
    assert response.json()["error"]["code"] == "database_unavailable"
    assert snapshot() == before  # a fresh connection sees nothing of the killed transaction
    response = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": messages(2)}, format="json")
    assert response.status_code == 200
    assert Conversation.objects.values_list("next_position", "item_count").get() == (5, 5)


def test_a_failure_with_an_operational_error_mid_batch_is_a_503_and_leaves_nothing(api, conversation):
    before = snapshot()
    with half_then(OperationalError("server closed the connection unexpectedly")):
        response = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": messages(6)},
                            format="json")
    assert response.status_code == 503
    assert response["x-should-retry"] == "false"
    assert snapshot() == before
