"""Every item type of tests/fixtures/item_examples.json, sent and read back through the real SDK.

Valid inputs must be stored and come back from items.create, items.list and items.retrieve as
the SDK's own model for their `type`, in strict mode, keeping every field that was sent (the
server adds only `id` and `status` when absent, and turns string message content into parts).
Invalid inputs must be a 400 that writes nothing.
"""

import typing

import pytest
from openai import BadRequestError
from openai.types.conversations import ConversationItem, ConversationItemList

from tests.conftest import ITEM_EXAMPLES, with_node_nulls
from tests.sdk.helpers import numbered_messages, texts

VALID = ITEM_EXAMPLES["valid_inputs"]
INVALID = ITEM_EXAMPLES["invalid_inputs"]
UNSUPPORTED = ITEM_EXAMPLES["unsupported_inputs"]


def _sdk_item_classes() -> dict[str, type]:
    """`type` -> the SDK's returned model, from the ConversationItem union itself."""
    union = typing.get_args(ConversationItem)[0]  # Annotated[Union[...], PropertyInfo(discriminator)]
    return {typing.get_args(cls.model_fields["type"].annotation)[0]: cls for cls in typing.get_args(union)}


SDK_ITEM_CLASSES = _sdk_item_classes()


def _type(example: dict) -> str:
    return example.get("type", "message")


def _batches(items: list, size: int = 20) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _normalised_content(role: str, text: str) -> list[dict]:
    if role == "assistant":
        return [{"type": "output_text", "text": text, "annotations": []}]
    return [{"type": "input_text", "text": text}]


def round_trip_problems(sent: dict, got) -> list[str]:
    """How `got` (a parsed SDK item) differs from what was `sent`; [] when it is faithful."""
    label = f"{_type(sent)} {sent.get('id', sent.get('role', ''))}"
    expected_class = SDK_ITEM_CLASSES[_type(sent)]
    if type(got) is not expected_class:
        return [f"{label}: parsed as {type(got).__name__}, expected {expected_class.__name__}"]
    returned = got.to_dict(mode="json")
    problems = []
    for key, value in with_node_nulls({"type": _type(sent), **sent}).items():
        if key == "content" and isinstance(value, str):
            value = _normalised_content(sent["role"], value)
        if returned.get(key, "<absent>") != value:
            problems.append(f"{label}: {key} sent {value!r}, got {returned.get(key, '<absent>')!r}")
    if returned.get("type") != _type(sent):
        problems.append(f"{label}: type {returned.get('type')!r}")
    if "id" not in sent:
        prefix = "msg_" if _type(sent) == "message" else ""
        if not (isinstance(got.id, str) and got.id.startswith(prefix) and len(got.id) > len(prefix)):
            problems.append(f"{label}: server-made id {got.id!r}")
    if "status" not in sent and "status" in expected_class.model_fields and returned.get("status") != "completed":
        problems.append(f"{label}: status {returned.get('status')!r}, expected the server to fill 'completed'")
    # Anything else the server added may only be a required-but-nullable field, filled with null.
    added = set(returned) - set(sent) - {"id", "status", "type"}
    problems += [f"{label}: unexpected {key}={returned[key]!r}" for key in sorted(added) if returned[key] is not None]
    return problems


def read_back_problems(sdk, conversation_id: str, sent: list[dict], created: list) -> list[str]:
    """Read the conversation back (items.list, then items.retrieve one by one) and compare."""
    listed = list(sdk.conversations.items.list(conversation_id, order="asc", limit=100))
    problems = []
    if [item.id for item in listed] != [item.id for item in created]:
        return [f"items.list ids {[i.id for i in listed]} != created {[i.id for i in created]}"]
    for example, from_create, from_list in zip(sent, created, listed, strict=True):
        problems += [f"items.list: {p}" for p in round_trip_problems(example, from_list)]
        retrieved = sdk.conversations.items.retrieve(from_create.id, conversation_id=conversation_id)
        problems += [f"items.retrieve: {p}" for p in round_trip_problems(example, retrieved)]
        if not from_create == from_list == retrieved:
            problems.append(f"{from_create.id}: create, list and retrieve disagree")
    return problems


def test_the_examples_cover_every_item_type_of_the_sdk():
    assert len(SDK_ITEM_CLASSES) == 29
    assert {_type(example) for example in VALID} == set(SDK_ITEM_CLASSES)


def test_every_valid_item_type_round_trips_through_items_create(sdk):
    conversation = sdk.conversations.create()
    created, problems = [], []

    for batch in _batches(VALID):
        result = sdk.conversations.items.create(conversation.id, items=batch)
        assert isinstance(result, ConversationItemList)
        assert (result.first_id, result.last_id, result.has_more) == (result.data[0].id, result.data[-1].id, False)
        assert len(result.data) == len(batch)
        for example, item in zip(batch, result.data, strict=True):
            problems += [f"items.create: {p}" for p in round_trip_problems(example, item)]
        created += result.data

    problems += read_back_problems(sdk, conversation.id, VALID, created)
    assert problems == []


