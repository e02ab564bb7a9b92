import re

import pytest

from conversations.models import AuditEvent, Conversation, Item
from tests.factories import append_messages, make_conversation
from tests.helpers import item_url, items_url


def messages(*texts):
    return [{"role": "user", "content": text} for text in texts]


def test_it_returns_the_new_items_in_input_order(api, project):
    conversation = make_conversation(project)
    response = api.post(items_url(conversation), {"items": messages("one", "two", "three")}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert [item["content"] for item in body["data"]] == [
        [{"type": "input_text", "text": text}] for text in ("one", "two", "three")
    ]
    assert body["object"] == "list"
    assert body["first_id"] == body["data"][0]["id"]
    assert body["last_id"] == body["data"][2]["id"]
    assert body["has_more"] is False


def test_it_fills_id_type_and_status(api, project):
    conversation = make_conversation(project)
    item = api.post(items_url(conversation), {"items": messages("hi")}, format="json").json()["data"][0]
    assert item == {
        "id": item["id"],
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_text", "text": "hi"}],
    }
    assert re.fullmatch(r"msg_[0-9a-f]{48}", item["id"])


def test_it_appends_after_the_existing_items(api, project):
    conversation = make_conversation(project)
    existing = append_messages(conversation, 2)
    new_ids = [item["id"] for item in api.post(items_url(conversation), {"items": messages("a", "b")}, format="json")
               .json()["data"]]
    stored = list(Item.objects.filter(conversation=conversation).order_by("position"))
    assert [item.public_id for item in stored] == [existing[0].public_id, existing[1].public_id, *new_ids]
    assert [item.position for item in stored] == [0, 1, 2, 3]


def test_the_response_holds_only_the_new_items(api, project):
    conversation = make_conversation(project)
    append_messages(conversation, 3)
    body = api.post(items_url(conversation), {"items": messages("new")}, format="json").json()
    assert len(body["data"]) == 1
    assert body["first_id"] == body["last_id"] == body["data"][0]["id"]


def test_it_keeps_a_client_supplied_id(api, project):
    conversation = make_conversation(project)
    item = {"type": "message", "id": "msg_client_1", "role": "user", "content": "hi"}
    body = api.post(items_url(conversation), {"items": [item]}, format="json").json()
    assert body["data"][0]["id"] == "msg_client_1"
    assert Item.objects.get(conversation=conversation).public_id == "msg_client_1"


def test_the_same_client_id_may_be_used_in_another_conversation(api, project):
    first, second = make_conversation(project), make_conversation(project)
    item = {"type": "message", "id": "msg_shared", "role": "user", "content": "hi"}
    for conversation in (first, second):
        response = api.post(items_url(conversation), {"items": [item]}, format="json")
        assert response.status_code == 200
        assert response.json()["data"][0]["id"] == "msg_shared"
    for conversation in (first, second):
        read = api.get(item_url(conversation, "msg_shared")).json()
        assert (read["id"], read["content"]) == ("msg_shared", [{"type": "input_text", "text": "hi"}])
    assert Item.objects.filter(public_id="msg_shared").count() == 2


def test_it_rejects_a_client_id_already_used_in_the_conversation_with_400_not_409(api, project):
    conversation = make_conversation(project, items=[{"type": "message", "id": "msg_x", "role": "user",
                                                      "content": "a"}])
    items = messages("fine") + [{"type": "message", "id": "msg_x", "role": "user", "content": "b"}]
    response = api.post(items_url(conversation), {"items": items}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", "items[1].id", "duplicate_id")
    assert "msg_x" in error["message"]
    assert Item.objects.filter(conversation=conversation).count() == 1


def test_it_rejects_the_same_client_id_twice_in_one_batch(api, project):
    conversation = make_conversation(project)
    item = {"type": "message", "id": "msg_twice", "role": "user", "content": "a"}
    response = api.post(items_url(conversation), {"items": [item, item]}, format="json")
    assert response.status_code == 400
    assert (response.json()["error"]["param"], response.json()["error"]["code"]) == ("items[1].id", "duplicate_id")
    assert Item.objects.filter(conversation=conversation).count() == 0


def test_a_deleted_items_id_can_be_used_again(api, project):
    conversation = make_conversation(project, items=[{"type": "message", "id": "msg_x", "role": "user",
                                                      "content": "a"}])
    api.delete(item_url(conversation, "msg_x"))
    item = {"type": "message", "id": "msg_x", "role": "user", "content": "again"}
    response = api.post(items_url(conversation), {"items": [item]}, format="json")
    assert response.status_code == 200
    assert Item.objects.get(conversation=conversation).position == 1


@pytest.mark.parametrize("bad_id", ["has space", "a/b", "x" * 129, "", ".", ".."],
                         ids=["space", "slash", "129-chars", "empty", "dot", "dot-dot"])
def test_it_rejects_a_client_id_that_is_not_url_safe(api, project, bad_id):
    """Ids become path segments (/items/{id}): no separators, no dot segments, at most 128 characters."""
    conversation = make_conversation(project)
    item = {"type": "message", "id": bad_id, "role": "user", "content": "a"}
    response = api.post(items_url(conversation), {"items": [item]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "items[0].id"
    assert Item.objects.count() == 0


def test_it_rejects_an_empty_list(api, project):
    conversation = make_conversation(project)
    response = api.post(items_url(conversation), {"items": []}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", "items", "empty_array")
    assert not AuditEvent.objects.filter(action="items.create").exists()


def test_it_rejects_a_body_without_items(api, project):
    conversation = make_conversation(project)
    response = api.post(items_url(conversation), {}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("items", "missing_required_parameter")


def test_it_rejects_null_items(api, project):
    conversation = make_conversation(project)
    response = api.post(items_url(conversation), {"items": None}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "items"
    assert Item.objects.count() == 0


def test_it_writes_nothing_when_one_item_of_the_batch_is_bad(api, project):
    conversation = make_conversation(project)
    items = messages("fine", "also fine") + [{"role": "user", "content": 42}]
    response = api.post(items_url(conversation), {"items": items}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "items[2].content"
    assert Item.objects.count() == 0
    conversation.refresh_from_db()
    assert (conversation.next_position, conversation.item_count) == (0, 0)


@pytest.mark.parametrize("name", ["include[]", "include"])
def test_it_accepts_include_values_from_the_query_string_in_both_spellings(api, project, name):
    conversation = make_conversation(project)
    query = {name: ["message.output_text.logprobs", "reasoning.encrypted_content"]}
    response = api.post(items_url(conversation, **query), {"items": messages("hi")}, format="json")
    assert response.status_code == 200
    assert Item.objects.filter(conversation=conversation).count() == 1


@pytest.mark.parametrize("name", ["include[]", "include"])
def test_it_rejects_an_unknown_include_value_and_writes_nothing(api, project, name):
    conversation = make_conversation(project)
    query = {name: ["message.output_text.logprobs", "message.secret"]}
    response = api.post(items_url(conversation, **query), {"items": messages("hi")}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("include", "invalid_value")
    assert "message.secret" in error["message"]
    assert Item.objects.count() == 0


def test_include_in_the_body_is_refused_as_unknown(api, project):
    """`include` is a query parameter; in the body it is unknown (spec §12)."""
    conversation = make_conversation(project)
    body = {"items": messages("hi"), "include": ["reasoning.encrypted_content"]}
    response = api.post(items_url(conversation), body, format="json")
    assert response.status_code == 400
    assert (response.json()["error"]["param"], response.json()["error"]["code"]) == ("include", "unknown_parameter")
    assert Item.objects.count() == 0


def test_it_audits_the_new_item_ids(api, project, api_key):
    conversation = make_conversation(project)
    body = api.post(items_url(conversation), {"items": messages("a", "b")}, format="json").json()
    event = AuditEvent.objects.get(action="items.create", conversation_id=conversation.public_id)
    assert event.item_ids == [item["id"] for item in body["data"]]
    assert event.actor_api_key == api_key[0]


def test_it_answers_404_for_an_unknown_conversation(api, project):
    response = api.post("/v1/conversations/conv_missing/items", {"items": messages("hi")}, format="json")
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("conversation_id", "not_found")
    assert Item.objects.count() == 0
    assert Conversation.objects.count() == 0
