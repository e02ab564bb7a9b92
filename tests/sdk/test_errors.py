"""The SDK's exception classes, raised from the server's OpenAI-shaped errors (spec §6, §12).

Each error must arrive as `{"error": {message, type, param, code}}` with an `x-request-id`,
so that `exc.param`, `exc.code`, `exc.type` and `exc.request_id` are filled, and with a
status the SDK does not retry (a 400/401/404 must reach the server exactly once).
"""

from unittest.mock import ANY

import openai
import pytest
from openai import APIStatusError, AuthenticationError, BadRequestError, NotFoundError

from conversations import services
from conversations.models import Conversation, Item
from tests.factories import make_api_key
from tests.sdk.helpers import (
    assert_openai_error,
    conversation_calls,
    every_call,
    make_client,
    numbered_messages,
    texts,
)


@pytest.fixture
def conversation(sdk):
    """A conversation of project "acme" with two messages; returns (conversation id, first item id)."""
    created = sdk.conversations.create(items=numbered_messages(2), metadata={"owner": "acme"})
    first = sdk.conversations.items.list(created.id, order="asc").data[0]
    return created.id, first.id


# --- BadRequestError (400) --------------------------------------------------------------------------


def test_21_items_in_conversations_create_is_a_bad_request_and_writes_nothing(sdk):
    with pytest.raises(BadRequestError) as raised:
        sdk.conversations.create(items=numbered_messages(21))

    assert_openai_error(raised.value, status=400, param="items", code="array_above_max_length")
    assert "21" in raised.value.body["message"]
    assert Conversation.objects.count() == 0
    assert Item.objects.count() == 0


def test_21_items_in_items_create_is_a_bad_request_and_writes_nothing(sdk, conversation):
    conversation_id, _ = conversation

    with pytest.raises(BadRequestError) as raised:
        sdk.conversations.items.create(conversation_id, items=numbered_messages(21))

    assert_openai_error(raised.value, status=400, param="items", code="array_above_max_length")
    assert texts(sdk.conversations.items.list(conversation_id, order="asc")) == ["m0", "m1"]


def test_20_items_is_the_most_one_request_may_carry(sdk, conversation):
    conversation_id, _ = conversation

    created = sdk.conversations.items.create(conversation_id, items=numbered_messages(20))

    assert len(created.data) == 20
    fresh = sdk.conversations.create(items=numbered_messages(20))
    assert len(sdk.conversations.items.list(fresh.id, limit=100).data) == 20


def test_an_empty_items_list_in_items_create_is_a_bad_request(sdk, conversation):
    conversation_id, _ = conversation

    with pytest.raises(BadRequestError) as raised:
        sdk.conversations.items.create(conversation_id, items=[])

    assert raised.value.status_code == 400
    assert raised.value.param == "items"


def test_a_bad_item_names_its_position_and_the_batch_is_all_or_nothing(sdk, conversation):
    conversation_id, _ = conversation
    batch = [{"role": "user", "content": "fine"}, {"role": "wizard", "content": "bad"}]

    with pytest.raises(BadRequestError) as raised:
        sdk.conversations.items.create(conversation_id, items=batch)

    assert_openai_error(raised.value, status=400, param="items[1].role", code=ANY)
    assert texts(sdk.conversations.items.list(conversation_id, order="asc")) == ["m0", "m1"]


def test_a_duplicate_client_item_id_is_a_400_not_a_retried_409(counting_sdk, requests_log):
    item = {"type": "function_call", "id": "fc_dup", "call_id": "call_1", "name": "f", "arguments": "{}"}
    conversation = counting_sdk.conversations.create(items=[item])
    requests_log.clear()

    with pytest.raises(BadRequestError) as raised:
        counting_sdk.conversations.items.create(conversation.id, items=[item])

    assert raised.value.param == "items[0].id"
    assert len(requests_log) == 1
    assert [i.id for i in counting_sdk.conversations.items.list(conversation.id)] == ["fc_dup"]


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param({f"k{n}": "v" for n in range(17)}, id="17-pairs"),
        pytest.param({"k" * 65: "v"}, id="key-65-chars"),
        pytest.param({"k": "v" * 513}, id="value-513-chars"),
        pytest.param({"k": 1}, id="number-value"),
        pytest.param({"k": None}, id="null-value"),
        pytest.param({"": "v"}, id="empty-key"),
        pytest.param(["k", "v"], id="not-an-object"),
    ],
)
def test_bad_metadata_is_a_bad_request_on_create_and_update(sdk, metadata):
    with pytest.raises(BadRequestError) as created:
        sdk.conversations.create(metadata=metadata)
    conversation = sdk.conversations.create(metadata={"keep": "me"})
    with pytest.raises(BadRequestError) as updated:
        sdk.conversations.update(conversation.id, metadata=metadata)

    for raised in (created, updated):
        assert raised.value.status_code == 400
        assert raised.value.param == "metadata"
        assert raised.value.type == "invalid_request_error"
    assert sdk.conversations.retrieve(conversation.id).metadata == {"keep": "me"}


