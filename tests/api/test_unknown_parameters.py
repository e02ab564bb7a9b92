"""Unknown body parameters, item fields and query parameters are refused, never dropped (spec §12).

OpenAI answers 400 `unknown_parameter` with `param` naming the offending key; so does Convoscope.
The SDKs' own parameters (`include[]`, `after`, `limit`, `order`) are accepted (tests/sdk
checks with the real Python and Node clients).
"""

import pytest

from conversations.models import Item
from tests.factories import make_conversation
from tests.helpers import row_counts


def assert_unknown(response, param: str) -> None:
    assert response.status_code == 400, response.json()
    assert response.json() == {"error": {
        "message": f"Unknown parameter: '{param}'.", "type": "invalid_request_error", "param": param,
        "code": "unknown_parameter",
    }}


# --- body parameters -------------------------------------------------------------------------


def test_a_misspelt_metadata_on_conversations_create_is_refused_and_nothing_is_created(api):
    before = row_counts()
    response = api.post("/v1/conversations", {"metdata": {"topic": "demo"}}, format="json")
    assert_unknown(response, "metdata")
    assert row_counts() == before


def test_a_misspelt_metadata_on_conversations_update_leaves_the_metadata_alone(api, project):
    conversation = make_conversation(project, metadata={"topic": "demo"})
    response = api.post(f"/v1/conversations/{conversation.public_id}",
                        {"metadata": {"topic": "new"}, "metdata": {}}, format="json")
    assert_unknown(response, "metdata")
    conversation.refresh_from_db()
    assert conversation.metadata == {"topic": "demo"}


def test_an_unknown_body_parameter_on_items_create_is_refused(api, project):
    conversation = make_conversation(project)
    before = row_counts()
    response = api.post(f"/v1/conversations/{conversation.public_id}/items",
                        {"items": [{"role": "user", "content": "hi"}], "include": ["x"]}, format="json")
    assert_unknown(response, "include")
    assert row_counts() == before


# --- item fields -----------------------------------------------------------------------------

MESSAGE = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}


@pytest.mark.parametrize(("item", "param"), [
    ({"role": "user", "content": "hi", "colour": "red"}, "items[0].colour"),
    ({**MESSAGE, "content": [{"type": "input_text", "text": "hi"}, {"type": "input_text", "text": "b", "colour": 1}]},
     "items[0].content[1].colour"),
    # `annotations` belongs to output_text parts, not input_text ones.
    ({**MESSAGE, "content": [{"type": "input_text", "text": "hi", "annotations": []}]},
     "items[0].content[0].annotations"),
    ({"type": "message", "role": "assistant", "content": [
        {"type": "output_text", "text": "hi", "annotations": [{"type": "url_citation", "url": "https://x",
                                                               "title": "x", "start_index": 0, "end_index": 1,
                                                               "colour": "red"}]}]},
     "items[0].content[0].annotations[0].colour"),
    ({"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}", "colour": "red"}, "items[0].colour"),
    ({"type": "shell_call", "call_id": "c", "action": {"commands": ["ls"], "colour": "red"}},
     "items[0].action.colour"),
    # An object whose model has no `type` field cannot carry one either.
    ({"type": "shell_call", "call_id": "c", "action": {"commands": ["ls"], "type": "exec"}},
     "items[0].action.type"),
    ({"type": "reasoning", "summary": [{"type": "summary_text", "text": "s", "colour": "red"}]},
     "items[0].summary[0].colour"),
])
def test_an_unknown_item_field_is_refused_with_its_path(api, project, item, param):
    conversation = make_conversation(project)
    before = row_counts()
    for path in ("/v1/conversations", f"/v1/conversations/{conversation.public_id}/items"):
        assert_unknown(api.post(path, {"items": [item]}, format="json"), param)
    assert row_counts() == before


def test_an_unknown_item_field_is_named_by_its_index_in_the_batch(api, project):
    conversation = make_conversation(project)
    items = [{"role": "user", "content": "fine"}, {"role": "user", "content": "also", "colour": "red"}]
    response = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": items}, format="json")
    assert_unknown(response, "items[1].colour")
    assert Item.objects.count() == 0