def test_every_valid_item_type_round_trips_through_conversations_create(sdk):
    problems = []
    for batch in _batches(VALID):
        conversation = sdk.conversations.create(items=batch)
        created = sdk.conversations.items.list(conversation.id, order="asc", limit=100).data
        assert len(created) == len(batch)
        problems += read_back_problems(sdk, conversation.id, batch, created)
    assert problems == []


def test_every_invalid_item_is_a_400_that_writes_nothing(sdk):
    conversation = sdk.conversations.create(items=numbered_messages(1))
    accepted = []
    for example in INVALID + UNSUPPORTED:
        for call in ("create", "append"):
            try:
                if call == "create":
                    sdk.conversations.create(items=[{"role": "user", "content": "ok"}, example["item"]])
                else:
                    sdk.conversations.items.create(
                        conversation.id, items=[{"role": "user", "content": "ok"}, example["item"]]
                    )
            except BadRequestError as exc:
                if not (exc.param or "").startswith("items[1]") or exc.type != "invalid_request_error":
                    accepted.append(f"{call} {example['why']}: param {exc.param!r}, type {exc.type!r}")
            else:
                accepted.append(f"{call} {example['why']}: accepted")

    assert accepted == []
    assert texts(sdk.conversations.items.list(conversation.id)) == ["m0"]


@pytest.mark.parametrize("example", UNSUPPORTED, ids=lambda example: example["item"]["type"])
def test_unsupported_input_types_say_so(sdk, example):
    with pytest.raises(BadRequestError) as raised:
        sdk.conversations.create(items=[example["item"]])

    assert raised.value.param == "items[0].type"
    assert "not supported" in raised.value.body["message"]


# --- `include` (spec §5.6, §12): two fields are returned only when asked for ------------------------

ASSISTANT_WITH_LOGPROBS = {
    "type": "message",
    "id": "msg_logprobs",
    "role": "assistant",
    "status": "completed",
    "content": [
        {
            "type": "output_text",
            "text": "Hi",
            "annotations": [],
            "logprobs": [{"token": "Hi", "bytes": [72, 105], "logprob": -0.25, "top_logprobs": []}],
        }
    ],
}
REASONING_WITH_SECRET = {
    "type": "reasoning",
    "id": "rs_secret",
    "summary": [{"type": "summary_text", "text": "thinking"}],
    "encrypted_content": "opaque-blob",
}


def test_include_brings_back_logprobs_and_encrypted_content_only_when_asked(sdk):
    conversation = sdk.conversations.create()
    items = sdk.conversations.items
    include = ["message.output_text.logprobs", "reasoning.encrypted_content"]

    plain = items.create(conversation.id, items=[ASSISTANT_WITH_LOGPROBS, REASONING_WITH_SECRET])
    message, reasoning = plain.data
    assert message.content[0].logprobs is None
    assert reasoning.encrypted_content is None

    message = items.retrieve("msg_logprobs", conversation_id=conversation.id, include=include[:1])
    assert message.content[0].logprobs[0].token == "Hi"
    assert message.content[0].logprobs[0].logprob == -0.25
    reasoning = items.retrieve("rs_secret", conversation_id=conversation.id)
    assert reasoning.encrypted_content is None
    reasoning = items.retrieve("rs_secret", conversation_id=conversation.id, include=include[1:])
    assert reasoning.encrypted_content == "opaque-blob"

    listed = items.list(conversation.id, order="asc", include=include).data
    assert listed[0].content[0].logprobs[0].token == "Hi"
    assert listed[1].encrypted_content == "opaque-blob"
    assert [item.id for item in items.list(conversation.id, order="asc")] == ["msg_logprobs", "rs_secret"]


def test_include_on_items_create_applies_to_the_returned_items(sdk):
    conversation = sdk.conversations.create()

    created = sdk.conversations.items.create(
        conversation.id, items=[REASONING_WITH_SECRET], include=["reasoning.encrypted_content"]
    )

    assert created.data[0].encrypted_content == "opaque-blob"


def test_an_unknown_include_value_is_a_400(sdk):
    conversation = sdk.conversations.create(items=numbered_messages(1))
    item_id = sdk.conversations.items.list(conversation.id).data[0].id

    with pytest.raises(BadRequestError) as raised:
        sdk.conversations.items.retrieve(item_id, conversation_id=conversation.id, include=["everything"])

    assert raised.value.param == "include"


def test_an_item_reference_appends_a_copy_the_sdk_parses(sdk):
    source = sdk.conversations.create(items=[{"type": "message", "id": "msg_source", "role": "user", "content": "hi"}])
    target = sdk.conversations.create()
    created = sdk.conversations.items.create(target.id, items=[{"type": "item_reference", "id": "msg_source"}])
    copy = created.data[0]
    assert type(copy) is SDK_ITEM_CLASSES["message"]
    assert copy.id != "msg_source" and copy.content[0].text == "hi"
    assert [item.id for item in sdk.conversations.items.list(source.id)] == ["msg_source"]

    with pytest.raises(BadRequestError) as raised:
        sdk.conversations.items.create(target.id, items=[{"type": "item_reference", "id": "msg_nowhere"}])
    assert (raised.value.param, raised.value.code) == ("items[0].id", "not_found")
