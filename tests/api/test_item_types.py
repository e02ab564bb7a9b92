"""Every item shape of tests/fixtures/item_examples.json, through every endpoint that takes or returns items."""

import copy
import re

import pytest
from openai.types.conversations import ConversationItem
from pydantic import TypeAdapter

from conversations.models import Conversation, Item
from tests.conftest import ITEM_EXAMPLES, with_node_nulls
from tests.factories import make_conversation
from tests.helpers import row_counts

# Output types with no `status` field in the SDK's ConversationItem union (spec §5.2, "Status" column "–").
TYPES_WITHOUT_STATUS = {
    "additional_tools", "configuration_update", "program", "compaction", "mcp_list_tools", "mcp_approval_request",
    "mcp_approval_response", "custom_tool_call", "custom_tool_call_output",
}
SDK_ITEM = TypeAdapter(ConversationItem)


def example_ids(kind: str) -> list[str]:
    """Readable test ids: "7-function_call", "1-unknown-role"."""
    names = []
    for index, entry in enumerate(ITEM_EXAMPLES[kind]):
        if "why" in entry:
            names.append(f"{index}-{entry['why'].replace(' ', '-')}")
        else:
            names.append("-".join([str(index), entry.get("type", "no-type"), entry.get("role", "")]).rstrip("-"))
    return names


def each(kind: str):
    """Parametrize over the indexes of one list of the `item_examples` fixture."""
    return pytest.mark.parametrize("index", range(len(ITEM_EXAMPLES[kind])), ids=example_ids(kind))


def expected_item(sent: dict) -> dict:
    """What the server must return for `sent`: every field kept, the documented fields filled in."""
    expected = copy.deepcopy(sent)
    expected.setdefault("type", "message")
    if expected["type"] not in TYPES_WITHOUT_STATUS and expected.get("status") is None:
        expected["status"] = "completed"
    if isinstance(expected.get("content"), str):
        if expected["role"] == "assistant":
            expected["content"] = [{"type": "output_text", "text": expected["content"], "annotations": []}]
        else:
            expected["content"] = [{"type": "input_text", "text": expected["content"]}]
    return with_node_nulls(expected)


def assert_round_trip(returned: dict, sent: dict) -> None:
    expected = expected_item(sent)
    if "id" in sent:
        assert returned["id"] == sent["id"]
    elif expected["type"] == "message":
        assert re.fullmatch(r"msg_[0-9a-f]{48}", returned["id"])
    else:
        assert isinstance(returned["id"], str) and returned["id"]
    expected["id"] = returned["id"]
    assert returned == expected
    # The SDK parses it into the right class.
    assert SDK_ITEM.validate_python(returned).type == expected["type"]


def reads(api, conversation_id: str, item_id: str) -> list[dict]:
    """The item as items.retrieve and items.list return it."""
    retrieved = api.get(f"/v1/conversations/{conversation_id}/items/{item_id}")
    listed = api.get(f"/v1/conversations/{conversation_id}/items")
    assert retrieved.status_code == listed.status_code == 200
    assert [item["id"] for item in listed.json()["data"]] == [item_id]
    return [retrieved.json(), listed.json()["data"][0]]


@each("valid_inputs")
def test_a_valid_item_round_trips_through_conversations_create(api, item_examples, index):
    sent = item_examples["valid_inputs"][index]
    response = api.post("/v1/conversations", {"items": [sent]}, format="json")
    assert response.status_code == 200, response.json()
    conversation_id = response.json()["id"]
    item_id = Item.objects.get(conversation__public_id=conversation_id).public_id
    for returned in reads(api, conversation_id, item_id):
        assert_round_trip(returned, sent)


@each("valid_inputs")
def test_a_valid_item_round_trips_through_items_create(api, project, item_examples, index):
    sent = item_examples["valid_inputs"][index]
    conversation = make_conversation(project)
    response = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": [sent]}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    created = body["data"][0]
    assert body["first_id"] == body["last_id"] == created["id"]
    assert_round_trip(created, sent)
    for returned in reads(api, conversation.public_id, created["id"]):
        assert returned == created


def test_all_valid_items_fit_in_one_conversation_in_order(api, project, item_examples):
    conversation = make_conversation(project)
    valid = item_examples["valid_inputs"]
    sent_ids = []
    for start in range(0, len(valid), 20):
        response = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": valid[start:start + 20]},
                            format="json")
        assert response.status_code == 200
        sent_ids += [item["id"] for item in response.json()["data"]]
    listed = api.get(f"/v1/conversations/{conversation.public_id}/items?order=asc&limit=100").json()["data"]
    assert [item["id"] for item in listed] == sent_ids
    for returned, sent in zip(listed, valid, strict=True):
        assert_round_trip(returned, sent)


