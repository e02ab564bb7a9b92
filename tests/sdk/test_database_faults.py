"""The real SDK (default retries on) against a server whose database fails under a request: a read is
retried and succeeds once the database answers again; a write is sent exactly once, because it may
have been committed (spec §6.3: 503 + `x-should-retry: false`), and leaves nothing half-written."""

from unittest import mock

import pytest
from django.db import OperationalError
from openai import InternalServerError

from conversations import queries
from conversations.models import Item

LOST = OperationalError("terminating connection due to administrator command")


def test_a_read_that_loses_the_database_is_retried_and_succeeds(counting_sdk, requests_log):
    conversation = counting_sdk.conversations.create(items=[{"role": "user", "content": "hello"}])
    requests_log.clear()
    real_item_page, calls = queries.item_page, []

    def lost_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise LOST
        return real_item_page(**kwargs)

    with mock.patch.object(queries, "item_page", side_effect=lost_once):
        page = counting_sdk.conversations.items.list(conversation.id)
    assert [item.content[0].text for item in page.data] == ["hello"]
    assert [r.retry_count for r in requests_log] == ["0", "1"]


def test_a_write_that_loses_the_database_is_sent_once_and_writes_nothing(counting_sdk, requests_log):
    conversation = counting_sdk.conversations.create(items=[{"role": "user", "content": "hello"}])
    requests_log.clear()
    original = Item.objects.bulk_create

    def half_then_lost(rows, *args, **kwargs):
        original(rows[:1], *args, **kwargs)
        raise LOST

    with mock.patch.object(Item.objects, "bulk_create", side_effect=half_then_lost), \
            pytest.raises(InternalServerError) as raised:
        counting_sdk.conversations.items.create(conversation.id, items=[{"role": "user", "content": "a"},
                                                                        {"role": "user", "content": "b"}])
    assert raised.value.status_code == 503
    assert raised.value.code == "database_unavailable"
    assert raised.value.response.headers["x-should-retry"] == "false"
    assert [(r.method, r.retry_count) for r in requests_log] == [("POST", "0")]
    assert [i.content[0].text for i in counting_sdk.conversations.items.list(conversation.id)] == ["hello"]


def test_a_keyed_write_that_loses_the_database_is_retried_and_written_once(counting_sdk, requests_log):
    """With an Idempotency-Key a failed write kept nothing, the key included, so the SDK may retry it."""
    conversation = counting_sdk.conversations.create(items=[{"role": "user", "content": "hello"}])
    requests_log.clear()
    original, calls = Item.objects.bulk_create, []

    def half_then_lost_once(rows, *args, **kwargs):
        calls.append(rows)
        if len(calls) == 1:
            original(rows[:1], *args, **kwargs)
            raise LOST
        return original(rows, *args, **kwargs)

    with mock.patch.object(Item.objects, "bulk_create", side_effect=half_then_lost_once):
        page = counting_sdk.conversations.items.create(
            conversation.id, items=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
            extra_headers={"Idempotency-Key": "retry-me-1"},
        )
    assert [i.content[0].text for i in page.data] == ["a", "b"]
    assert [(r.method, r.retry_count) for r in requests_log] == [("POST", "0"), ("POST", "1")]
    assert [i.content[0].text for i in counting_sdk.conversations.items.list(conversation.id, order="asc")] == [
        "hello", "a", "b"]
