"""The eight Conversations calls through the real `AsyncOpenAI` client, over HTTP, in strict mode.

No ORM here: Django refuses it inside the running event loop, so these tests check the
server's state through the SDK itself. (Async pagination lives in test_pagination.py.)
"""

import pytest
from openai import AuthenticationError, BadRequestError, NotFoundError
from openai.types.conversations import ConversationDeletedResource, ConversationItemList

from tests.sdk.helpers import (
    assert_conversation,
    assert_message,
    assert_openai_error,
    make_async_client,
    numbered_messages,
    texts,
)

pytestmark = pytest.mark.anyio


async def _all(page) -> list:
    return [item async for item in page]


async def test_create_retrieve_update_and_delete(async_sdk):
    created = await async_sdk.conversations.create(
        items=[{"role": "user", "content": "hello"}], metadata={"user_id": "u1"}
    )
    assert_conversation(created, metadata={"user_id": "u1"})

    retrieved = await async_sdk.conversations.retrieve(created.id)
    assert_conversation(retrieved, metadata={"user_id": "u1"})
    assert (retrieved.id, retrieved.created_at) == (created.id, created.created_at)

    updated = await async_sdk.conversations.update(created.id, metadata={"plan": "pro"})
    assert_conversation(updated, metadata={"plan": "pro"})
    cleared = await async_sdk.conversations.update(created.id, metadata=None)
    assert_conversation(cleared, metadata={})
    assert (await async_sdk.conversations.retrieve(created.id)).metadata == {}

    deleted = await async_sdk.conversations.delete(created.id)
    assert isinstance(deleted, ConversationDeletedResource)
    assert (deleted.id, deleted.object, deleted.deleted) == (created.id, "conversation.deleted", True)
    assert deleted._request_id.startswith("req_")
    with pytest.raises(NotFoundError):
        await async_sdk.conversations.retrieve(created.id)


async def test_create_with_no_arguments(async_sdk):
    conversation = await async_sdk.conversations.create()

    assert_conversation(conversation, metadata={})
    assert await _all(async_sdk.conversations.items.list(conversation.id)) == []


async def test_items_create_retrieve_list_and_delete(async_sdk):
    conversation = await async_sdk.conversations.create(metadata={"k": "v"})
    items = async_sdk.conversations.items

    created = await items.create(
        conversation.id, items=[{"role": "user", "content": "question"}, {"role": "assistant", "content": "answer"}]
    )
    assert isinstance(created, ConversationItemList)
    assert (created.object, created.has_more) == ("list", False)
    assert_message(created.data[0], role="user", text="question")
    assert_message(created.data[1], role="assistant", text="answer")
    assert (created.first_id, created.last_id) == (created.data[0].id, created.data[1].id)
    assert created._request_id.startswith("req_")

    retrieved = await items.retrieve(created.last_id, conversation_id=conversation.id)
    assert retrieved == created.data[1]
    assert retrieved._request_id.startswith("req_")

    page = await items.list(conversation.id)
    assert [item.id for item in page.data] == [created.last_id, created.first_id]  # newest first
    assert (page.first_id, page.last_id, page.has_more) == (created.last_id, created.first_id, False)
    assert page._request_id.startswith("req_")

    parent = await items.delete(created.first_id, conversation_id=conversation.id)
    assert_conversation(parent, metadata={"k": "v"})
    assert parent.id == conversation.id
    assert texts(await _all(items.list(conversation.id))) == ["answer"]
    with pytest.raises(NotFoundError) as raised:
        await items.retrieve(created.first_id, conversation_id=conversation.id)
    assert_openai_error(raised.value, status=404, param="item_id", code="not_found")


async def test_async_and_sync_clients_see_the_same_data(async_sdk, sdk):
    conversation = await async_sdk.conversations.create(items=numbered_messages(3))

    assert [i.id for i in sdk.conversations.items.list(conversation.id)] == [
        i.id async for i in async_sdk.conversations.items.list(conversation.id)
    ]


# --- errors ------------------------------------------------------------------------------------------


async def test_too_many_items_is_a_bad_request(async_sdk):
    conversation = await async_sdk.conversations.create()

    with pytest.raises(BadRequestError) as raised:
        await async_sdk.conversations.items.create(conversation.id, items=numbered_messages(21))

    assert_openai_error(raised.value, status=400, param="items", code="array_above_max_length")
    assert await _all(async_sdk.conversations.items.list(conversation.id)) == []


async def test_an_invalid_item_is_a_400_sent_once_and_nothing_is_written(counting_async_sdk, requests_log):
    conversation = await counting_async_sdk.conversations.create()
    requests_log.clear()

    with pytest.raises(BadRequestError) as raised:
        await counting_async_sdk.conversations.items.create(
            conversation.id, items=[{"role": "user", "content": "ok"}, {"type": "banana"}]
        )

    assert raised.value.param == "items[1].type"
    assert [(r.method, r.retry_count) for r in requests_log] == [("POST", "0")]
    assert await _all(counting_async_sdk.conversations.items.list(conversation.id)) == []


async def test_a_wrong_api_key_is_an_authentication_error(base_url):
    async with make_async_client(base_url, "cvs_wrong") as intruder:
        with pytest.raises(AuthenticationError) as raised:
            await intruder.conversations.create()

    assert_openai_error(raised.value, status=401, param=None, code="invalid_api_key")


async def test_unknown_and_foreign_conversations_are_not_found(async_sdk, other_async_sdk):
    missing = "conv_" + "0" * 48
    with pytest.raises(NotFoundError) as raised:
        await async_sdk.conversations.retrieve(missing)
    assert_openai_error(raised.value, status=404, param="conversation_id", code="not_found")
    assert missing in raised.value.body["message"]

    theirs = await other_async_sdk.conversations.create(items=numbered_messages(1))
    with pytest.raises(NotFoundError) as raised:
        await async_sdk.conversations.retrieve(theirs.id)
    assert_openai_error(raised.value, status=404, param="conversation_id", code="not_found")
    with pytest.raises(NotFoundError):
        await async_sdk.conversations.delete(theirs.id)
    assert texts(await _all(other_async_sdk.conversations.items.list(theirs.id))) == ["m0"]