def test_metadata_at_the_limits_is_accepted(sdk):
    metadata = {f"{n:02d}" + "k" * 62: "v" * 512 for n in range(16)}

    conversation = sdk.conversations.create(metadata=metadata)

    assert conversation.metadata == metadata


def test_an_invalid_item_is_a_400_that_the_sdk_does_not_retry(counting_sdk, requests_log):
    """Retries are on (max_retries=2), yet exactly one request is sent and nothing is written."""
    with pytest.raises(BadRequestError) as raised:
        counting_sdk.conversations.create(items=[{"role": "user", "content": 42}])

    assert_openai_error(raised.value, status=400, param="items[0].content", code=ANY)
    assert [(r.method, r.path, r.retry_count) for r in requests_log] == [("POST", "/v1/conversations", "0")]
    assert raised.value.response.headers.get("x-should-retry") in (None, "false")
    assert Conversation.objects.count() == 0


def test_an_invalid_item_appended_is_a_400_sent_once_and_nothing_is_written(counting_sdk, requests_log):
    conversation = counting_sdk.conversations.create()
    requests_log.clear()

    with pytest.raises(BadRequestError) as raised:
        counting_sdk.conversations.items.create(
            conversation.id, items=[{"type": "function_call", "name": "f"}]
        )

    assert raised.value.status_code == 400
    assert raised.value.param.startswith("items[0]")
    assert [(r.method, r.retry_count) for r in requests_log] == [("POST", "0")]
    assert list(counting_sdk.conversations.items.list(conversation.id)) == []


def test_a_body_over_the_size_limit_is_a_413_sent_once(settings, counting_sdk, requests_log):
    settings.CONVOSCOPE_MAX_BODY_BYTES = 1_000

    with pytest.raises(APIStatusError) as raised:
        counting_sdk.conversations.create(items=[{"role": "user", "content": "x" * 2_000}])

    assert raised.value.status_code == 413
    assert raised.value.code == "request_too_large"
    assert raised.value.request_id.startswith("req_")
    assert len(requests_log) == 1
    assert Conversation.objects.count() == 0


NUL = "before\x00after"


@pytest.mark.parametrize("where", ["conversations.create items", "conversations.update metadata", "items.create"])
def test_a_nul_character_is_refused_with_a_400_naming_the_field_on_both_databases(sdk, where):
    conversation = sdk.conversations.create()
    with pytest.raises(BadRequestError) as raised:
        if where == "conversations.create items":
            sdk.conversations.create(items=[{"role": "user", "content": NUL}])
        elif where == "conversations.update metadata":
            sdk.conversations.update(conversation.id, metadata={"k": NUL})
        else:
            sdk.conversations.items.create(
                conversation.id, items=[{"type": "function_call_output", "call_id": "call_1", "output": NUL}]
            )
    assert raised.value.param.split("[")[0].split(".")[0] in ("items", "metadata")
    assert sdk.conversations.retrieve(conversation.id).metadata == {}
    assert sdk.conversations.items.list(conversation.id).data == []


# --- AuthenticationError (401) ----------------------------------------------------------------------


def test_a_wrong_api_key_is_refused_on_every_call(base_url, conversation):
    conversation_id, item_id = conversation
    with make_client(base_url, "cvs_this-is-not-a-key") as intruder:
        for name, call in every_call(intruder, conversation_id, item_id).items():
            with pytest.raises(AuthenticationError) as raised:
                call()
            assert_openai_error(raised.value, status=401, param=None, code="invalid_api_key", where=name)
            assert "cvs_this-is-not-a-key" not in raised.value.body["message"], "the whole key is echoed back"
    assert Conversation.objects.count() == 1


def test_a_missing_api_key_is_refused(sdk):
    with pytest.raises(AuthenticationError) as raised:
        sdk.conversations.create(extra_headers={"Authorization": openai.omit})

    assert_openai_error(raised.value, status=401, param=None, code="invalid_api_key")
    assert Conversation.objects.count() == 0


def test_a_non_bearer_authorization_header_is_refused(sdk, secret):
    with pytest.raises(AuthenticationError) as raised:
        sdk.conversations.create(extra_headers={"Authorization": f"Basic {secret}"})

    assert_openai_error(raised.value, status=401, param=None, code="invalid_api_key")


def test_a_revoked_key_stops_working_at_once(base_url, sdk_project):
    key, secret = make_api_key(sdk_project, name="soon revoked")
    with make_client(base_url, secret) as sdk:
        conversation = sdk.conversations.create()

        services.apikey_revoke(prefix=key.prefix, actor=services.SYSTEM)

        with pytest.raises(AuthenticationError) as raised:
            sdk.conversations.retrieve(conversation.id)
    assert_openai_error(raised.value, status=401, param=None, code="invalid_api_key")


# --- NotFoundError (404) ----------------------------------------------------------------------------


