"""`{"type": "item_reference", "id": …}`: a copy of an item of the same project (spec §12)."""

import re

import pytest

from tests.factories import make_conversation
from tests.helpers import row_counts

REASONING = {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thought"}],
             "encrypted_content": "SECRET"}


def items_of(api, conversation_id: str, query: str = "") -> list[dict]:
    return api.get(f"/v1/conversations/{conversation_id}/items?order=asc&limit=100{query}").json()["data"]


@pytest.mark.parametrize("reference", [
    {"type": "item_reference", "id": "msg_source"},
    {"id": "msg_source"},  # `type` is optional in the SDKs' ItemReference
    {"type": None, "id": "msg_source"},
], ids=["typed", "untyped", "null-type"])
def test_items_create_appends_a_copy_of_an_item_of_another_conversation(api, project, reference):
    source = make_conversation(project, items=[{"id": "msg_source", "role": "user", "content": "hello"}])
    target = make_conversation(project)
    response = api.post(f"/v1/conversations/{target.public_id}/items", {"items": [reference]}, format="json")
    assert response.status_code == 200, response.json()
    copy = response.json()["data"][0]
    original = items_of(api, source.public_id)[0]
    assert re.fullmatch(r"msg_[0-9a-f]{48}", copy["id"])
    assert {**copy, "id": original["id"]} == original
    assert items_of(api, target.public_id) == [copy]
    assert items_of(api, source.public_id) == [original]


def test_a_reference_within_the_same_conversation_appends_a_copy_with_a_new_id(api, project):
    conversation = make_conversation(project, items=[REASONING])
    response = api.post(f"/v1/conversations/{conversation.public_id}/items?include[]=reasoning.encrypted_content",
                        {"items": [{"type": "item_reference", "id": "rs_1"}]}, format="json")
    assert response.status_code == 200, response.json()
    copy = response.json()["data"][0]
    assert copy["id"].startswith("rs_") and copy["id"] != "rs_1"
    # The copy is the whole stored item, fields that `include` hides included.
    assert copy["encrypted_content"] == "SECRET"
    stored = items_of(api, conversation.public_id, "&include[]=reasoning.encrypted_content")
    assert [item["id"] for item in stored] == ["rs_1", copy["id"]]


def test_conversations_create_resolves_references_in_order(api, project):
    make_conversation(project, items=[{"id": "msg_a", "role": "user", "content": "a"},
                                      {"id": "msg_b", "role": "assistant", "content": "b"}])
    items = [{"type": "item_reference", "id": "msg_b"}, {"role": "user", "content": "new"},
             {"type": "item_reference", "id": "msg_a"}]
    response = api.post("/v1/conversations", {"items": items}, format="json")
    assert response.status_code == 200, response.json()
    texts = [item["content"][0]["text"] for item in items_of(api, response.json()["id"])]
    assert texts == ["b", "new", "a"]


@pytest.mark.parametrize("where", ["missing", "other project"])
@pytest.mark.parametrize("endpoint", ["conversations.create", "items.create"])
def test_a_reference_to_no_item_of_this_project_is_a_400_naming_the_id(api, project, other_project, where,
                                                                       endpoint):
    make_conversation(other_project, items=[{"id": "msg_theirs", "role": "user", "content": "private"}])
    target = make_conversation(project)
    wanted = "msg_nowhere" if where == "missing" else "msg_theirs"
    items = [{"role": "user", "content": "fine"}, {"type": "item_reference", "id": wanted}]
    path = "/v1/conversations" if endpoint == "conversations.create" else f"/v1/conversations/{target.public_id}/items"
    before = row_counts()
    response = api.post(path, {"items": items}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", "items[1].id", "not_found")
    assert f"'{wanted}'" in error["message"]
    assert "private" not in error["message"]
    assert row_counts() == before


def test_an_id_used_in_several_conversations_resolves_to_the_one_being_appended_to(api, project):
    make_conversation(project, items=[{"id": "msg_same", "role": "user", "content": "elsewhere"}])
    target = make_conversation(project, items=[{"id": "msg_same", "role": "user", "content": "here"}])
    response = api.post(f"/v1/conversations/{target.public_id}/items",
                        {"items": [{"type": "item_reference", "id": "msg_same"}]}, format="json")
    assert response.json()["data"][0]["content"][0]["text"] == "here"


def test_an_id_used_in_several_other_conversations_is_ambiguous(api, project):
    for text in ("one", "two"):
        make_conversation(project, items=[{"id": "msg_same", "role": "user", "content": text}])
    target = make_conversation(project)
    before = row_counts()
    response = api.post(f"/v1/conversations/{target.public_id}/items",
                        {"items": [{"type": "item_reference", "id": "msg_same"}]}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "items[0].id" and "'msg_same'" in error["message"]
    assert row_counts() == before


@pytest.mark.parametrize(("reference", "param", "code"), [
    ({"type": "item_reference"}, "items[0].id", "missing_required_parameter"),
    ({"type": "item_reference", "id": 7}, "items[0].id", "invalid_type"),
    ({"type": "item_reference", "id": "msg_source", "colour": "red"}, "items[0].colour", "unknown_parameter"),
])
def test_a_malformed_reference_is_refused(api, project, reference, param, code):
    make_conversation(project, items=[{"id": "msg_source", "role": "user", "content": "hello"}])
    before = row_counts()
    response = api.post("/v1/conversations", {"items": [reference]}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code)
    assert row_counts() == before