@each("invalid_inputs")
@pytest.mark.parametrize("endpoint", ["conversations.create", "items.create"])
def test_an_invalid_item_is_refused_with_nothing_written(api, project, item_examples, index, endpoint):
    entry = item_examples["invalid_inputs"][index]
    url = "/v1/conversations"
    if endpoint == "items.create":
        url = f"/v1/conversations/{make_conversation(project).public_id}/items"
    before = row_counts()
    response = api.post(url, {"items": [entry["item"]]}, format="json")
    assert response.status_code == 400, entry["why"]
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"].startswith("items[0]"), error
    assert row_counts() == before


@each("invalid_inputs")
def test_an_invalid_item_is_named_by_its_index_in_the_batch(api, project, item_examples, index):
    entry = item_examples["invalid_inputs"][index]
    conversation = make_conversation(project)
    items = [{"role": "user", "content": "fine"}, {"role": "user", "content": "fine too"}, entry["item"]]
    response = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": items}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["param"].startswith("items[2]")
    assert Item.objects.count() == 0


@each("unsupported_inputs")
@pytest.mark.parametrize("endpoint", ["conversations.create", "items.create"])
def test_an_unsupported_item_type_is_refused_with_400(api, project, item_examples, index, endpoint):
    entry = item_examples["unsupported_inputs"][index]
    conversation = make_conversation(project, items=[{"type": "message", "id": "msg_abc", "role": "user",
                                                      "content": "referenced"}])
    path = "/v1/conversations" if endpoint == "conversations.create" else (
        f"/v1/conversations/{conversation.public_id}/items")
    before = row_counts()
    response = api.post(path, {"items": [entry["item"]]}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "items[0].type")
    assert "not supported" in error["message"]
    assert row_counts() == before


@pytest.mark.parametrize("status", ["in_progress", "incomplete"])
def test_a_status_sent_by_the_client_is_kept(api, project, status):
    conversation = make_conversation(project)
    item = {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}", "status": status}
    created = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": [item]},
                       format="json").json()["data"][0]
    assert created["status"] == status
    assert api.get(f"/v1/conversations/{conversation.public_id}/items/{created['id']}").json()["status"] == status


def test_an_assistant_message_with_input_text_parts_is_refused(api, project):
    conversation = make_conversation(project)
    item = {"type": "message", "role": "assistant", "content": [{"type": "input_text", "text": "hi"}]}
    response = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": [item]}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("items[0].content[0].type", "invalid_value")


# --- include: two fields are returned only when asked for ------------------------------------------

REASONING = {"type": "reasoning", "id": "rs_secret", "summary": [{"type": "summary_text", "text": "s"}],
             "encrypted_content": "ENCRYPTED"}
LOGPROBS = [{"token": "hi", "logprob": -0.25, "bytes": [104, 105], "top_logprobs": []}]
ANSWER = {"type": "message", "id": "msg_answer", "role": "assistant", "status": "completed",
          "content": [{"type": "output_text", "text": "hi", "annotations": [], "logprobs": LOGPROBS}]}


def item_responses(api, conversation, item_id, query):
    base = f"/v1/conversations/{conversation.public_id}/items"
    return api.get(f"{base}/{item_id}{query}").json(), api.get(f"{base}{query}").json()["data"][0]


@pytest.mark.parametrize("query", ["", "?include[]=message.output_text.logprobs", "?include=file_search_call.results"])
def test_reasoning_encrypted_content_is_left_out_unless_included(api, project, query):
    conversation = make_conversation(project)
    created = api.post(f"/v1/conversations/{conversation.public_id}/items{query}", {"items": [REASONING]},
                       format="json").json()["data"][0]
    for returned in (created, *item_responses(api, conversation, "rs_secret", query)):
        assert "encrypted_content" not in returned
        assert returned["summary"] == REASONING["summary"]
    assert Item.objects.get(public_id="rs_secret").body["encrypted_content"] == "ENCRYPTED"


@pytest.mark.parametrize("name", ["include[]", "include"])
def test_reasoning_encrypted_content_is_returned_when_included(api, project, name):
    conversation = make_conversation(project)
    query = f"?{name}=reasoning.encrypted_content"
    created = api.post(f"/v1/conversations/{conversation.public_id}/items{query}", {"items": [REASONING]},
                       format="json").json()["data"][0]
    for returned in (created, *item_responses(api, conversation, "rs_secret", query)):
        assert returned["encrypted_content"] == "ENCRYPTED"


