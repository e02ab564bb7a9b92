import typing

import pytest
from openai.types.responses import response_input_item_param

from conversations import item_rules, projection, search_text, validators
from conversations.errors import InvalidInput
from tests.conftest import ITEM_EXAMPLES, with_node_nulls


def error_of(item) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        item_rules.normalize_item(item, param="items[0]")
    return info.value


# --- items ---


def test_the_sdk_union_and_the_examples_cover_the_same_29_types():
    """Walks the SDK's output union: an openai upgrade that adds a type fails here until handled."""
    output_types = set(item_rules.output_models())
    assert len(output_types) == 29
    example_types = {item.get("type", "message") for item in ITEM_EXAMPLES["valid_inputs"]}
    assert example_types == output_types
    input_members = typing.get_args(response_input_item_param.ResponseInputItemParam)
    # Every input member is either a storable type or one we refuse on purpose.
    input_types = set()
    for member in input_members:
        literal = typing.get_type_hints(member)["type"]
        while typing.get_origin(literal) is not typing.Literal:
            literal = typing.get_args(literal)[0]
        input_types.add(typing.get_args(literal)[0])
    assert input_types == output_types | set(item_rules.UNSUPPORTED_ITEM_TYPES)


@pytest.mark.parametrize("item", ITEM_EXAMPLES["valid_inputs"], ids=lambda i: i.get("type", "bare-message"))
def test_every_valid_example_is_accepted_and_keeps_what_was_sent(item):
    normalized = item_rules.normalize_item(item, param="items[0]")
    body = normalized.body
    for key, value in with_node_nulls({"type": "message", **item}).items():
        if key == "content" and isinstance(value, str):
            continue
        assert body[key] == value
    assert body["type"] == item.get("type", "message")
    assert body["id"] == item.get("id", body["id"])
    assert normalized.public_id == body["id"]
    model = item_rules.output_models()[body["type"]]
    model.model_validate(body)  # what the SDK does in strict mode


@pytest.mark.parametrize("case", ITEM_EXAMPLES["invalid_inputs"] + ITEM_EXAMPLES["unsupported_inputs"],
                         ids=lambda c: c["why"])
def test_every_invalid_example_is_refused_with_a_param(case):
    error = error_of(case["item"])
    assert error.param.startswith("items[0]")


def test_an_item_reference_is_refused_where_nothing_resolves_it():
    """Import and mirror bring whole timelines; only the API resolves references (services)."""
    error = error_of({"type": "item_reference", "id": "msg_abc"})
    assert (error.param, error.code) == ("items[0].type", "unsupported_value")


def test_string_content_becomes_input_text_for_users():
    body = item_rules.normalize_item({"role": "user", "content": "hi"}, param="items[0]").body
    assert body["content"] == [{"type": "input_text", "text": "hi"}]
    assert body["status"] == "completed"
    assert body["id"].startswith("msg_")


def test_string_content_becomes_output_text_for_the_assistant():
    body = item_rules.normalize_item({"role": "assistant", "content": "hello"}, param="items[0]").body
    assert body["content"] == [{"type": "output_text", "text": "hello", "annotations": []}]


def test_an_assistant_message_may_not_carry_input_parts():
    error = error_of({"role": "assistant", "content": [{"type": "input_text", "text": "x"}]})
    assert error.param == "items[0].content[0].type"
    assert "'output_text' and 'refusal'" in error.message