def test_fields_of_the_returned_item_models_are_accepted(api, project):
    """A mirror sends items as another server returned them: `id`, `status`, `created_by`."""
    conversation = make_conversation(project)
    items = [
        {"type": "function_call", "id": "fc_1", "call_id": "c", "name": "f", "arguments": "{}",
         "status": "completed", "created_by": "someone"},
        {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "hi", "annotations": []}]},
    ]
    response = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": items}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["data"][0]["created_by"] == "someone"


def test_free_form_objects_keep_any_key(api, project):
    """`arguments` of a tool search and a local shell's `env` are free-form: nothing there is unknown."""
    conversation = make_conversation(project)
    items = [
        {"type": "tool_search_call", "arguments": {"colour": "red"}, "execution": "client", "call_id": None},
        {"type": "local_shell_call", "id": "lsh_1", "call_id": "c", "status": "completed",
         "action": {"type": "exec", "command": ["ls"], "env": {"COLOUR": "red"}}},
    ]
    response = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": items}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["data"][1]["action"]["env"] == {"COLOUR": "red"}


# --- query parameters ------------------------------------------------------------------------


def paths(conversation) -> dict[str, tuple[str, str]]:
    base = f"/v1/conversations/{conversation.public_id}"
    item = Item.objects.filter(conversation=conversation).first().public_id
    return {
        "conversations.list": ("get", "/v1/conversations"),
        "conversations.create": ("post", "/v1/conversations"),
        "conversations.retrieve": ("get", base),
        "conversations.update": ("post", base),
        "conversations.delete": ("delete", base),
        "items.list": ("get", f"{base}/items"),
        "items.create": ("post", f"{base}/items"),
        "items.retrieve": ("get", f"{base}/items/{item}"),
        "items.delete": ("delete", f"{base}/items/{item}"),
    }


@pytest.mark.parametrize("call", [
    "conversations.list", "conversations.create", "conversations.retrieve", "conversations.update",
    "conversations.delete", "items.list", "items.create", "items.retrieve", "items.delete",
])
def test_an_unknown_query_parameter_is_refused_everywhere(api, project, call):
    conversation = make_conversation(project, items=[{"role": "user", "content": "hi"}])
    method, path = paths(conversation)[call]
    body = {"metadata": {}} if call == "conversations.update" else (
        {"items": [{"role": "user", "content": "x"}]} if method == "post" else None)
    before = row_counts()
    response = getattr(api, method)(f"{path}?limt=5", body, format="json")
    assert_unknown(response, "limt")
    assert row_counts() == before


@pytest.mark.parametrize("query", [
    "after={item}&include[]=reasoning.encrypted_content&include[]=message.output_text.logprobs&limit=5&order=asc",
    "include=reasoning.encrypted_content",
])
def test_the_sdks_item_list_parameters_are_accepted(api, project, query):
    conversation = make_conversation(project, items=[{"role": "user", "content": "a"},
                                                     {"role": "user", "content": "b"}])
    first = Item.objects.filter(conversation=conversation).order_by("position").first().public_id
    response = api.get(f"/v1/conversations/{conversation.public_id}/items?{query.format(item=first)}")
    assert response.status_code == 200, response.json()


def test_the_conversation_search_parameters_are_accepted(api, project):
    make_conversation(project, metadata={"topic": "demo"}, items=[{"role": "user", "content": "hello"}])
    query = ("metadata[topic]=demo&text=hello&created_after=2000-01-01T00:00:00Z&created_before=2999-01-01T00:00:00Z"
             "&limit=5&order=asc")
    response = api.get(f"/v1/conversations?{query}")
    assert response.status_code == 200, response.json()
    assert len(response.json()["data"]) == 1


def test_include_is_refused_where_nothing_can_be_included(api, project):
    conversation = make_conversation(project)
    assert_unknown(api.get(f"/v1/conversations/{conversation.public_id}?include[]=x"), "include[]")