def test_reasoning_given_through_conversations_create_keeps_its_encrypted_content(api):
    conversation_id = api.post("/v1/conversations", {"items": [REASONING]}, format="json").json()["id"]
    conversation = Conversation.objects.get(public_id=conversation_id)
    assert "encrypted_content" not in item_responses(api, conversation, "rs_secret", "")[0]
    for returned in item_responses(api, conversation, "rs_secret", "?include[]=reasoning.encrypted_content"):
        assert returned["encrypted_content"] == "ENCRYPTED"


@pytest.mark.parametrize("query", ["", "?include[]=reasoning.encrypted_content"])
def test_output_text_logprobs_are_left_out_unless_included(api, project, query):
    conversation = make_conversation(project)
    created = api.post(f"/v1/conversations/{conversation.public_id}/items{query}", {"items": [ANSWER]},
                       format="json").json()["data"][0]
    for returned in (created, *item_responses(api, conversation, "msg_answer", query)):
        assert returned["content"] == [{"type": "output_text", "text": "hi", "annotations": []}]


@pytest.mark.parametrize("name", ["include[]", "include"])
def test_output_text_logprobs_are_returned_when_included(api, project, name):
    conversation = make_conversation(project)
    query = f"?{name}=message.output_text.logprobs"
    created = api.post(f"/v1/conversations/{conversation.public_id}/items{query}", {"items": [ANSWER]},
                       format="json").json()["data"][0]
    for returned in (created, *item_responses(api, conversation, "msg_answer", query)):
        assert returned == ANSWER


def test_compaction_encrypted_content_is_always_returned(api, project):
    conversation = make_conversation(project)
    item = {"type": "compaction", "id": "cmp_x", "encrypted_content": "OPAQUE"}
    created = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": [item]},
                       format="json").json()["data"][0]
    assert created["encrypted_content"] == "OPAQUE"
    for returned in item_responses(api, conversation, "cmp_x", ""):
        assert returned["encrypted_content"] == "OPAQUE"


# --- optional fields the SDKs allow to leave out ------------------------------------------------


@pytest.mark.parametrize("item", [
    {"type": "tool_search_call", "arguments": {"query": "weather"}},
    {"type": "tool_search_output", "tools": []},
], ids=["tool_search_call", "tool_search_output"])
def test_a_tool_search_item_without_execution_is_stored_as_server_executed(api, project, item):
    conversation = make_conversation(project)
    response = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": [item]}, format="json")
    assert response.status_code == 200, response.json()
    created = response.json()["data"][0]
    assert (created["execution"], created["call_id"], created["status"]) == ("server", None, "completed")
    assert SDK_ITEM.validate_python(created).type == item["type"]


def test_a_shell_call_returns_the_fields_the_node_sdk_requires_as_null(api, project):
    conversation = make_conversation(project)
    items = [
        {"type": "shell_call", "call_id": "call_1", "action": {"commands": ["ls"]}},
        {"type": "shell_call_output", "call_id": "call_1",
         "output": [{"stdout": "a", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}]},
    ]
    created = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": items},
                       format="json").json()["data"]
    call, output = created
    assert call["environment"] is None
    assert call["action"] == {"commands": ["ls"], "max_output_length": None, "timeout_ms": None}
    assert output["max_output_length"] is None
    for item in created:
        assert reads_one(api, conversation.public_id, item["id"]) == item


def test_a_shell_call_stored_before_the_null_fields_were_filled_is_returned_with_them(api, project):
    conversation = make_conversation(project, items=[{"type": "shell_call", "id": "sh_old", "call_id": "call_1",
                                                      "action": {"commands": ["ls"], "timeout_ms": 5}}])
    Item.objects.filter(public_id="sh_old").update(body={
        "type": "shell_call", "id": "sh_old", "call_id": "call_1", "status": "completed",
        "action": {"commands": ["ls"], "timeout_ms": 5},
    })
    returned = reads_one(api, conversation.public_id, "sh_old")
    assert returned["environment"] is None
    assert returned["action"] == {"commands": ["ls"], "max_output_length": None, "timeout_ms": 5}


def reads_one(api, conversation_id: str, item_id: str) -> dict:
    retrieved = api.get(f"/v1/conversations/{conversation_id}/items/{item_id}").json()
    listed = api.get(f"/v1/conversations/{conversation_id}/items?limit=100").json()["data"]
    assert [item for item in listed if item["id"] == item_id] == [retrieved]
    return retrieved