def test_errors_point_at_the_exact_field():
    assert error_of({"role": "user", "content": [{"type": "input_text"}]}).param == "items[0].content[0].text"
    unknown_part = error_of({"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "video"}]})
    assert unknown_part.param == "items[0].content[1].type"
    assert "'input_text', 'input_image', 'input_file'" in unknown_part.message
    wrong_type = error_of({"role": "user", "content": 42})
    assert (wrong_type.param, wrong_type.code) == ("items[0].content", "invalid_type")
    assert "a string or an array" in wrong_type.message


def test_a_bad_status_is_refused():
    assert error_of({"role": "user", "content": "x", "status": "weird"}).param == "items[0].status"


def test_a_client_id_must_be_url_safe():
    assert error_of({"role": "user", "content": "x", "id": "has space"}).param == "items[0].id"
    assert error_of({"role": "user", "content": "x", "id": "a" * 129}).param == "items[0].id"
    longest = {"role": "user", "content": "x", "id": "a" * 128}
    assert item_rules.normalize_item(longest, param="p").public_id == "a" * 128


def test_text_longer_than_10_mib_is_refused():
    text = "x" * (item_rules.DEFAULT_STRING_CAP + 1)
    error = error_of({"role": "user", "content": [{"type": "input_text", "text": text}]})
    assert (error.param, error.code) == ("items[0].content[0].text", "string_above_max_length")


def test_output_call_ids_are_at_most_64_characters():
    ok = {"type": "function_call_output", "call_id": "c" * 64, "output": "x"}
    item_rules.normalize_item(ok, param="items[0]")
    assert error_of({**ok, "call_id": "c" * 65}).param == "items[0].call_id"


def test_a_batch_is_at_most_20_items_and_ids_are_unique_within_it():
    item_rules.validate_items([{"role": "user", "content": "x"}] * 20)
    with pytest.raises(InvalidInput) as info:
        item_rules.validate_items([{"role": "user", "content": "x"}] * 21)
    assert (info.value.param, info.value.code) == ("items", "array_above_max_length")
    with pytest.raises(InvalidInput) as info:
        item_rules.validate_items([{"role": "user", "content": "x", "id": "same"}] * 2)
    assert info.value.param == "items[1].id"


def test_search_text_collects_readable_strings_only():
    body = item_rules.normalize_item(
        {"role": "user", "content": [
            {"type": "input_text", "text": "where is my parcel"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
        ]},
        param="items[0]",
    ).body
    text = search_text.extract_text(body)
    assert "where is my parcel" in text
    assert "base64" not in text
    call = {"type": "function_call", "call_id": "call_1", "name": "lookup_order", "arguments": '{"id": 7}'}
    assert "lookup_order" in item_rules.normalize_item(call, param="p").text


def test_include_controls_encrypted_content_and_logprobs():
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "secret"}
    assert "encrypted_content" not in projection.item_for_output(reasoning, frozenset())
    assert projection.item_for_output(reasoning, frozenset({"reasoning.encrypted_content"})) == reasoning
    message = {"type": "message", "content": [{"type": "output_text", "text": "x", "annotations": [], "logprobs": []}]}
    assert "logprobs" not in projection.item_for_output(message, frozenset())["content"][0]
    assert "logprobs" in message["content"][0]  # the stored body is not modified


# --- metadata and paging parameters ---


def test_metadata_limits_hold_at_their_exact_boundaries():
    validators.validate_metadata({f"k{i}": "v" for i in range(16)})
    validators.validate_metadata({"k" * 64: "v" * 512})
    for bad in ({f"k{i}": "v" for i in range(17)}, {"k" * 65: "v"}, {"k": "v" * 513}, {"k": 1}, {"": "v"}, ["k"]):
        with pytest.raises(InvalidInput) as info:
            validators.validate_metadata(bad)
        assert info.value.param == "metadata"


def test_null_metadata_is_empty():
    assert validators.validate_metadata(None) == {}


@pytest.mark.parametrize("raw,expected", [(None, 20), ("1", 1), ("100", 100)])
def test_limits_in_range_are_accepted(raw, expected):
    assert validators.validate_limit(raw) == expected


@pytest.mark.parametrize("raw", ["0", "101", "-1", "ten", "1.5"])
def test_limits_out_of_range_are_refused(raw):
    with pytest.raises(InvalidInput) as info:
        validators.validate_limit(raw)
    assert info.value.param == "limit"


def test_order_and_include_are_checked():
    assert validators.validate_order(None) == "desc"
    with pytest.raises(InvalidInput):
        validators.validate_order("sideways")
    with pytest.raises(InvalidInput) as info:
        validators.validate_include(["nope"])
    assert info.value.param == "include"


# --- project names ---


def test_a_project_name_loses_its_surrounding_spaces():
    assert validators.validate_project_name("  acme ") == "acme"


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "a\x00b", "bad \udcff byte", None])
def test_it_refuses_a_project_name_no_project_can_have(name):
    with pytest.raises(InvalidInput) as info:
        validators.validate_project_name(name)
    assert info.value.param == "project"