def test_an_unknown_conversation_is_not_found_on_every_call(counting_sdk, requests_log):
    missing = "conv_" + "0" * 48
    for name, call in conversation_calls(counting_sdk, missing, "msg_" + "0" * 48).items():
        with pytest.raises(NotFoundError) as raised:
            call()
        assert_openai_error(raised.value, status=404, param="conversation_id", code="not_found", where=name)
        assert missing in raised.value.body["message"], name
    assert len(requests_log) == 7, "a 404 must not be retried"


@pytest.mark.parametrize("call", ["retrieve", "delete"])
def test_an_unknown_item_is_not_found(sdk, conversation, call):
    conversation_id, _ = conversation
    missing = "msg_" + "f" * 48

    with pytest.raises(NotFoundError) as raised:
        getattr(sdk.conversations.items, call)(missing, conversation_id=conversation_id)

    assert_openai_error(raised.value, status=404, param="item_id", code="not_found")
    assert missing in raised.value.body["message"]


def test_an_item_id_of_another_conversation_is_not_found(sdk, conversation):
    conversation_id, _ = conversation
    other = sdk.conversations.create(items=[{"role": "user", "content": "elsewhere"}])
    other_item = sdk.conversations.items.list(other.id).data[0]

    with pytest.raises(NotFoundError) as raised:
        sdk.conversations.items.retrieve(other_item.id, conversation_id=conversation_id)

    assert raised.value.param == "item_id"


def test_another_projects_conversation_is_not_found_on_every_call(sdk, other_sdk, conversation):
    """Tenancy: to project "globex", project "acme"'s conversation looks exactly like a missing one."""
    conversation_id, item_id = conversation
    for name, call in conversation_calls(other_sdk, conversation_id, item_id).items():
        with pytest.raises(NotFoundError) as raised:
            call()
        assert_openai_error(raised.value, status=404, param="conversation_id", code="not_found", where=name)

    # ...and nothing the intruder tried changed anything.
    assert sdk.conversations.retrieve(conversation_id).metadata == {"owner": "acme"}
    assert texts(sdk.conversations.items.list(conversation_id, order="asc")) == ["m0", "m1"]
    assert sdk.conversations.items.retrieve(item_id, conversation_id=conversation_id).id == item_id


def test_a_deleted_conversation_is_not_found_and_its_items_are_gone(sdk, conversation):
    conversation_id, item_id = conversation
    sdk.conversations.delete(conversation_id)

    for name, call in conversation_calls(sdk, conversation_id, item_id).items():
        with pytest.raises(NotFoundError) as raised:
            call()
        assert raised.value.param == "conversation_id", name
    assert Item.objects.count() == 0  # spec §12: deleting removes the items for good


# --- unknown parameters (spec §12): refused, while everything the SDK itself sends is accepted ------


def test_every_parameter_the_sdk_sends_is_accepted(counting_sdk, requests_log):
    sdk = counting_sdk
    include = ["reasoning.encrypted_content", "message.output_text.logprobs"]
    conversation = sdk.conversations.create(items=numbered_messages(5), metadata={"a": "b"})
    sdk.conversations.retrieve(conversation.id)
    sdk.conversations.update(conversation.id, metadata={"a": "c"})
    created = sdk.conversations.items.create(conversation.id, items=numbered_messages(1, start=5), include=include)
    listed = list(sdk.conversations.items.list(conversation.id, limit=2, order="asc", include=include))
    sdk.conversations.items.list(conversation.id, after=listed[0].id, limit=100, order="desc", include=include)
    sdk.conversations.items.retrieve(created.data[0].id, conversation_id=conversation.id, include=include)
    sdk.conversations.items.delete(created.data[0].id, conversation_id=conversation.id)
    sdk.conversations.delete(conversation.id)

    assert texts(listed) == ["m0", "m1", "m2", "m3", "m4", "m5"]
    sent = {name for request in requests_log for name in request.params}
    assert sent == {"include[]", "limit", "order", "after"}
    assert all(request.retry_count == "0" for request in requests_log)  # nothing failed, nothing retried


@pytest.mark.parametrize(("call", "param"), [
    ("create", "metdata"),
    ("create_item_field", "items[0].colour"),
    ("update", "metdata"),
    ("list_query", "limt"),
])
def test_an_unknown_parameter_is_a_bad_request_naming_it(sdk, conversation, call, param):
    conversation_id, _ = conversation
    calls = {
        "create": lambda: sdk.conversations.create(extra_body={"metdata": {"a": "b"}}),
        "create_item_field": lambda: sdk.conversations.create(items=[{"role": "user", "content": "x",
                                                                      "colour": "red"}]),
        "update": lambda: sdk.conversations.update(conversation_id, metadata={"a": "b"},
                                                   extra_body={"metdata": {}}),
        "list_query": lambda: sdk.conversations.items.list(conversation_id, extra_query={"limt": 5}),
    }
    with pytest.raises(BadRequestError) as raised:
        calls[call]()
    assert_openai_error(raised.value, status=400, param=param, code="unknown_parameter")
    assert Conversation.objects.count() == 1
    assert sdk.conversations.retrieve(conversation_id).metadata == {"owner": "acme"}
