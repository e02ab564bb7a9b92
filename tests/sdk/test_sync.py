"""The eight Conversations calls through the real sync `openai` client, over HTTP, in strict mode."""

import threading

import pytest
from django.db import connection
from openai import NotFoundError, OpenAI
from openai.types.conversations import ConversationDeletedResource, ConversationItemList

from tests.sdk.helpers import assert_conversation, assert_message, make_client, numbered_messages, texts

# --- conversations.create ------------------------------------------------------------------------


def test_create_with_no_arguments_returns_an_empty_conversation(sdk):
    conversation = sdk.conversations.create()

    assert_conversation(conversation, metadata={})
    assert list(sdk.conversations.items.list(conversation.id)) == []


def test_create_with_items_and_metadata_stores_both(sdk):
    conversation = sdk.conversations.create(
        items=[{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there"}],
        metadata={"user_id": "u1", "topic": "greeting"},
    )

    assert_conversation(conversation, metadata={"user_id": "u1", "topic": "greeting"})
    user, assistant = sdk.conversations.items.list(conversation.id, order="asc")
    assert_message(user, role="user", text="hello")
    assert_message(assistant, role="assistant", text="hi there")


def test_create_with_explicit_nulls_is_an_empty_conversation(sdk):
    conversation = sdk.conversations.create(items=None, metadata=None)

    assert_conversation(conversation, metadata={})
    assert list(sdk.conversations.items.list(conversation.id)) == []


# --- conversations.retrieve ----------------------------------------------------------------------


def test_retrieve_returns_the_stored_conversation(sdk):
    created = sdk.conversations.create(metadata={"k": "v"})

    retrieved = sdk.conversations.retrieve(created.id)

    assert_conversation(retrieved, metadata={"k": "v"})
    assert (retrieved.id, retrieved.created_at) == (created.id, created.created_at)
    assert retrieved._request_id != created._request_id


# --- conversations.update ------------------------------------------------------------------------


def test_update_replaces_the_whole_metadata_map(sdk):
    conversation = sdk.conversations.create(metadata={"a": "1", "b": "2"})

    updated = sdk.conversations.update(conversation.id, metadata={"b": "3", "c": "4"})

    assert_conversation(updated, metadata={"b": "3", "c": "4"})
    assert (updated.id, updated.created_at) == (conversation.id, conversation.created_at)
    assert sdk.conversations.retrieve(conversation.id).metadata == {"b": "3", "c": "4"}


def test_update_with_none_clears_the_metadata(sdk):
    conversation = sdk.conversations.create(metadata={"a": "1"})

    updated = sdk.conversations.update(conversation.id, metadata=None)

    assert_conversation(updated, metadata={})
    assert sdk.conversations.retrieve(conversation.id).metadata == {}


def test_update_with_an_empty_map_clears_the_metadata(sdk):
    conversation = sdk.conversations.create(metadata={"a": "1"})

    assert sdk.conversations.update(conversation.id, metadata={}).metadata == {}


# --- conversations.delete ------------------------------------------------------------------------


def test_delete_returns_a_deleted_resource_and_the_conversation_is_gone(sdk):
    conversation = sdk.conversations.create(items=[{"role": "user", "content": "bye"}])

    deleted = sdk.conversations.delete(conversation.id)

    assert isinstance(deleted, ConversationDeletedResource)
    assert (deleted.id, deleted.object, deleted.deleted) == (conversation.id, "conversation.deleted", True)
    assert deleted._request_id.startswith("req_")
    with pytest.raises(NotFoundError):
        sdk.conversations.retrieve(conversation.id)
    with pytest.raises(NotFoundError):
        sdk.conversations.items.list(conversation.id)
    with pytest.raises(NotFoundError):
        sdk.conversations.delete(conversation.id)


# --- conversations.items.create ------------------------------------------------------------------


def test_items_create_returns_the_new_items_in_input_order(sdk):
    conversation = sdk.conversations.create()

    created = sdk.conversations.items.create(
        conversation.id,
        items=[
            {"role": "user", "content": "first"},
            {"type": "message", "role": "assistant", "content": "second"},
            {"role": "developer", "content": "third"},
        ],
    )

    assert isinstance(created, ConversationItemList)
    assert created.object == "list"
    assert created.has_more is False
    assert len(created.data) == 3
    assert_message(created.data[0], role="user", text="first")
    assert_message(created.data[1], role="assistant", text="second")
    assert_message(created.data[2], role="developer", text="third")
    assert created.first_id == created.data[0].id
    assert created.last_id == created.data[-1].id
    assert len({item.id for item in created.data}) == 3
    assert created._request_id.startswith("req_")


def test_items_create_appends_after_the_existing_items(sdk):
    conversation = sdk.conversations.create(items=[{"role": "user", "content": "one"}])

    sdk.conversations.items.create(conversation.id, items=[{"role": "user", "content": "two"}])
    sdk.conversations.items.create(
        conversation.id, items=[{"role": "user", "content": "three"}, {"role": "user", "content": "four"}]
    )

    texts = [item.content[0].text for item in sdk.conversations.items.list(conversation.id, order="asc")]
    assert texts == ["one", "two", "three", "four"]


# --- conversations.items.retrieve ----------------------------------------------------------------


def test_items_retrieve_returns_the_bare_item(sdk):
    conversation = sdk.conversations.create()
    created = sdk.conversations.items.create(conversation.id, items=[{"role": "system", "content": "be nice"}])

    item = sdk.conversations.items.retrieve(created.first_id, conversation_id=conversation.id)

    assert_message(item, role="system", text="be nice")
    assert item == created.data[0]
    assert item._request_id.startswith("req_")


# --- conversations.items.list --------------------------------------------------------------------


def test_items_list_defaults_to_newest_first_in_one_page(sdk):
    conversation = sdk.conversations.create(items=[{"role": "user", "content": f"m{n}"} for n in range(5)])

    page = sdk.conversations.items.list(conversation.id)

    assert [item.content[0].text for item in page.data] == ["m4", "m3", "m2", "m1", "m0"]
    assert page.has_more is False
    assert page.last_id == page.data[-1].id
    assert page.first_id == page.data[0].id  # not a field of the page class: an allowed extra
    assert page.object == "list"
    assert page._request_id.startswith("req_")


def test_items_list_of_an_empty_conversation(sdk):
    conversation = sdk.conversations.create()

    page = sdk.conversations.items.list(conversation.id)

    assert page.data == []
    assert page.has_more is False
    assert page.last_id is None
    assert page.first_id is None
    assert list(page) == []


# --- conversations.items.delete ------------------------------------------------------------------


def test_items_delete_returns_the_parent_conversation(sdk):
    conversation = sdk.conversations.create(
        items=[{"role": "user", "content": "keep"}, {"role": "user", "content": "drop"}], metadata={"k": "v"}
    )
    keep, drop = sdk.conversations.items.list(conversation.id, order="asc")

    parent = sdk.conversations.items.delete(drop.id, conversation_id=conversation.id)

    assert_conversation(parent, metadata={"k": "v"})
    assert (parent.id, parent.created_at) == (conversation.id, conversation.created_at)
    assert [item.id for item in sdk.conversations.items.list(conversation.id)] == [keep.id]
    with pytest.raises(NotFoundError):
        sdk.conversations.items.retrieve(drop.id, conversation_id=conversation.id)
    with pytest.raises(NotFoundError):
        sdk.conversations.items.delete(drop.id, conversation_id=conversation.id)


def test_items_delete_then_append_keeps_the_timeline_in_order(sdk):
    conversation = sdk.conversations.create(items=[{"role": "user", "content": f"m{n}"} for n in range(3)])
    first, middle, last = sdk.conversations.items.list(conversation.id, order="asc")
    sdk.conversations.items.delete(middle.id, conversation_id=conversation.id)

    sdk.conversations.items.create(conversation.id, items=[{"role": "user", "content": "m3"}])

    texts = [item.content[0].text for item in sdk.conversations.items.list(conversation.id, order="asc")]
    assert texts == ["m0", "m2", "m3"]


# --- the wire, as the SDK sees it ------------------------------------------------------------------


def test_every_call_answers_200_json_with_a_request_id(sdk):
    """The raw responses behind the eight calls: 200 (never 201/204), JSON, an `x-request-id`."""
    conversations = sdk.conversations.with_raw_response
    items = sdk.conversations.items.with_raw_response

    created = conversations.create(items=[{"role": "user", "content": "x"}])
    conversation_id = created.parse().id
    responses = [created, conversations.retrieve(conversation_id), conversations.update(conversation_id, metadata={})]
    appended = items.create(conversation_id, items=[{"role": "user", "content": "y"}])
    item_id = appended.parse().first_id
    responses += [
        appended,
        items.retrieve(item_id, conversation_id=conversation_id),
        items.list(conversation_id, limit=1),
        items.delete(item_id, conversation_id=conversation_id),
        conversations.delete(conversation_id),
    ]

    for response in responses:
        assert response.status_code == 200, response.http_request.url
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["x-request-id"].startswith("req_")
        assert response.retries_taken == 0
    assert len({response.headers["x-request-id"] for response in responses}) == len(responses)


def test_a_stock_client_works_unchanged(base_url, secret):
    """`OpenAI(base_url=..., api_key=...)` exactly as a user writes it: default http client
    (keep-alive), default retries, organization and project headers that the server ignores."""
    with OpenAI(base_url=base_url, api_key=secret, organization="org_x", project="proj_x",
                _strict_response_validation=True) as sdk:
        conversation = sdk.conversations.create(items=numbered_messages(3), metadata={"via": "stock"})
        ids = [item.id for item in sdk.conversations.items.list(conversation.id, limit=2, order="asc")]
        parent = sdk.conversations.items.delete(ids[0], conversation_id=conversation.id)
        deleted = sdk.conversations.delete(conversation.id)

    assert len(ids) == 3
    assert parent.metadata == {"via": "stock"}
    assert deleted.deleted is True


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQLite test database is one shared connection")
def test_concurrent_clients_appending_to_one_conversation_lose_nothing(sdk, base_url, secret):
    """Appends are serialised per conversation: every batch lands whole, contiguous, exactly once."""
    conversation = sdk.conversations.create()
    failures = []

    def append(writer: int) -> None:
        with make_client(base_url, secret) as sdk:
            for batch in range(4):
                try:
                    sdk.conversations.items.create(
                        conversation.id,
                        items=[{"role": "user", "content": f"w{writer}b{batch}-{part}"} for part in "ab"],
                    )
                except Exception as exc:  # reported below, with the others
                    failures.append(repr(exc))

    threads = [threading.Thread(target=append, args=(writer,)) for writer in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    timeline = texts(sdk.conversations.items.list(conversation.id, order="asc", limit=100))
    assert len(timeline) == 5 * 4 * 2
    assert sorted(timeline) == sorted(f"w{w}b{b}-{p}" for w in range(5) for b in range(4) for p in "ab")
    pairs = [timeline[index : index + 2] for index in range(0, len(timeline), 2)]
    assert all(first[:-1] == second[:-1] for first, second in pairs), "a batch was interleaved"
    newest_first = texts(sdk.conversations.items.list(conversation.id, limit=7))
    assert newest_first == timeline[::-1]
